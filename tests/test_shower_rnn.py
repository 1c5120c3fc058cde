"""The shower RNN on real Geant4 showers: its hit lists give the cells back, layer by layer and
hottest first; a sampled shower has exactly the hits and layer energies its summary flow drew
and a finite likelihood; training raises the likelihood and generates the particle asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fastshower.io import read_showers
from fastshower.models.autoregressive import invert_flow
from fastshower.models.shower_rnn import ShowerRNNGenerator

_LAYER_SIZES = (288, 144, 72)


def _tensors(showers: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(cells (N, 504) MeV, condition (N, 4)) of a shower sample."""
    n = len(showers["energy"])
    cells = np.concatenate([showers[f"layer_{i}"].reshape(n, -1) for i in range(3)], 1)
    condition = np.zeros((n, 4), np.float32)
    condition[:, 0] = showers["energy"][:, 0]
    condition[:, 1] = showers["particle"]
    condition[:, 2:] = showers["position"]
    return torch.from_numpy(cells).float(), torch.from_numpy(condition)


def test_hit_lists_give_each_layer_s_cells_back_hottest_first(
    positrons: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    cells, condition = _tensors(positrons[0])
    model = ShowerRNNGenerator(particles=["e+"], width=16)
    model.space.fit(cells, condition)
    tokens = model.space.encode(cells, condition, torch.Generator().manual_seed(1))
    hit = cells >= model.space.noise_mev
    counts = torch.stack([h.sum(1) for h in hit.split(_LAYER_SIZES, 1)], 1)
    assert (tokens.counts == counts).all() and tokens.cells.shape[1] == int(counts.sum(1).max())
    live = torch.arange(tokens.cells.shape[1]) < counts.sum(1, keepdim=True)
    assert (tokens.cells[~live] == 504).all()
    # layer by layer (never back to an earlier one)
    layer = model.space.cell_layer[tokens.cells.clamp_max(503)]
    assert ((layer.diff(dim=1) >= 0) | ~live[:, 1:]).all()
    # what each layer has left before each hit: the hits' energies are its differences, and
    # give the cells back, hottest first in each layer
    left = torch.where(live, tokens.left.double().exp(), 0.0)
    same_layer = torch.cat([(layer[:, 1:] == layer[:, :-1]) & live[:, 1:], live[:, :1] * 0], 1)
    after = torch.cat([left[:, 1:], left[:, :1] * 0], 1) * same_layer
    energy = (left - after) * condition[:, :1].double() * 1000
    back = torch.zeros(len(cells), 505, dtype=torch.float64).scatter_add(1, tokens.cells, energy)
    np.testing.assert_allclose(back[:, :504], cells.double() * hit, rtol=1e-4, atol=1e-9)
    assert ((energy.diff(dim=1) <= 1e-9) | ~same_layer[:, :-1]).all()
    # a drawn hit's bin holds its share of what its layer had left, within the bounds
    drawn = (tokens.bins > 0) | (tokens.high > 0)
    assert drawn.sum() > 0.9 * (live.sum() - 2 * (counts > 1).sum() - (counts == 1).sum())
    assert ((tokens.low <= tokens.bins) & (tokens.bins <= tokens.high))[drawn].all()
    f = (left - after) / left.clamp_min(1e-300)
    centre = model.space.log_f(tokens.bins, torch.full(f.shape, 0.5, dtype=torch.float64))
    assert float((centre - f.clamp_min(1e-300).log()).abs()[drawn].max()) <= (
        model.space.bin_width / 2 + 1e-4  # (left is float32)
    )
    # the summaries the hits are written towards: the counts, each layer's energy and hottest
    shares, rests, told = model.space.targets(tokens.summary, condition)
    assert (told == counts).all()
    layers = torch.stack([c.sum(1) for c in cells.split(_LAYER_SIZES, 1)], 1)
    hottest = torch.stack([c.max(1).values for c in cells.split(_LAYER_SIZES, 1)], 1)
    e = condition[:, :1] * 1000
    np.testing.assert_allclose(shares * e, layers, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose((shares - rests) * e, hottest, rtol=1e-3, atol=1e-3)


def test_a_cell_s_place_against_the_hottest_is_its_row_and_column_offsets() -> None:
    """The index the network reads for cell a against its layer's hottest b depends only on
    their row and column offsets: the same wherever the pair sits, different for different
    offsets, never shared by two layers; cells of different layers, or no cell, have none."""
    model = ShowerRNNGenerator(particles=["e+"], width=8)
    offsets, none = model.offsets, model.no_offset
    starts, shapes = (0, 288, 432), ((3, 96), (12, 12), (12, 6))
    seen: set[int] = set()
    for start, (rows, columns) in zip(starts, shapes, strict=True):
        size = rows * columns
        block = offsets[start : start + size, start : start + size]
        row, column = torch.arange(size) // columns, torch.arange(size) % columns
        key = (row[:, None] - row[None]) * 1000 + (column[:, None] - column[None])
        # one index per offset: the map from offsets to indices is one to one
        pairs = torch.stack([key.flatten(), block.flatten()], 1).unique(dim=0)
        assert len(pairs) == len(key.unique()) == len(block.unique())
        assert len(key.unique()) == (2 * rows - 1) * (2 * columns - 1)
        indices = set(block.unique().tolist())
        assert not indices & seen and none not in indices
        seen |= indices
    assert offsets[0, 300] == offsets[300, 0] == offsets[504, 10] == offsets[10, 504] == none
    assert len(seen) == none


def test_samples_have_the_summary_s_hits_and_energies_and_a_finite_likelihood(
    positrons: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    """An untrained model (its summaries standardised on Geant4's) writes, per layer, exactly
    the number of hits its summary flow drew, holding exactly the energy it drew, the hottest
    exactly its hottest cell's; written again as a list, the shower has a finite likelihood
    (sampling kept to what the likelihood allows: distinct cells of the right layer, energies
    never rising within a layer)."""
    cells, condition = _tensors(positrons[0])
    torch.manual_seed(0)
    model = ShowerRNNGenerator(particles=["e+"], width=16, layers=2).eval()
    model.space.fit(cells, condition)
    latent = torch.randn(64, model.latent_size)
    with torch.no_grad():
        layers = model(latent, condition[:64])
        context = model.space.summaries.context(condition[:64])
        summary = invert_flow(model.summary_flow, latent[:, : model.space.head], context)
        shares, rests, counts = model.space.targets(summary, condition[:64])
        flat = torch.cat([layer.flatten(1) for layer in layers], 1)
        per_layer = flat.split(_LAYER_SIZES, 1)
        got = torch.stack([(c > 0).sum(1) for c in per_layer], 1)
        energies = torch.stack([c.sum(1) for c in per_layer], 1)
        hottest = torch.stack([c.max(1).values for c in per_layer], 1)
        e = condition[:64, :1] * 1000
        # (an untrained summary flow may draw energy for a layer with no hits: it is lost)
        nonempty = (shares * e > 1e-3) & (counts > 0)
        assert nonempty.float().mean() > 0.5
        assert (got[nonempty] == counts[nonempty]).all()
        np.testing.assert_allclose(energies[nonempty], (shares * e)[nonempty], rtol=1e-4)
        several = nonempty & (counts > 1) & (rests > 1e-3 * shares)
        np.testing.assert_allclose(hottest[several], ((shares - rests) * e)[several], rtol=1e-4)
        encoded = model.space.encode(flat, condition[:64], torch.Generator().manual_seed(2))
        assert torch.isfinite(model(encoded, condition[:64], density=True)).all()
        real = model.space.encode(cells, condition, torch.Generator().manual_seed(2))
        assert torch.isfinite(model(real, condition, True)).all()


@pytest.mark.slow
def test_training_raises_the_likelihood_and_generates_the_particle(
    shower_files: list[Path], tmp_path: Path
) -> None:
    """``fastshower train shower-rnn`` on 96 real showers of two particles, then ``generate``."""
    from click.testing import CliRunner

    from fastshower.cli import main

    data = [arg for path in shower_files for arg in ("--data", str(path))]
    small = ["--width", "32", "--batch-size", "16", "--epochs", "5", "--lr", "3e-3"]
    runner = CliRunner()
    done = runner.invoke(
        main, ["train", "shower-rnn", "--out", str(tmp_path / "m"), *small, "--no-progress", *data]
    )
    assert done.exit_code == 0, done.output
    history = __import__("json").loads((tmp_path / "m" / "history.json").read_text())
    losses = [h["loss"] for h in history]
    assert losses[-1] < losses[0] - 50, losses  # nats per shower, from a uniform guess
    validated = [h for h in history if "score" in h]
    assert validated and all("observables_score" in h for h in validated)
    out = tmp_path / "pions.h5"
    args = ["--model", str(tmp_path / "m" / "last"), "--particle", "pi+", "--energy", "2:5"]
    done = runner.invoke(main, ["generate", *args, "--events", "40", "--out", str(out)])
    assert done.exit_code == 0, done.output
    pions = read_showers(out).arrays
    assert (pions["particle"] == 211).all() and len(pions["energy"]) == 40
    total = sum(pions[f"layer_{i}"].reshape(40, -1).sum(1) for i in range(3))
    assert (total > 0).all() and (total <= pions["energy"][:, 0] * 1000 * 1.01).all()
    # its faint cells (below 1 MeV) mapped onto Geant4's, as calo-flow's: their median moves
    # to Geant4's, each layer's energy stays
    calibrated = tmp_path / "calibrated"
    args = ["calibrate", "--model", str(tmp_path / "m" / "last"), *data, "--out", str(calibrated)]
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    geant4 = read_showers(shower_files[1]).arrays["layer_0"]
    layer_0 = {}
    for name, model in (("before", tmp_path / "m" / "last"), ("after", calibrated)):
        out = tmp_path / f"{name}.h5"
        args = ["--model", str(model), "--particle", "pi+", "--energy", "2:5", "--seed", "3"]
        done = runner.invoke(main, ["generate", *args, "--events", "200", "--out", str(out)])
        assert done.exit_code == 0, done.output
        layer_0[name] = read_showers(out).arrays["layer_0"]
    np.testing.assert_allclose(
        layer_0["after"].sum((1, 2)), layer_0["before"].sum((1, 2)), rtol=1e-4
    )
    faint = {k: np.median(np.log(v[(v > 0) & (v < 1)])) for k, v in layer_0.items()}
    want = np.median(np.log(geant4[(geant4 > 0) & (geant4 < 1)]))
    assert abs(faint["after"] - want) < abs(faint["before"] - want), (faint, want)
