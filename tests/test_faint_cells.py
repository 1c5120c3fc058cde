"""The faint-cell map (``fastshower.models.faint_cells``) on real Geant4 showers: fitted on
deliberately distorted showers against undistorted ones, it brings the faint cells of held-out
distorted showers back, and touches nothing else; ``fastshower calibrate`` writes a shower flow
that uses one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fastshower.cli import main
from fastshower.detector import CALORIMETER
from fastshower.io import read_showers
from fastshower.models.faint_cells import LOWEST_MEV, FaintCellMap

THRESHOLD_MEV = 1.0


def faint_logs(cells: np.ndarray) -> np.ndarray:
    flat = np.asarray(cells, np.float64).reshape(-1)
    return np.log(flat[(flat > 0) & (flat < THRESHOLD_MEV)])


def distort(cells: np.ndarray) -> np.ndarray:
    """Faint cells ten times too faint in a layer of the right energy: what a flow's blurred
    edge does, exaggerated."""
    bad = np.where(cells < THRESHOLD_MEV, cells * 0.1, cells)
    total, bad_total = cells.sum(1, keepdims=True), bad.sum(1, keepdims=True)
    return (
        bad * np.divide(total, bad_total, out=np.zeros_like(total), where=bad_total > 0)
    ).astype(np.float32)


def test_map_brings_distorted_faint_cells_back_on_held_out_showers(
    shower_files: list[Path],
) -> None:
    showers = read_showers(shower_files[0]).arrays  # 48 positrons
    layers = [showers[layer.key].reshape(48, -1) for layer in CALORIMETER.layers]
    fit, truth, held_out = slice(0, 16), slice(16, 32), slice(32, 48)
    faint = FaintCellMap(n_particles=1, n_layers=3, threshold_mev=THRESHOLD_MEV)
    particle = torch.zeros(16, dtype=torch.int64)
    for i, cells in enumerate(layers):  # an unfitted map changes nothing above its first knot
        same = faint(torch.from_numpy(cells[held_out]), i, particle).numpy()
        np.testing.assert_allclose(same, cells[held_out], rtol=1e-4, atol=LOWEST_MEV)
    faint.fit([distort(c[fit]) for c in layers], [c[truth] for c in layers], particle=0)
    for i, cells in enumerate(layers):
        bad = distort(cells[held_out])
        mapped = faint(torch.from_numpy(bad), i, particle).numpy()
        want, was = np.median(faint_logs(cells[held_out])), np.median(faint_logs(bad))
        assert abs(was - want) > 1.0  # the faint cells moved, the layer energy kept
        assert abs(np.median(faint_logs(mapped)) - want) < 0.5
        # zeros stay zeros, the layer keeps its energy and its bright cells their proportions,
        # no two cells change places
        assert ((mapped == 0) == (bad == 0)).all()
        np.testing.assert_allclose(mapped.sum(1), bad.sum(1), rtol=1e-4)
        for row_bad, row in zip(bad, mapped, strict=True):
            bright = row_bad >= THRESHOLD_MEV
            ratio = row[bright] / row_bad[bright]
            np.testing.assert_allclose(ratio, ratio[:1].repeat(len(ratio)), rtol=1e-5)
            hit = row_bad > 0
            in_order = row[hit][np.argsort(row_bad[hit])]
            assert (np.diff(in_order) >= -1e-6 * in_order[1:]).all()


def test_calibrate_writes_a_flow_whose_faint_cells_are_geant4s(
    shower_files: list[Path], tmp_path: Path
) -> None:
    """The shipped calo-flow's 2-5 GeV positrons, calibrated on the same small Geant4 sample:
    their faint cells' median moves to Geant4's; the model file says what it was fitted on."""
    from fastshower.generate import GenerateJob
    from fastshower.modelfile import load_model
    from fastshower.pretrained import resolve_model

    runner = CliRunner()
    out = tmp_path / "calibrated"
    data = [arg for f in shower_files for arg in ("--data", str(f))]
    done = runner.invoke(main, ["calibrate", "--model", "calo-flow", *data, "--out", str(out)])
    assert done.exit_code == 0, done.output
    model = load_model(out)
    assert model.config["faint_mev"] == 1.0
    assert set(model.provenance["faint_cells"]["fitted_on"]) == {"e+.h5", "pi+.h5"}

    geant4 = read_showers(shower_files[0]).arrays
    condition = {"particle": "e+", "energy_gev": [2.0, 5.0]}
    medians = {}
    for name, folder in (("before", resolve_model("calo-flow")), ("after", out)):
        sample = GenerateJob(str(folder), condition).run_chunk(200, seed=3)
        medians[name] = np.median(faint_logs(sample["layer_0"]))
    want = np.median(faint_logs(geant4["layer_0"]))
    assert abs(medians["after"] - want) < abs(medians["before"] - want)

    not_a_flow = runner.invoke(main, ["calibrate", "--model", "lagan", *data, "--out", str(out)])
    assert not_a_flow.exit_code == 2 and "faint-cell map" in not_a_flow.output
    assert "Traceback" not in not_a_flow.output


@pytest.mark.parametrize("threshold", [0.0, -1.0])
def test_calibrate_refuses_a_threshold_that_maps_nothing(
    shower_files: list[Path], tmp_path: Path, threshold: float
) -> None:
    args = ["calibrate", "--model", "calo-flow", "--data", str(shower_files[0])]
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "m"), "--faint-mev", threshold])
    assert bad.exit_code == 2 and "--faint-mev" in bad.output
    assert not (tmp_path / "m").exists()
