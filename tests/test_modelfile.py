"""Model files: a generator comes back exactly; every way a folder can be wrong is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fastshower.modelfile import FORMAT, ModelFileError, load_model, save_model
from fastshower.models.lagan import LaganGenerator


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    generator = LaganGenerator(latent_size=16)
    return save_model(
        tmp_path / "m",
        "lagan",
        generator,
        {"latent_size": 16},
        {"training_data_sha256": "ab" * 32, "epochs": 1},
    )


def test_round_trip_gives_the_same_images(saved: Path) -> None:
    torch.manual_seed(0)
    original = LaganGenerator(latent_size=16).eval()
    loaded = load_model(saved)
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 0, 1])
    torch.testing.assert_close(loaded.generator(z, labels), original(z, labels))
    assert loaded.name == "lagan" and loaded.config == {"latent_size": 16}
    assert loaded.provenance["epochs"] == 1 and "fastshower_version" in loaded.provenance
    assert json.loads((saved / "config.json").read_text())["format"] == FORMAT


def edit(folder: Path, **changes: object) -> None:
    description = json.loads((folder / "config.json").read_text())
    description.update(changes)
    (folder / "config.json").write_text(json.dumps(description))


def test_wrong_folders_are_refused(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not a model folder"):
        load_model(tmp_path)
    edit(saved, config={"latent_size": 32})
    with pytest.raises(ModelFileError, match=r"weights do not fit a 'lagan' generator"):
        load_model(saved)
    edit(saved, model="calogan-v0", config={"latent_size": 16})
    with pytest.raises(
        ModelFileError,
        match="unknown model 'calogan-v0': known are calo-flow, calogan, flow-matching, jet-flow, "
        "jet-rnn, lagan",
    ):
        load_model(saved)
    edit(saved, format="fastshower-model/0", model="lagan")
    with pytest.raises(ModelFileError, match="format 'fastshower-model/0'"):
        load_model(saved)
    edit(saved, format=FORMAT)
    (saved / "generator.pt").write_bytes(b"not torch")
    with pytest.raises(ModelFileError, match="not a readable fastshower checkpoint"):
        load_model(saved)


def test_shipped_models_resolve_by_name(tmp_path: Path) -> None:
    from fastshower.pretrained import DEFAULT_SHOWER_MODEL, available, resolve_model

    assert DEFAULT_SHOWER_MODEL in available()
    model = load_model(resolve_model(DEFAULT_SHOWER_MODEL))
    assert model.name == "calo-flow"
    assert model.provenance["particles"] == ["e+", "gamma", "pi+"]
    assert len(model.provenance["training_data_sha256"][0]) == 64
    assert resolve_model(tmp_path) == tmp_path  # a folder is a folder
    with pytest.raises(FileNotFoundError, match="no shipped model of that name"):
        resolve_model("calogan-muons")


def test_a_half_precision_copy_is_half_the_size_and_loads_as_float32(tmp_path: Path) -> None:
    from fastshower.modelfile import halve_model
    from fastshower.models.calo_flow import CaloFlowGenerator

    torch.manual_seed(0)
    config = {"particles": ["e+", "pi+"], "transforms": 2, "hidden": 64}
    original = save_model(
        tmp_path / "full", "calo-flow", CaloFlowGenerator(**config), config, {"epochs": 3}
    )
    with pytest.raises(ValueError, match="another folder"):
        halve_model(original, original)
    half = halve_model(original, tmp_path / "half")
    size = (half / "generator.pt").stat().st_size / (original / "generator.pt").stat().st_size
    assert 0.45 < size < 0.6
    full, loaded = load_model(original), load_model(half)
    assert all(p.dtype == torch.float32 for p in loaded.generator.parameters())
    buffers = dict(full.generator.named_buffers())
    for name, buffer in loaded.generator.named_buffers():
        assert torch.equal(buffer, buffers[name])  # the standardisation is not rounded
    assert loaded.provenance["parameters_stored_as"] == "float16"
    assert loaded.provenance["epochs"] == 3 and loaded.config == full.config
    z = torch.randn(64, full.generator.latent_size)
    condition = torch.tensor([[50.0, -11.0, 0.0, 0.0]]).repeat(64, 1)
    with torch.inference_mode():
        for a, b in zip(full.generator(z, condition), loaded.generator(z, condition), strict=True):
            assert not torch.equal(a, b)  # the weights were rounded ...
            torch.testing.assert_close(b.sum(), a.sum(), rtol=1e-2, atol=0)  # ... but barely


def test_export_half_on_the_command_line(saved: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fastshower.cli import main

    result = CliRunner().invoke(
        main, ["export", "half", "--model", str(saved), "--out", str(tmp_path / "half")]
    )
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "half").provenance["parameters_stored_as"] == "float16"
    result = CliRunner().invoke(
        main, ["export", "half", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]
    )
    assert result.exit_code != 0 and "nothing" in result.output
