"""Validation by incidence point: showers that enter across the calorimeter, judged in bins of
where they entered. A Geant4 sample whose showers are paired with the wrong incidence points
(shuffled) must be caught there, and two Geant4 samples must not be."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastshower.evaluate import position
from fastshower.evaluate.report import evaluate
from fastshower.io import write_showers

pytestmark = pytest.mark.geant4


def test_report_by_incidence_point(
    off_centre_positrons: tuple[dict, dict], positrons: tuple[dict, dict], tmp_path: Path
) -> None:
    reference, other = off_centre_positrons
    shuffled = dict(other)
    shuffled["position"] = other["position"][np.random.default_rng(0).permutation(len(other["energy"]))]
    paths = {
        name: write_showers(tmp_path / f"{name}.h5", arrays, {"seed": 1})
        for name, arrays in (("reference", reference), ("geant4", other), ("shuffled", shuffled))
    }
    report = evaluate(
        paths["reference"],
        [paths["geant4"], paths["shuffled"]],
        tmp_path / "report",
        learning_curve_sizes=(),
    )
    metrics = json.loads((report.parent / "metrics.json").read_text())
    edges = metrics["position_bins_mm"]
    assert len(edges["x"]) == position.POSITION_BINS + 1
    assert -50 <= edges["x"][0] < -45 and 45 < edges["x"][-1] <= 50
    floor, wrong = (c["by_position"] for c in metrics["candidates"])

    # the classifier, which sees the incidence point, separates misplaced showers in every bin
    wrong_aucs = [b["auc"] for b in wrong["aucs"]["unnormalized"]["x"]]
    floor_aucs = [b["auc"] for b in floor["aucs"]["unnormalized"]["x"]]
    assert min(wrong_aucs) > 0.7 and np.mean(floor_aucs) < 0.62
    bins = floor["aucs"]["high_level"]["y"]
    assert sum(b["n_reference"] + b["n_candidate"] for b in bins) == 0.2 * 2 * 600  # every one
    # layer 0's fine strips run along y: its y centroid follows the particle in Geant4 only
    centroid = "centroid_y_layer_0"
    assert floor["profiles"]["y"][centroid]["chi2_per_bin"] < 3
    assert wrong["profiles"]["y"][centroid]["chi2_per_bin"] > 10
    html = report.read_text()
    assert "By incidence point in numbers" in html and "Against the incidence point" in html
    for name in ("profiles-vs-incidence-x", "profiles-vs-incidence-y", "classifier-by-incidence"):
        assert any(f.name.startswith(name) for f in (report.parent / "figures").iterdir())

    # showers at the centre get no position section
    assert not position.spreads(positrons[0]["position"])
    assert position.spreads(reference["position"])
