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
    jets = ("--model", str(lagan_dir), "--class", "w", "--events", "5", "--out", "y.h5")
    bad = run(*jets, "--position", "5,0")
    assert bad.returncode == 2 and "for shower models, not jets" in bad.stderr
    assert not (tmp_path / "y.h5").exists()


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


def test_showers_where_the_model_learnt_them_to_enter(tmp_path: Path, lagan_dir: Path) -> None:
    """``--position`` / ``--position-spread``: each shower's incidence point is drawn in the
    square and written; a model generates only where its training showers entered."""
    from fastshower.models.flow_matching import FlowMatchingGenerator

    torch.manual_seed(0)
    config = {"particles": ["e+"], "width": 16, "blocks": 1, "steps": 2}
    generator = FlowMatchingGenerator(width=16, blocks=1, steps=2)
    torch.nn.init.normal_(generator.velocity.out.weight, std=0.05)
    learnt = {"particles": ["e+"], "position_range_mm": [[-50.0, 50.0], [-50.0, 50.0]]}
    folder = save_model(tmp_path / "fm", "flow-matching", generator, config, learnt)
    centre_only = save_model(
        tmp_path / "centre", "flow-matching", generator, config, {"particles": ["e+"]}
    )
    energies = {"particle": "e+", "energy_gev": [10.0, 20.0]}

    def sample(model: Path, name: str, **position: object) -> dict[str, np.ndarray]:
        job = GenerateJob(str(model), {**energies, **position})
        path = produce(job, tmp_path / f"{name}.h5", 50, seed=4, workers=0, progress=False)
        return read_dataset(path, SHOWER_SCHEMA).arrays

    spread = sample(folder, "spread", position_mm=[10.0, 0.0], position_spread_mm=20.0)
    x, y = spread["position"].T
    assert (x >= -10).all() and (x <= 30).all() and (np.abs(y) <= 20).all()
    assert x.std() > 5 and y.std() > 5  # drawn per shower, not one point
    fixed = sample(folder, "fixed", position_mm=[-30.0, 40.0])
    np.testing.assert_array_equal(fixed["position"], np.tile([-30.0, 40.0], (50, 1)))
    centre = sample(folder, "centre")
    np.testing.assert_array_equal(centre["energy"], fixed["energy"])  # same seed, same draws
    assert not np.array_equal(centre["layer_1"], fixed["layer_1"])  # the point is a condition
    np.testing.assert_array_equal(sample(centre_only, "old")["layer_1"], centre["layer_1"])

    with pytest.raises(ValueError, match="learnt incidence points x -50 to 50 mm"):
        GenerateJob(str(folder), {**energies, "position_mm": [40.0, 0.0], "position_spread_mm": 20})
    with pytest.raises(ValueError, match="at the calorimeter's centre only"):
        GenerateJob(str(centre_only), {**energies, "position_mm": [5.0, 0.0]})
    with pytest.raises(ValueError, match="spread -1 mm: must be >= 0"):
        GenerateJob(str(folder), {**energies, "position_spread_mm": -1})
    calogan = save_model(
        tmp_path / "calogan",
        "calogan",
        CaloganGenerator(),
        {"latent_size": 1024, "attention": True},
        {"particle": "e+", "position_range_mm": [[-50.0, 50.0], [-50.0, 50.0]]},
    )
    with pytest.raises(ValueError, match="calogan model learnt showers at the calorimeter's cent"):
        GenerateJob(str(calogan), {**energies, "position_spread_mm": 10})


def test_compiled_generation_makes_the_same_showers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--compile``: full batches through torch.compile, the last, shorter one as it is; the
    same showers to float rounding. Where compiling fails, a warning and the same showers."""
    from fastshower import generate
    from fastshower.models.calo_flow import CaloFlowGenerator

    torch.manual_seed(0)
    config = {"particles": ["e+"], "transforms": 2, "hidden": 16, "energy_hidden": 8}
    folder = save_model(
        tmp_path / "flow", "calo-flow", CaloFlowGenerator(**config), config, {"particles": ["e+"]}
    )

    def showers(name: str, compiled: bool) -> dict[str, np.ndarray]:
        condition = {"particle": "e+", "energy_gev": [10.0, 20.0]}
        job = GenerateJob(str(folder), condition, batch_size=16, compiled=compiled)
        path = produce(job, tmp_path / name, 40, seed=1, workers=0, progress=False)
        return read_dataset(path, SHOWER_SCHEMA).arrays

    eager, compiled = showers("eager.h5", False), showers("compiled.h5", True)
    for i in range(3):
        layer = f"layer_{i}"
        assert eager[layer].sum() > 0
        np.testing.assert_allclose(compiled[layer], eager[layer], rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(compiled[layer] > 0, eager[layer] > 0)

    def no_compiler(module: torch.nn.Module, **options: object) -> object:
        def fail(*args: object) -> None:
            raise RuntimeError("no C++ compiler found\ndetails")

        return fail

    generate._compiled.cache_clear()
    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(UserWarning, match=r"^torch.compile failed, generating uncompiled: no C\+\+"):
        fallback = showers("fallback.h5", True)
    for key, values in eager.items():
        np.testing.assert_array_equal(fallback[key], values, err_msg=key)
