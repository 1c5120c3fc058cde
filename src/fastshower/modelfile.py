"""Model files: a folder with the generator's weights and a JSON description, no pickle.

``<dir>/config.json`` names the file format, the model family (``fastshower.models``), the
config its generator is built from, and the provenance (fastshower version, training settings,
the training data's SHA-256, epochs, creation time). ``<dir>/generator.pt`` holds the
generator's ``state_dict``, read back with ``torch.load(weights_only=True)``.

Loading checks all of it and says what is wrong: another format, an unknown model, weights that
do not fit the config (another model's file, or another version's architecture).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torch import nn

from fastshower import __version__
from fastshower.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fastshower.models import build_generator

__all__ = ["FORMAT", "LoadedModel", "ModelFileError", "load_model", "save_model"]

FORMAT = "fastshower-model/1"
_CONFIG, _WEIGHTS = "config.json", "generator.pt"


class ModelFileError(ValueError):
    """A model folder that cannot be loaded as it is."""


@dataclass
class LoadedModel:
    name: str
    generator: nn.Module
    config: dict[str, Any]
    provenance: dict[str, Any]


def save_model(
    directory: str | os.PathLike[str],
    name: str,
    generator: nn.Module,
    config: dict[str, Any],
    provenance: dict[str, Any],
) -> Path:
    """Write ``generator`` (of family ``name``, built from ``config``) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_checkpoint(directory / _WEIGHTS, {"generator": generator.state_dict()})
    description = {
        "format": FORMAT,
        "model": name,
        "config": config,
        "provenance": {
            "fastshower_version": __version__,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **provenance,
        },
    }
    tmp = directory / f".{_CONFIG}.tmp"
    tmp.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, directory / _CONFIG)
    return directory


def load_model(directory: str | os.PathLike[str], map_location: str = "cpu") -> LoadedModel:
    """The generator of a model folder, in eval mode, with its config and provenance."""
    directory = Path(directory)
    where = str(directory)
    if not (directory / _CONFIG).is_file():
        raise ModelFileError(f"{where}: not a model folder (no {_CONFIG})")
    try:
        description = json.loads((directory / _CONFIG).read_text())
    except ValueError as exc:
        raise ModelFileError(f"{where}/{_CONFIG} is not valid JSON: {exc}") from exc
    if description.get("format") != FORMAT:
        raise ModelFileError(
            f"{where}: format {description.get('format')!r}; this fastshower ({__version__}) "
            f"reads {FORMAT!r}"
        )
    name, config = description.get("model"), description.get("config", {})
    try:
        generator = build_generator(name, config)
        state = load_checkpoint(directory / _WEIGHTS, map_location=map_location)["generator"]
    except (ValueError, KeyError, CheckpointError) as exc:
        raise ModelFileError(f"{where}: {exc}") from exc
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        made_by = description.get("provenance", {}).get("fastshower_version", "?")
        raise ModelFileError(
            f"{where}: the weights do not fit a {name!r} generator with config {config} (made "
            f"by fastshower {made_by}, this is {__version__}): {str(exc).splitlines()[0]}"
        ) from exc
    return LoadedModel(name, generator.eval(), config, description.get("provenance", {}))
