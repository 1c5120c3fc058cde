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
    # layer by layer (never back to an earlier one), each layer's hits hottest first
    layer = model.space.cell_layer[tokens.cells.clamp_max(503)]
    same_layer = (layer[:, 1:] == layer[:, :-1]) & live[:, 1:]
    assert ((layer.diff(dim=1) >= 0) | ~live[:, 1:]).all()
    assert ((tokens.bins.diff(dim=1) <= 0) | ~same_layer).all()
    # each cell back at its bin's centre: within half a bin (in log) of Geant4's energy
    share = model.space.share_of(tokens.bins)
    back = torch.zeros(len(cells), 505).scatter_add(1, tokens.cells, torch.where(live, share, 0.0))
    back = back[:, :504] * condition[:, :1] * 1000
    assert (back[~hit] == 0).all() and (back[hit] > 0).all()
    error = (back[hit].log() - cells[hit].log()).abs()
    assert float(error.max()) <= model.space.bin_width / 2 + 1e-4
    # the summaries the hits are written towards: the counts, and each layer's energy
    shares, told = model.space.targets(tokens.summary, condition)
    assert (told == counts).all()
    layers = torch.stack([c.sum(1) for c in cells.split(_LAYER_SIZES, 1)], 1)
    np.testing.assert_allclose(shares * condition[:, :1] * 1000, layers, rtol=1e-3, atol=1e-5)


def test_samples_have_the_summary_s_hits_and_energies_and_a_finite_likelihood(
    positrons: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    """An untrained model (its summaries standardised on Geant4's) writes, per layer, exactly
    the number of hits its summary flow drew, fitted to the energy it drew; written again as a
    list, the shower has a finite likelihood (sampling kept to what the likelihood allows:
    distinct cells of the right layer, energies never rising within a layer)."""
    cells, condition = _tensors(positrons[0])
    torch.manual_seed(0)
    model = ShowerRNNGenerator(particles=["e+"], width=16, layers=2).eval()
    model.space.fit(cells, condition)
    latent = torch.randn(64, model.latent_size)
    with torch.no_grad():
        layers = model(latent, condition[:64])
        context = model.space.summaries.context(condition[:64])
        summary = invert_flow(model.summary_flow, latent[:, : model.space.head], context)
        shares, counts = model.space.targets(summary, condition[:64])
        flat = torch.cat([layer.flatten(1) for layer in layers], 1)
        got = torch.stack([(c > 0).sum(1) for c in flat.split(_LAYER_SIZES, 1)], 1)
        energies = torch.stack([c.sum(1) for c in flat.split(_LAYER_SIZES, 1)], 1)
        expected = shares * condition[:64, :1] * 1000
        # (an untrained summary flow may draw energy for a layer with no hits: it is lost)
        nonempty = (expected > 1e-3) & (counts > 0)
        assert nonempty.float().mean() > 0.5
        assert (got[nonempty] == counts[nonempty]).all()
        np.testing.assert_allclose(energies[nonempty], expected[nonempty], rtol=1e-4)
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
