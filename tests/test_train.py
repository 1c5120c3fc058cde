"""The training loop on a tiny real LAGAN run: files, moving losses, exact resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pythia8mc", reason="needs the jets extra")

from fastshower.io import JET_SCHEMA, write_dataset
from fastshower.modelfile import load_model
from fastshower.training.data import JetImagePreprocessing, JetImages
from fastshower.training.lagan import LaganRecipe
from fastshower.training.loop import TrainConfig, train

CONFIG = TrainConfig(epochs=2, batch_size=20, seed=3)


@pytest.fixture(scope="module")
def jet_arrays(pythia_jets: tuple[dict, dict]) -> dict[str, dict[str, np.ndarray]]:
    """60 real W and 60 real QCD jets (Pythia 8)."""
    return {"w": pythia_jets[0], "qcd": pythia_jets[1]}


@pytest.fixture(scope="module")
def jets(jet_arrays: dict[str, dict[str, np.ndarray]]) -> JetImages:
    """The same jets with LAGAN's preprocessing."""
    pre = JetImagePreprocessing()
    images = np.concatenate([pre.forward(a["image"]) for a in jet_arrays.values()])
    labels = np.concatenate([a["signal"].astype(np.int64) for a in jet_arrays.values()])
    return JetImages(torch.from_numpy(images), torch.from_numpy(labels))


def recipe(jets: JetImages) -> LaganRecipe:
    return LaganRecipe(validation=(jets.images, jets.labels), latent_size=16, n_validation=30)


