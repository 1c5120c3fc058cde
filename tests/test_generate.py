"""Generation: model folders to files in the reference schema, chunked, seeded, refused when the
request does not fit the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fastshower.generate import GenerateJob
from fastshower.io import JET_SCHEMA, SHOWER_SCHEMA, read_dataset
from fastshower.modelfile import save_model
from fastshower.models.calogan import CaloganGenerator
from fastshower.models.lagan import LaganGenerator
from fastshower.simulate.production import produce


@pytest.fixture(scope="module")
def lagan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("lagan")
    return save_model(folder, "lagan", LaganGenerator(latent_size=16), {"latent_size": 16}, {})


def test_jet_images_in_the_reference_schema(lagan_dir: Path, tmp_path: Path) -> None:
    job = GenerateJob(str(lagan_dir), {"class": "w"}, batch_size=7)
    out = produce(job, tmp_path / "w.h5", 20, seed=1, chunk_size=8, workers=0, progress=False)
    data = read_dataset(out, JET_SCHEMA)
    assert len(data) == 20 and (data["signal"] == 1).all() and (data["image"] >= 0).all()
    # the image observables are the pixels' own
    np.testing.assert_allclose(data["jet_pt"] > 0, data["image"].sum(axis=(1, 2)) > 0)
    assert data.provenance["generator"] == "fastshower lagan"
    assert "jet_eta" in data.provenance["not_generated"]
    again = produce(
        job, tmp_path / "again.h5", 20, seed=1, chunk_size=10, workers=0, progress=False
    )
    assert not np.array_equal(read_dataset(again, JET_SCHEMA)["image"], data["image"])  # chunks
    same = produce(job, tmp_path / "same.h5", 20, seed=1, chunk_size=8, workers=0, progress=False)
    np.testing.assert_array_equal(read_dataset(same, JET_SCHEMA)["image"], data["image"])


def test_both_jet_classes_in_one_sample(lagan_dir: Path, tmp_path: Path) -> None:
    """``both``: each jet's class drawn per event and stored in ``signal``; the latent vectors
    are drawn as for one class, so a W jet of the mix is the W request's jet of that seed."""

    def sample(jet_class: str) -> dict:
        job = GenerateJob(str(lagan_dir), {"class": jet_class})
        path = produce(job, tmp_path / f"{jet_class}.h5", 40, seed=3, workers=0, progress=False)
        return read_dataset(path, JET_SCHEMA).arrays

    both, w, qcd = sample("both"), sample("w"), sample("qcd")
    is_w = both["signal"] == 1
    assert set(np.unique(both["signal"])) == {0.0, 1.0} and 8 < is_w.sum() < 32
    np.testing.assert_array_equal(both["image"][is_w], w["image"][is_w])
    np.testing.assert_array_equal(both["image"][~is_w], qcd["image"][~is_w])
    assert not np.array_equal(w["image"], qcd["image"])  # the class is a condition


def test_showers_in_the_reference_schema(tmp_path: Path) -> None:
    torch.manual_seed(0)
    folder = save_model(
        tmp_path / "calogan",
        "calogan",
        CaloganGenerator(),
        {"latent_size": 1024, "attention": True},
        {"particle": "e+"},
    )
    job = GenerateJob(str(folder), {"particle": "e+", "energy_gev": [10.0, 20.0]})
    out = produce(job, tmp_path / "e.h5", 6, seed=2, chunk_size=3, workers=0, progress=False)
    data = read_dataset(out, SHOWER_SCHEMA)
    assert len(data) == 6 and (data["particle"] == -11).all()
    assert ((data["energy"] >= 10) & (data["energy"] <= 20)).all()
    assert all((data[f"layer_{i}"] >= 0).all() for i in range(3))
    with pytest.raises(ValueError, match=r"trained on e\+ showers; 'pi\+' was requested"):
        GenerateJob(str(folder), {"particle": "pi+", "energy_gev": [10.0, 20.0]})


def test_bad_requests(lagan_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--class w, qcd or both, got 'z'"):
        GenerateJob(str(lagan_dir), {"class": "z"})
    with pytest.raises(ValueError, match="not a model folder"):
        GenerateJob(str(tmp_path), {"class": "w"})


def test_cli(lagan_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "fastshower.cli", "generate", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    done = run(
        "--model",
        str(lagan_dir),
        "--class",
        "qcd",
        "--events",
        "5",
        "--out",
        "q.h5",
        "--workers",
        "0",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    assert (read_dataset(tmp_path / "q.h5", JET_SCHEMA)["signal"] == 0).all()
    bad = run("--model", str(lagan_dir), "--events", "5", "--out", "x.h5")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: give --class w|qcd")


def test_flow_models_sample_with_other_steps(tmp_path: Path, lagan_dir: Path) -> None:
    """``--steps`` / ``--solver``: the same weights at another cost; recorded, and refused for
    models without an ODE."""
    from fastshower.models.flow_matching import FlowMatchingGenerator

    torch.manual_seed(0)
    generator = FlowMatchingGenerator(width=16, blocks=1, steps=4)
    torch.nn.init.normal_(generator.velocity.out.weight, std=0.05)
    config = {"particles": ["e+"], "width": 16, "blocks": 1, "steps": 4}
    folder = save_model(tmp_path / "fm", "flow-matching", generator, config, {"particles": ["e+"]})
    condition = {"particle": "e+", "energy_gev": [10.0, 20.0]}
    files = {}
    for name, sampling in (("model", {}), ("euler1", {"steps": 1, "solver": "euler"})):
        job = GenerateJob(str(folder), condition, sampling=sampling)
        files[name] = produce(
            job, tmp_path / f"{name}.h5", 5, seed=3, chunk_size=5, workers=0, progress=False
        )
    default, euler = (read_dataset(files[k], SHOWER_SCHEMA) for k in ("model", "euler1"))
    assert not np.array_equal(default["layer_1"], euler["layer_1"])
    assert euler.provenance["sampling"] == {"steps": 1, "solver": "euler"}
    with pytest.raises(ValueError, match="this lagan model has no sampler settings"):
        GenerateJob(str(lagan_dir), {"class": "w"}, sampling={"steps": 2})
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        GenerateJob(str(folder), condition, sampling={"steps": 0})
