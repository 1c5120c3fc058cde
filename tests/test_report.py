"""The evaluation report on small real Geant4 samples: the page, metrics.json and bad input.

Two samples of 120 2-GeV positron showers (seeds 1 and 2) and a bad candidate made from the
second (cells times 1.5, incident energy 2.5 GeV) go through ``evaluate`` once, with a tiny
classifier; the command line is checked on bad input, each refused before anything is computed.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fastshower.cli import main
from fastshower.evaluate.classifier import MIN_EVENTS, ClassifierConfig
from fastshower.evaluate.report import evaluate
from fastshower.io import JET_SCHEMA, write_dataset, write_showers
from fastshower.observables.jets import IMAGE_GRID

pytestmark = pytest.mark.geant4
N_SHOWERS = 120
FAST = ClassifierConfig(hidden=(32,), epochs=3, batch_size=32, learning_rate=1e-3)
PNG_URI = "data:image/png;base64,"
N_FIGURES = 7  # average showers, 3 observable grids, profiles, 2 classifier variants
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory, positrons: tuple[dict, dict]
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    first, second = ({k: v[:N_SHOWERS] for k, v in sample.items()} for sample in positrons)
    bad = dict(second)
    for key in ("layer_0", "layer_1", "layer_2"):
        bad[key] = second[key] * 1.5
    bad["energy"] = np.full_like(second["energy"], 2.5)
    few = {key: value[: MIN_EVENTS // 5] for key, value in first.items()}
    return {
        "reference": write_showers(folder / "g4-seed1.h5", first, {"seed": 1}),
        "good": write_showers(folder / "g4-seed2.h5", second, {"seed": 2, "generator": "Geant4"}),
        "bad": write_showers(folder / "bad.h5", bad, {"seed": 2, "model": "cells x 1.5"}),
        "few": write_showers(folder / "few.h5", few, {"seed": 1}),
        "jets": write_dataset(folder / "jets.h5", synthetic_jets(10), JET_SCHEMA, {"seed": 0}),
    }


def synthetic_jets(n: int) -> dict[str, np.ndarray]:
    """Valid jet-image arrays of random numbers (no Pythia): only for refusals."""
    rng = np.random.default_rng(0)
    scalar = {k: rng.uniform(0.1, 1.0, n).astype(np.float32) for k in JET_SCHEMA.keys}
    scalar["signal"] = (np.arange(n) % 2).astype(np.float32)
    scalar["image"] = rng.exponential(1.0, (n, IMAGE_GRID.n, IMAGE_GRID.n)).astype(np.float32)
    return scalar


@pytest.fixture(scope="module")
def report(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One evaluation of two candidates at once; the bad one is 25% off in incident energy."""
    out = tmp_path_factory.mktemp("report") / "report"
    with pytest.warns(UserWarning, match=r"bad.h5: incident energies 2.5-2.5 GeV differ"):
        path = evaluate(files["reference"], [files["good"], files["bad"]], out, config=FAST)
    assert path == out / "report.html"
    return path


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert "<h2>Summary</h2>" in page and "<table>" in page
    assert page.count(PNG_URI) >= N_FIGURES
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) >= N_FIGURES
    assert all(s.startswith(PNG_URI) for s in sources), "an image points to a file"
    assert "<script" not in page and "<link" not in page and "url(" not in page
    for source in sources:
        assert base64.b64decode(source[len(PNG_URI) :]).startswith(b"\x89PNG\r\n\x1a\n")
    summary = page[page.index("<h2>Summary</h2>") : page.index("<h2>Average showers</h2>")]
    for name in ("g4-seed1.h5 (reference)", "g4-seed2.h5", "bad.h5", "model: cells x 1.5"):
        assert name in summary
    assert summary.count("(simulation: the floor)") == 1  # Geant4's second sample, not the model


def test_metrics_json(report: Path, files: dict[str, Path]) -> None:
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert metrics["schema"] == "showers"
    assert metrics["reference"]["path"] == str(files["reference"])
    assert metrics["reference"]["n_events_used"] == N_SHOWERS
    assert metrics["classifier_config"]["epochs"] == FAST.epochs
    candidates = metrics["candidates"]
    assert [c["path"] for c in candidates] == [str(files["good"]), str(files["bad"])]
    assert len({c["colour"] for c in candidates}) == 2
    for candidate in candidates:
        assert candidate["n_events_used"] == N_SHOWERS
        assert candidate["provenance"]["seed"] == 2
        assert set(candidate["classifier"]) == {"unnormalized", "normalized", "high_level"}
        for result in candidate["classifier"].values():
            assert 0.0 <= result["auc"] <= 1.0
            assert 0.0 <= result["auc_uncertainty"] < 0.2
            assert result["network"]["n_test"] == round(0.2 * 2 * N_SHOWERS)
            assert result["trees"]["n_test"] == round(0.2 * 2 * N_SHOWERS)
            assert result["verdict"] in ("network", "boosted trees")
            # the curve's sizes below the sample's (none here), then every event
            assert [p["n_per_class"] for p in result["learning_curve"]] == [N_SHOWERS]
        distances = candidate["distances"]["all"]
        assert distances["frechet"]["value"] >= 0 and distances["frechet"]["uncertainty"] > 0
        assert distances["fpd"]["value"] >= 0 and distances["kpd"]["uncertainty"] > 0
        # a fixed-energy reference at the centre: its conditions cannot be standardised
        assert distances["excluded_constant"] == ["incident_energy", "incidence_x", "incidence_y"]
        assert "total_energy" in distances["wasserstein_1"]
    assert [c["simulation"] for c in candidates] == [True, False]
    good, bad = (c["classifier"]["unnormalized"]["auc"] for c in candidates)
    assert bad > 0.9 > good  # the incident energy alone tells the bad candidate apart
    w1 = [c["distances"]["all"]["wasserstein_1"]["total_energy"]["value"] for c in candidates]
    assert w1[1] > 10 * w1[0]
    good_fpd, bad_fpd = (c["distances"]["all"]["fpd"] for c in candidates)
    assert bad_fpd["value"] > good_fpd["value"] + 3 * bad_fpd["uncertainty"]