def test_tiny_run_writes_models_and_losses_move(jets: JetImages, tmp_path: Path) -> None:
    state = train(
        recipe(jets),
        jets,
        tmp_path,
        CONFIG,
        progress=False,
        provenance={"training_data": "test jets"},
    )
    history = state["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["loss_d"]) and np.isfinite(h["score"]) for h in history)
    assert all(h["seconds"] > 0 for h in history)  # what each epoch cost
    assert history[0]["loss_g"] != history[1]["loss_g"]
    for folder in ("best", "last"):
        model = load_model(tmp_path / folder)
        images = model.generator(torch.randn(3, 16), torch.tensor([0, 1, 1]))
        assert images.shape == (3, 25, 25) and (images >= 0).all()
        assert model.provenance["training_data"] == "test jets"
    assert load_model(tmp_path / "last").provenance["epochs"] == 2
    assert (tmp_path / "history.json").exists() and (tmp_path / "checkpoint.pt").exists()
    with pytest.raises(ValueError, match="holds a training already"):
        train(recipe(jets), jets, tmp_path, CONFIG, progress=False)


class _KilledInEpoch2(LaganRecipe):
    """The same training, interrupted (as by Ctrl-C) in the middle of epoch 2."""

    calls = 0

    def discriminator_loss(self, generator, discriminator, batch, rng):
        type(self).calls += 1
        if self.calls > 6 + 3:  # 120 jets / 20 per batch = 6 batches per epoch
            raise KeyboardInterrupt
        return super().discriminator_loss(generator, discriminator, batch, rng)


def test_resumed_run_equals_an_uninterrupted_one(jets: JetImages, tmp_path: Path) -> None:
    train(recipe(jets), jets, tmp_path / "a", CONFIG, progress=False)
    killed = _KilledInEpoch2(validation=(jets.images, jets.labels), latent_size=16, n_validation=30)
    with pytest.raises(KeyboardInterrupt):
        train(killed, jets, tmp_path / "b", CONFIG, progress=False)
    assert load_model(tmp_path / "b" / "last").provenance["epochs"] == 1
    state = train(recipe(jets), jets, tmp_path / "b", CONFIG, resume=True, progress=False)
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    a, b = (load_model(tmp_path / x / "last").generator for x in ("a", "b"))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    other = TrainConfig(epochs=3, batch_size=20, seed=4)
    with pytest.raises(ValueError, match="made by another training"):
        train(recipe(jets), jets, tmp_path / "b", other, resume=True, progress=False)


@pytest.mark.slow
def test_torchrun_two_cpu_processes(jet_arrays: dict, tmp_path: Path) -> None:
    """``fastshower train lagan`` under torchrun: 2 processes, gloo, DistributedDataParallel."""
    files = [
        write_dataset(tmp_path / f"{p}.h5", a, JET_SCHEMA, {"process": p})
        for p, a in jet_arrays.items()
    ]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "fastshower.cli",
        "train",
        "lagan",
        "--data",
        str(files[0]),
        "--data",
        str(files[1]),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained 1 epochs") == 1  # rank 0 only
    model = load_model(tmp_path / "m" / "best")
    assert model.provenance["n_training"] == 108
    assert len(model.provenance["training_data_sha256"]) == 2


def test_holdout_writes_the_jets_a_lagan_training_held_out(
    jet_arrays: dict, jets: JetImages, tmp_path: Path
) -> None:
    """``fastshower holdout`` on jet-image files: per file, the jets of LAGAN's validation
    split (the split of the W and QCD files in training order), as jet-image files."""
    from fastshower.io import read_dataset
    from fastshower.training.loop import TrainConfig
    from fastshower.training.trainers import split_indices

    files = [
        write_dataset(tmp_path / f"{p}.h5", a, JET_SCHEMA, {"process": p})
        for p, a in jet_arrays.items()
    ]
    command = [
        sys.executable,
        "-m",
        "fastshower.cli",
        "holdout",
        "--data",
        str(files[0]),
        "--data",
        str(files[1]),
        "--out",
        str(tmp_path / "held"),
        "--training-events",
        "20",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    training, held = split_indices(len(jets), 0.1, TrainConfig().seed)
    expected = jets.labels[held.sort().values]
    got = [read_dataset(tmp_path / "held" / f"{p}-heldout.h5", JET_SCHEMA) for p in ("w", "qcd")]
    assert (np.concatenate([g["signal"] for g in got]) == expected.numpy()).all()
    assert all(g.provenance["held_out_fraction"] == 0.1 for g in got)
    image = JetImagePreprocessing().forward(got[1]["image"])
    qcd_held = held[held >= 60].sort().values
    torch.testing.assert_close(torch.from_numpy(image), jets.images[qcd_held], rtol=0, atol=0)
    # --training-events: 20 jets per file that the training learnt from, none held out
    learnt = [
        read_dataset(tmp_path / "held" / f"{p}-training.h5", JET_SCHEMA) for p in ("w", "qcd")
    ]
    assert [len(g["signal"]) for g in learnt] == [20, 20]
    assert learnt[1].provenance["subset"] == "training"
    qcd_learnt = training[training >= 60].numpy()
    image = torch.from_numpy(JetImagePreprocessing().forward(learnt[1]["image"]))
    for one in image:  # each is one of the training's QCD jets
        assert any(torch.equal(one, jets.images[i]) for i in qcd_learnt)


def test_calogan_tiny_run_on_real_showers(shower_files: list[Path], tmp_path: Path) -> None:
    """``fastshower train calogan`` on 48 real Geant4 positron showers, then generation."""
    from fastshower.generate import GenerateJob
    from fastshower.io import SHOWER_SCHEMA, read_dataset
    from fastshower.simulate.production import produce
    from fastshower.training.trainers import train_calogan

    data = shower_files[0]
    config = TrainConfig(epochs=2, batch_size=16, seed=1, lr_discriminator=2e-5, generator_steps=2)
    state = train_calogan(data, tmp_path / "m", config, progress=False)
    history = state["history"]
    assert len(history) == 2 and history[0]["loss_g"] != history[1]["loss_g"]
    assert all(np.isfinite(h["score"]) for h in history)
    model = load_model(tmp_path / "m" / "last")
    assert model.provenance["particle"] == "e+" and model.provenance["n_training"] == 43
    lo, hi = model.provenance["energy_range_gev"]
    assert 2.0 <= lo < hi <= 5.0
    job = GenerateJob(str(tmp_path / "m" / "best"), {"particle": "e+", "energy_gev": [2.0, 5.0]})
    out = produce(job, tmp_path / "gen.h5", 4, seed=1, chunk_size=4, workers=0, progress=False)
    assert len(read_dataset(out, SHOWER_SCHEMA)) == 4
