"""Validation by incidence point: showers that enter across the calorimeter, judged in bins of
where they entered. A Geant4 sample whose showers are paired with the wrong incidence points
(shuffled) must be caught there, and two Geant4 samples must not be."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastshower.evaluate import position
from fastshower.evaluate.classifier import ClassifierConfig
from fastshower.evaluate.report import evaluate
from fastshower.io import write_showers

pytestmark = pytest.mark.geant4


def test_report_by_incidence_point(
    off_centre_positrons: tuple[dict, dict], positrons: tuple[dict, dict], tmp_path: Path
) -> None:
    reference, other = off_centre_positrons
    shuffled = dict(other)
    order = np.random.default_rng(0).permutation(len(other["energy"]))
    shuffled["position"] = other["position"][order]
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

    # showers at the centre get no position section, and against spread ones a warning
    assert not position.spreads(positrons[0]["position"])
    assert position.spreads(reference["position"])
    centre = write_showers(tmp_path / "centre.h5", positrons[0], {"seed": 1})
    with pytest.warns(UserWarning, match=r"centre.h5: incidence points x 0 to 0 mm, y 0 to 0"):
        fast = ClassifierConfig(epochs=1, trees=False)
        evaluate(
            paths["reference"], [centre], tmp_path / "centre", config=fast, learning_curve_sizes=()
        )


def test_a_flow_learns_where_showers_enter(
    off_centre_positrons: tuple[dict, dict], tmp_path: Path
) -> None:
    """A small calo-flow trained on off-centre positrons records where they entered, generates
    there and refuses beyond; with its latent vector fixed, its layer-1 centroid follows the
    incidence point across the cell boundaries at x = 0 and +-40 mm (``fastshower scan``)."""
    from click.testing import CliRunner

    from fastshower.cli import main
    from fastshower.generate import position_scan
    from fastshower.modelfile import load_model
    from fastshower.observables.calo import shower_observables

    data = write_showers(tmp_path / "e.h5", off_centre_positrons[0], {"seed": 3})
    train = ["train", "calo-flow", "--data", str(data), "--out", str(tmp_path / "m")]
    tiny = ["--epochs", "8", "--batch-size", "32", "--lr", "2e-3", "--transforms", "2"]
    tiny += ["--hidden", "32", "--coupling", "dense", "--layer-energies", "log"]
    tiny += ["--no-layer-hits", "--no-layer-peaks", "--no-progress"]
    done = CliRunner().invoke(main, [*train, *tiny])
    assert done.exit_code == 0, done.output
    model = tmp_path / "m" / "last"
    (x_range, y_range) = load_model(model).provenance["position_range_mm"]
    assert -50 <= x_range[0] < -48 and 48 < y_range[1] <= 50

    points = np.c_[np.linspace(-45, 45, 7), np.zeros(7)]
    scan = position_scan(model, "e+", 2.0, points, seed=0)
    np.testing.assert_array_equal(scan["position"], points.astype(np.float32))
    centroid = shower_observables(scan)["centroid_x_layer_1"]
    assert np.corrcoef(centroid, points[:, 0])[0, 1] > 0.9, centroid

    scan_args = ["scan", "--model", str(model), "--particle", "e+", "--energy", "2"]
    done = CliRunner().invoke(main, [*scan_args, "--out", str(tmp_path / "scan.png")])
    assert done.exit_code == 0 and (tmp_path / "scan.png").stat().st_size > 10_000, done.output
    done = CliRunner().invoke(
        main, [*scan_args, "--from=-100,0", "--out", str(tmp_path / "far.png")]
    )
    assert done.exit_code == 2 and "learnt incidence points x -49.9 to 50 mm" in done.output
    assert not (tmp_path / "far.png").exists()
