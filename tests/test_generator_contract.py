"""The contract every registered generator keeps, whatever its family: the shapes of the data it
imitates, no negative energies, conditioning that matters, an exact save/load round trip and an
ONNX export that computes the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fastshower.detector import CALORIMETER
from fastshower.modelfile import load_model, save_model
from fastshower.models import GENERATORS, build_generator

# family -> (small config, latent size, two different conditions, expected output shapes)
CASES = {
    "lagan": ({"latent_size": 16}, 16, (torch.zeros(4), torch.ones(4)), [(25, 25)]),
    "calogan": (
        {"latent_size": 32, "attention": True},
        32,
        (torch.full((4,), 10.0), torch.full((4,), 90.0)),
        [layer.shape for layer in CALORIMETER.layers],
    ),
    "calo-flow": (
        {"particles": ["e+", "pi+"], "transforms": 2, "hidden": 16, "energy_hidden": 8},
        507,
        (
            torch.tensor([[10.0, -11, 0, 0]]).repeat(4, 1),
            torch.tensor([[90.0, 211, 0, 0]]).repeat(4, 1),
        ),
        [layer.shape for layer in CALORIMETER.layers],
    ),
    "calo-flow/layer": (  # cells relative to their layer's energy: a batch-size-free ONNX graph;
        # layer energies as CaloFlow's shares (float64 products in the graph)
        {
            "particles": ["e+", "pi+"],
            "transforms": 2,
            "hidden": 16,
            "energy_hidden": 8,
            "cells_relative_to": "layer",
            "layer_energies": "shares",
        },
        507,
        (
            torch.tensor([[10.0, -11, 0, 0]]).repeat(4, 1),
            torch.tensor([[90.0, 211, 0, 0]]).repeat(4, 1),
        ),
        [layer.shape for layer in CALORIMETER.layers],
    ),
    "calo-flow/hits-peaks": (  # flow I learns each layer's hit count and hottest cell's share
        {
            "particles": ["e+", "pi+"],
            "transforms": 2,
            "hidden": 16,
            "energy_hidden": 8,
            "layer_hits": True,
            "layer_peaks": True,
        },
        513,
        (
            torch.tensor([[10.0, -11, 0, 0]]).repeat(4, 1),
            torch.tensor([[90.0, 211, 0, 0]]).repeat(4, 1),
        ),
        [layer.shape for layer in CALORIMETER.layers],
    ),
    "calo-flow/grid": (  # convolutions on each layer's grid beside the coupling networks
        {
            "particles": ["e+", "pi+"],
            "transforms": 4,
            "hidden": 16,
            "energy_hidden": 8,
            "coupling": "grid",
        },
        507,
        (
            torch.tensor([[10.0, -11, 0, 0]]).repeat(4, 1),
            torch.tensor([[90.0, 211, 0, 0]]).repeat(4, 1),
        ),
        [layer.shape for layer in CALORIMETER.layers],
    ),
    "flow-matching": (
        {"particles": ["e+", "pi+"], "width": 32, "blocks": 1, "steps": 2},
        507,
        (
            torch.tensor([[10.0, -11, 0, 0]]).repeat(4, 1),
            torch.tensor([[90.0, 211, 0, 0]]).repeat(4, 1),
        ),
        [layer.shape for layer in CALORIMETER.layers],
    ),
}


def test_every_registered_generator_is_covered() -> None:
    assert {case.split("/")[0] for case in CASES} == set(GENERATORS)


def outputs(generator: torch.nn.Module, z: torch.Tensor, condition: torch.Tensor) -> list:
    out = generator(z, condition)
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("case", sorted(CASES))
def test_contract(case: str, tmp_path: Path) -> None:
    """Every family (and variant: ``family/variant``) generates, round-trips and exports."""
    name = case.split("/")[0]
    config, latent, (cond_a, cond_b), shapes = CASES[case]
    torch.manual_seed(0)
    generator = build_generator(name, config).eval()
    _randomize_output_layers(generator)
    z = torch.randn(4, latent)
    with torch.no_grad():
        a, b = outputs(generator, z, cond_a), outputs(generator, z, cond_b)
    assert [tuple(x.shape[1:]) for x in a] == [tuple(s) for s in shapes]
    assert all((x >= 0).all() for x in a + b)
    assert any(not torch.allclose(x, y) for x, y in zip(a, b, strict=True))
    assert all(x.sum() > 0 for x in a)

    folder = save_model(tmp_path / name, name, generator, config, {"test": True})
    with torch.no_grad():
        again = outputs(load_model(folder).generator, z, cond_a)
    for x, y in zip(a, again, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)

    pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    from fastshower.export import OnnxGenerator, export_onnx

    onnx = OnnxGenerator(export_onnx(folder, tmp_path / f"{name}.onnx"))
    condition = cond_a.numpy().astype(np.int64 if name == "lagan" else np.float32)
    got = onnx(z.numpy(), condition)
    for x, y in zip(a, got.values(), strict=True):
        # float32: flow I's inverse is autoregressive, 9 steps in a row with hits and peaks,
        # through splines whose softmax is exp / sum in torch and Softmax in onnxruntime
        # (models/splines.py): their roundings differ by up to ~4e-5 at the end (one cell in 288)
        np.testing.assert_allclose(y, x.numpy(), rtol=1e-4, atol=1e-6)


def _randomize_output_layers(generator: torch.nn.Module) -> None:
    """Flows start with a zero velocity (their output layer is zero-initialised), which would
    make the conditioning invisible; give them a random one, as training would. The same for
    the grid couplings' convolutions, which start at zero."""
    velocity = getattr(generator, "velocity", None)
    if velocity is not None:
        torch.nn.init.normal_(velocity.out.weight, std=0.05)
    for name, module in generator.named_modules():
        if name.endswith("grids"):
            for network in module:
                torch.nn.init.normal_(network[-1].weight, std=0.05)
