"""The contract every registered model family keeps (``fastshower.models.family``): samples in
the schema of the data it imitates (shapes, no negative energies), seeded, conditioning that
matters, an exact save/load round trip and an ONNX export that computes the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fastshower.io import write_dataset
from fastshower.modelfile import load_model, save_model
from fastshower.models import FAMILIES
from fastshower.models.family import JetCondition, ShowerCondition

SHOWERS = (ShowerCondition("e+", (10.0, 10.0)), ShowerCondition("pi+", (90.0, 90.0)))
JETS = (JetCondition("qcd"), JetCondition("w"))
FLOW = {"particles": ["e+", "pi+"], "transforms": 2, "hidden": 16, "energy_hidden": 8}

# family[/variant] -> (small config, two different conditions)
CASES = {
    "lagan": ({"latent_size": 16}, JETS),
    "calogan": ({"latent_size": 32, "attention": True}, SHOWERS),
    "calo-flow": (FLOW, SHOWERS),
    # layer energies as CaloFlow's shares (float64 products in the graph)
    "calo-flow/shares": ({**FLOW, "layer_energies": "shares"}, SHOWERS),
    # flow I learns each layer's hit count and hottest cell's share
    "calo-flow/hits-peaks": ({**FLOW, "layer_hits": True, "layer_peaks": True}, SHOWERS),
    # the faint cells mapped after decoding (an identity map: the graph is what is checked)
    "calo-flow/faint": ({**FLOW, "layer_peaks": True, "faint_mev": 1.0}, SHOWERS),
    # convolutions on each layer's grid beside the coupling networks
    "calo-flow/grid": ({**FLOW, "transforms": 4, "coupling": "grid"}, SHOWERS),
    "flow-matching": ({"particles": ["e+", "pi+"], "width": 32, "blocks": 1, "steps": 2}, SHOWERS),
    "jet-flow": ({"transforms": 2, "hidden": 16, "energy_hidden": 8}, JETS),
    "jet-rnn": ({"width": 16, "max_hits": 6}, JETS),
    "shower-rnn": ({"particles": ["e+", "pi+"], "width": 16, "max_hits": 6}, SHOWERS),
}
MAIN_OUTPUT = {
    "lagan": "image",
    "jet-flow": "image",
    "jet-rnn": "image",
}  # the others: every layer's cells


def test_every_registered_family_is_covered() -> None:
    assert {case.split("/")[0] for case in CASES} == set(FAMILIES)


def sample(family, generator, condition, seed: int = 1) -> dict[str, np.ndarray]:
    return family.sample(generator, 4, condition, torch.Generator().manual_seed(seed))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_contract(case: str, tmp_path: Path) -> None:
    """Every family (and variant: ``family/variant``) samples into its schema, seeded and
    conditioned, round-trips through a model file and exports to ONNX."""
    name = case.split("/")[0]
    family = FAMILIES[name]
    config, (cond_a, cond_b) = CASES[case]
    torch.manual_seed(0)
    generator = family.build(config).eval()
    _randomize_output_layers(generator)
    a = sample(family, generator, cond_a)
    write_dataset(tmp_path / "a.h5", a, family.schema, {"test": True})  # every key, shape, >= 0
    keys = [MAIN_OUTPUT[name]] if name in MAIN_OUTPUT else ["layer_0", "layer_1", "layer_2"]
    assert all(a[k].sum() > 0 for k in keys)
    again = sample(family, generator, cond_a)
    for key in a:
        np.testing.assert_array_equal(a[key], again[key])  # seeded
    b = sample(family, generator, cond_b)
    assert any(not np.allclose(a[k], b[k]) for k in keys)  # the condition matters
    assert not np.allclose(sample(family, generator, cond_a, seed=2)[keys[0]], a[keys[0]])

    folder = save_model(tmp_path / name, name, generator, config, {"test": True})
    loaded = load_model(folder)
    assert loaded.name == name
    reloaded = sample(family, loaded.generator, cond_a)
    for key in a:
        np.testing.assert_array_equal(a[key], reloaded[key])

    pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    from fastshower.export import OnnxGenerator, export_onnx

    onnx = OnnxGenerator(export_onnx(folder, tmp_path / f"{name}.onnx"))
    latent = torch.randn(4, generator.latent_size)
    condition = family.example_condition(generator, 4)
    with torch.no_grad():
        expected = generator(latent, condition)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    got = onnx(latent.numpy(), condition.numpy())
    assert tuple(got) == family.output_names(generator)
    for x, y in zip(expected, got.values(), strict=True):
        # float32: flow I's inverse is autoregressive, 9 steps in a row with hits and peaks,
        # through splines whose softmax is exp / sum in torch and Softmax in onnxruntime
        # (models/splines.py): their roundings differ by up to ~4e-5 at the end (one cell in 288)
        np.testing.assert_allclose(y, x.numpy(), rtol=1e-4, atol=1e-6)


def _randomize_output_layers(generator: torch.nn.Module) -> None:
    """Flows start with a zero velocity (their output layer is zero-initialised), which would
    make the conditioning invisible; give them a random one, as training would. The same for
    the grid couplings' convolutions, which start at zero, and for the hit counts of the shower
    RNN's summaries, which its unfitted standardisation would make mostly 0."""
    summaries = getattr(getattr(generator, "space", None), "summaries", None)
    if summaries is not None:  # the shower RNN: 2 hits per layer, not mostly none
        summaries.mean[3:6], summaries.std[3:6] = 1.25, 0.1  # log(1 + hits + u)
    velocity = getattr(generator, "velocity", None)
    if velocity is not None:
        torch.nn.init.normal_(velocity.out.weight, std=0.05)
    for name, module in generator.named_modules():
        if name.endswith("grids"):
            for network in module:
                torch.nn.init.normal_(network[-1].weight, std=0.05)
