"""The W/QCD taggers of the jet report, on real Pythia jets."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.evaluate.tagger import TAGGERS, TaggerConfig, compare_taggers
from fastshower.observables.jets import image_observables

pytestmark = pytest.mark.pythia

FAST = TaggerConfig(epochs=15, patience=5, batch_size=20)


@pytest.fixture(scope="module")
def pythia(pythia_jets: tuple[dict, dict]) -> tuple[dict, dict]:
    """60 W and 60 QCD jets in one sample, and their image observables."""
    arrays = {k: np.concatenate([s[k] for s in pythia_jets]) for k in ("image", "signal")}
    return arrays, image_observables(arrays["image"])


def test_taggers_tell_w_from_qcd_and_see_swapped_classes(pythia: tuple[dict, dict]) -> None:
    """Trained and tested on Pythia, both taggers separate W from QCD; a 'generator' that
    makes W jets when asked for QCD (the same jets, classes swapped) is caught from both
    sides: the Pythia-trained tagger ranks its jets backwards, and one trained on it tags
    Pythia backwards."""
    arrays, observables = pythia
    swapped = {**arrays, "signal": 1 - arrays["signal"]}
    results = compare_taggers(arrays, swapped, (observables, observables), FAST)
    assert [(r.features, r.trained_on) for r in results] == [
        (f, s) for f in TAGGERS for s in ("reference", "candidate")
    ]
    for r in results:
        assert r.n_train_per_class == r.n_test_per_class == 30
        if r.trained_on == "reference":
            assert r.auc["reference"][0] > 0.75, r
            assert r.auc["candidate"][0] < 0.25, r
        else:
            assert set(r.auc) == {"reference"} and r.auc["reference"][0] < 0.25, r
        w_eff, qcd_eff = r.roc["reference"]
        assert w_eff[0] == qcd_eff[0] == 0.0 and w_eff[-1] == qcd_eff[-1] == 1.0


def test_taggers_need_both_classes(pythia: tuple[dict, dict]) -> None:
    arrays, observables = pythia
    w_only = {k: v[arrays["signal"] == 1] for k, v in arrays.items()}
    w_obs = {k: v[arrays["signal"] == 1] for k, v in observables.items()}
    with pytest.raises(ValueError, match="candidate holds 60 W and 0 QCD jets"):
        compare_taggers(arrays, w_only, (observables, w_obs), FAST)