def test_reference_pooled_from_several_files(files: dict[str, Path], tmp_path: Path) -> None:
    """Two reference files are one sample (a file too small alone counts with the others);
    metrics.json lists both files and their provenances."""
    out = tmp_path / "pooled"
    evaluate([files["few"], files["reference"]], [files["good"]], out, config=FAST)
    reference = json.loads((out / "metrics.json").read_text())["reference"]
    assert reference["n_events_used"] == MIN_EVENTS // 5 + N_SHOWERS
    assert reference["path"] == f"{files['few']} + {files['reference']}"
    assert [p["seed"] for p in reference["provenance"]] == [1, 1]
    assert "few.h5 + g4-seed1.h5 (reference)" in (out / "report.html").read_text()
    with pytest.raises(ValueError, match=rf"few.h5 holds 20 events; .* at least {MIN_EVENTS}"):
        evaluate([files["few"]], [files["good"]], out, config=FAST)


def test_cli_passes_options(files: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    """The command is a thin wrapper: every option reaches ``evaluate``."""
    calls = []

    def fake(reference, candidates, out, **kw):
        calls.append((reference, candidates, out, kw))
        return out / "report.html"

    monkeypatch.setattr("fastshower.evaluate.report.evaluate", fake)
    args = [
        "evaluate",
        "--reference",
        str(files["reference"]),
        "--candidate",
        str(files["good"]),
        "--candidate",
        str(files["bad"]),
        "--out",
        str(tmp_path / "r"),
        "--epochs",
        "7",
        "--max-events",
        "150",
        "--seed",
        "3",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    ((reference, candidates, out, kw),) = calls
    assert reference == [files["reference"]] and candidates == [files["good"], files["bad"]]
    assert out == tmp_path / "r"
    assert kw["config"].epochs == 7 and kw["max_events"] == 150 and kw["seed"] == 3


def fastshower(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastshower.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.mark.parametrize(
    ("reference", "candidate", "message"),
    [
        ("reference", "missing.h5", r"missing.h5: no such file"),
        ("reference", "jets", r"jets.h5 holds 'jet_images' data but the reference .*g4-seed1.h5"),
        (
            "few",
            "good",
            rf"few.h5 holds 20 events; the classifier test needs at least {MIN_EVENTS}",
        ),
    ],
    ids=["missing-file", "jets-against-showers", "too-few-events"],
)
def test_cli_refuses_bad_input(
    files: dict[str, Path], tmp_path: Path, reference: str, candidate: str, message: str
) -> None:
    """Exit code 2, one 'Error:' line naming the file, no traceback, nothing written."""
    path = {k: str(v) for k, v in files.items()}.get
    out = tmp_path / "report"
    result = fastshower(
        "evaluate",
        "--reference",
        path(reference, reference),
        "--candidate",
        path(candidate, candidate),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_energy_range_warning_is_about_the_spectrum_not_its_sampling() -> None:
    """Two samples of 100 showers uniform in 1-100 GeV: their lowest energies differ by about
    1 GeV, which is sampling, not a mismatch; a sample that stops at 80 GeV is one."""
    import warnings

    from fastshower.evaluate.report import _check_energy_ranges
    from fastshower.evaluate.report_model import Sample

    def sample(lo: float, hi: float, seed: int) -> Sample:
        energy = np.random.default_rng(seed).uniform(lo, hi, (100, 1))
        return Sample((Path(f"{lo}-{hi}.h5"),), "x", "k", 100, {"energy": energy}, ({},))

    reference = sample(1.0, 100.0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_energy_ranges(reference, [sample(1.0, 100.0, seed) for seed in range(1, 20)])
    with pytest.warns(UserWarning, match=r"1.0-80.0.h5: incident energies .*\(10% of its range"):
        _check_energy_ranges(reference, [sample(1.0, 80.0, 1)])
