"""The jet-image flow on real Pythia jets: its space gives the pixels back, its flows invert,
its likelihood rises in training, and it generates the class it is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("pythia8mc", reason="needs the jets extra")

from fastshower.models.jet_flow import JetFlowGenerator, JetSpace


def test_space_gives_back_the_pixels_the_jet_pt_and_the_hit_count(
    pythia_jet_tensors: tuple[torch.Tensor, torch.Tensor],
) -> None:
    images, labels = pythia_jet_tensors
    space = JetSpace().fit(images, labels)
    x = space.encode(images, labels, torch.Generator().manual_seed(1))
    assert x.shape == (120, 627) and torch.isfinite(x).all()
    raw = x * space.std + space.mean
    hits = (images >= 1e-3).flatten(1).sum(1)
    counted = torch.expm1(raw[:, 1])  # hits + U[0, 1)
    assert ((counted >= hits - 1e-3) & (counted < hits + 1 + 1e-3)).all()
    back = space.decode(x)
    assert back.shape == (120, 25, 25)
    kept = images >= 1e-3  # smaller pixels count as empty (their pT goes to the others)
    assert (back[~kept] == 0).all() and (back[kept] > 0).all()
    torch.testing.assert_close(back.sum((1, 2)), images.sum((1, 2)), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(back[kept], images[kept], rtol=1e-3, atol=1e-3)
    context = space.context(labels)
    assert (context.argmax(1) == labels).all()


def test_flows_invert_so_the_density_is_that_of_the_samples(
    pythia_jet_tensors: tuple[torch.Tensor, torch.Tensor],
) -> None:
    images, labels = pythia_jet_tensors
    flow = JetFlowGenerator(transforms=2, hidden=16, energy_hidden=8).eval()
    flow.space.fit(images, labels)
    for p in flow.parameters():  # away from the identity the zero-initialised layers start at
        torch.nn.init.normal_(p, std=0.05)
    latent = torch.randn(8, flow.latent_size)
    classes = torch.tensor([0, 1] * 4)
    with torch.no_grad():
        x = flow.sample_space(latent, classes)
        context = flow.space.context(classes)
        head = flow.energy_flow(context).transform(x[:, :2])
        cells = flow.cell_flow(torch.cat([context, x[:, :2]], 1)).transform(x[:, 2:])
    torch.testing.assert_close(torch.cat([head, cells], 1), latent, rtol=1e-3, atol=1e-3)
    assert torch.isfinite(flow(x, classes, density=True)).all()


@pytest.mark.slow
def test_training_raises_the_likelihood_and_generates_each_class(
    train_on_pythia_jets: Any,
) -> None:
    """``fastshower train jet-flow`` on 120 real jets, then ``generate --class``."""
    small = ["--transforms", "2", "--hidden", "32", "--batch-size", "20", "--epochs", "6"]
    history, generate = train_on_pythia_jets("jet-flow", [*small, "--lr", "3e-3"])
    losses = [h["loss"] for h in history]
    assert losses[-1] < losses[0] - 0.1, losses  # nats per coordinate
    for jet_class, label in (("w", 1), ("qcd", 0)):
        data = generate(jet_class)
        assert (data["signal"] == label).all() and (data["image"] >= 0).all()
        # the pT of the jets it learnt (about 250-300 GeV), not of noise
        assert 200 < float(np.median(data["image"].sum((1, 2)))) < 400
