"""The shipped models give the same samples for the same seed as before the family contract
(``tests/data/shipped_samples.json``: each event's sum of every array, recorded with the
per-family samplers that the contract replaced; LAGAN's recorded again when its model file was
replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastshower.generate import GenerateJob
from fastshower.pretrained import available, resolve_model

RECORDED = json.loads((Path(__file__).parent / "data" / "shipped_samples.json").read_text())


def condition(name: str) -> dict:
    if name == "lagan":
        return {"class": "both"}
    return {"particle": "pi+" if name == "calo-flow" else "e+", "energy_gev": [1.0, 100.0]}


@pytest.mark.parametrize("name", sorted(RECORDED["sums_per_event"]))
def test_same_seed_same_sample(name: str) -> None:
    assert name in available()
    job = GenerateJob(str(resolve_model(name)), condition(name), batch_size=RECORDED["batch_size"])
    arrays = job.run_chunk(RECORDED["events"], RECORDED["seed"])
    recorded = RECORDED["sums_per_event"][name]
    assert set(arrays) == set(recorded)
    for key, values in arrays.items():
        sums = np.asarray(values, np.float64).reshape(len(values), -1).sum(axis=1)
        np.testing.assert_allclose(sums, recorded[key], rtol=1e-5, atol=1e-6, err_msg=key)
