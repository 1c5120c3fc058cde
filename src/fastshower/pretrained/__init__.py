"""Trained generators shipped inside the package: the demo's defaults, usable by name.

Each is a model folder (``fastshower.modelfile``) under this package; its ``config.json`` says
how it was trained and on which data (SHA-256), and ``docs/validation.md`` how well it does.
``fastshower generate --model NAME`` and ``fastshower bench --model NAME`` take these names
wherever a model folder is expected.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_JET_MODEL", "DEFAULT_SHOWER_MODEL", "available", "resolve_model"]

_HERE = Path(__file__).parent

DEFAULT_SHOWER_MODEL = "calo-flow"
"""The demo's shower generator."""
DEFAULT_JET_MODEL = "jet-rnn"
"""The demo's jet-image generator (W and QCD)."""


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.name for p in _HERE.iterdir() if (p / "config.json").is_file())


def resolve_model(model: str | os.PathLike[str]) -> Path:
    """A model folder given as a path, or the name of a shipped model."""
    path = Path(model)
    if path.exists() or os.sep in str(model):
        return path
    shipped = _HERE / str(model)
    if (shipped / "config.json").is_file():
        return shipped
    names = ", ".join(available()) or "none"
    raise FileNotFoundError(
        f"{model}: no such model folder, and no shipped model of that name (shipped: {names})"
    )
