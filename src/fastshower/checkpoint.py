"""Training checkpoints: one plain dict of every stateful object, written atomically, read back
without unpickling arbitrary objects.

A checkpoint holds what a resumed run needs to continue as if never stopped: model and optimiser
state dicts, the epoch and step, the random generators' states, the best validation loss. Only
tensors and plain Python values (dicts, lists, str, int, float, bool, None) are allowed, so
``torch.load(weights_only=True)`` can read it: a checkpoint file cannot run code when loaded.
(Do not put an argparse namespace or a dataclass in it; store ``dataclasses.asdict(...)``.)

Writes go to a temporary file in the same folder, are flushed to disk and renamed over the old
checkpoint, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read as it is."""


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically; refuse values a safe load could not read back."""
    path = Path(path)
    _check_plain(state, "state")
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "wb") as fh:
            torch.save(dict(state), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (tensors and plain values only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ...
        raise CheckpointError(
            f"{path}: not a readable fastshower checkpoint (truncated, corrupt, or holding "
            f"objects other than tensors and plain values): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: a checkpoint holds a dict, this holds {type(state)}")
    return state


def rng_state() -> dict[str, Any]:
    """The global torch random states (CPU, and CUDA where present), for a checkpoint."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _check_plain(value: Any, where: str) -> None:
    if (
        isinstance(value, torch.Tensor)
        or value is None
        or isinstance(value, (str, bool, int, float))
    ):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise CheckpointError(f"{where}: key {key!r} is not a str or int")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {type(value).__name__}: checkpoints hold tensors and plain values only "
        "(store dataclasses.asdict(...) or the object's state_dict())"
    )
