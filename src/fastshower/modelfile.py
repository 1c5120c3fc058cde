"""Model files: a folder with the generator's weights and a JSON description, no pickle.

``<dir>/config.json`` names the file format, the model family (``fastshower.models``), the
config its generator is built from, and the provenance (fastshower version, training settings,
the training data's SHA-256, epochs, creation time). ``<dir>/generator.pt`` holds the
generator's ``state_dict``, read back with ``torch.load(weights_only=True)``.

A model can store its parameters in half precision (``save_model(..., half=True)``, ``fastshower
export half``): half the file, for shipping. Loading casts them back to float32, so the generator
computes exactly as before with weights rounded to 11 significant bits; the buffers (the shower
space's standardisation, masks) stay float32, since rounding a mean of log-energies would shift
every cell by the same amount.

Loading checks all of it and says what is wrong: another format, an unknown model, weights that
do not fit the config (another model's file, or another version's architecture).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torch import nn

from fastshower import __version__
from fastshower.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fastshower.models import build_generator
from fastshower.models.refiner import REFINER, Refiner

__all__ = [
    "FORMAT",
    "LoadedModel",
    "ModelFileError",
    "halve_model",
    "load_model",
    "load_refiner",
    "model_digest",
    "save_model",
]

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
    *,
    half: bool = False,
) -> Path:
    """Write ``generator`` (of family ``name``, built from ``config``) into ``directory``;
    ``half`` stores its parameters as float16."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = generator.state_dict()
    if half:
        parameters = {name for name, _ in generator.named_parameters()}
        state = {
            k: v.half() if k in parameters and v.is_floating_point() else v
            for k, v in state.items()
        }
        provenance = {**provenance, "parameters_stored_as": "float16"}
    save_checkpoint(directory / _WEIGHTS, {"generator": state})
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
    return _load(directory, map_location, build_generator)


def load_refiner(directory: str | os.PathLike[str]) -> LoadedModel:
    """The refiner (``models.refiner``) of a refiner folder, with its config and provenance."""

    def build(name: str, config: dict[str, Any]) -> nn.Module:
        if name != REFINER:
            raise ValueError(f"it holds a {name!r} model, not a refiner (fastshower refine)")
        try:
            return Refiner(**config)
        except TypeError as exc:
            raise ValueError(f"a refiner does not take the config {config}: {exc}") from exc

    return _load(directory, "cpu", build)


def _load(
    directory: str | os.PathLike[str],
    map_location: str,
    build: Callable[[str, dict[str, Any]], nn.Module],
) -> LoadedModel:
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
        generator = build(name, config)
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


def halve_model(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """A copy of the model folder ``source`` in ``out`` with its parameters stored as float16."""
    if Path(out).resolve() == Path(source).resolve():
        raise ValueError(f"{out}: write the half-precision copy to another folder")
    model = load_model(source)
    return save_model(out, model.name, model.generator, model.config, model.provenance, half=True)


def model_digest(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over the model folder's config and weights: what generated files and students
    record of the model that made them."""
    digest = hashlib.sha256()
    for name in (_CONFIG, _WEIGHTS):
        digest.update((Path(model_dir) / name).read_bytes())
    return digest.hexdigest()
