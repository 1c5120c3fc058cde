"""Checkpoints: a resumed training step equals an uninterrupted one; unsafe or broken files are
refused."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from fastshower.checkpoint import (
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def step(model: torch.nn.Module, optimiser: torch.optim.Optimizer) -> None:
    """One training step with fresh random data: depends on the RNG and the optimiser state."""
    x = torch.randn(8, 4)
    optimiser.zero_grad()
    model(x).pow(2).mean().backward()
    optimiser.step()


def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def test_resume_continues_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, optimiser = fresh()
    for _ in range(3):
        step(model, optimiser)
    path = save_checkpoint(
        tmp_path / "ckpt.pt",
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "epoch": 3,
            "rng": rng_state(),
            "config": {"lr": 1e-2, "hidden": [8]},
        },
    )
    step(model, optimiser)
    uninterrupted = [p.detach().clone() for p in model.parameters()]

    state = load_checkpoint(path)
    torch.manual_seed(123)  # a new process would start elsewhere
    model, optimiser = fresh()
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    set_rng_state(state["rng"])
    step(model, optimiser)
    for a, b in zip(model.parameters(), uninterrupted, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert state["epoch"] == 3 and state["config"] == {"lr": 1e-2, "hidden": [8]}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary left


def test_objects_that_need_pickle_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"state\['args'\] is a PosixPath"):
        save_checkpoint(tmp_path / "x.pt", {"args": Path("/tmp")})
    assert not (tmp_path / "x.pt").exists()

    class Evil:
        def __reduce__(self):
            return (print, ("this would run on load",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(CheckpointError, match="not a readable fastshower checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_broken_files_are_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ok.pt", {"w": torch.ones(1000)})
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: not a readable fastshower checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a dict"):
        load_checkpoint(tmp_path / "list.pt")
