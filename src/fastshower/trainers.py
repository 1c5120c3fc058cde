"""What ``fastshower train <model>`` runs: dataset files -> a recipe -> the training loop.

Each function reads the training files, holds out a validation share (the same events for the
same seed), records the files' SHA-256 in the model's provenance, and calls ``train``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fastshower.data import JetImagePreprocessing, JetImages, file_sha256, load_jet_images
from fastshower.models.lagan import LaganRecipe
from fastshower.train import TrainConfig, train

__all__ = ["split_validation", "train_lagan"]


def split_validation(data: JetImages, fraction: float, seed: int) -> tuple[JetImages, JetImages]:
    """(training, validation): a seeded random ``fraction`` of the events held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(fraction * len(data)))
    val, tr = order[:n_val], order[n_val:]
    return JetImages(data.images[tr], data.labels[tr]), JetImages(
        data.images[val], data.labels[val]
    )


def train_lagan(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train LAGAN on jet-image files (typically the W file and the QCD file)."""
    config = config or TrainConfig()
    preprocessing = JetImagePreprocessing()
    data = load_jet_images(data_paths, preprocessing)
    training, validation = split_validation(data, validation_fraction, config.seed)
    if len(training) < config.batch_size:
        raise ValueError(
            f"{len(training)} training jets is less than one batch ({config.batch_size})"
        )
    recipe = LaganRecipe(validation=(validation.images, validation.labels))
    provenance = {
        "training_data": [str(Path(p)) for p in data_paths],
        "training_data_sha256": [file_sha256(p) for p in data_paths],
        "n_training": len(training),
        "n_validation": len(validation),
        "preprocessing": {"name": "lagan", "scale_gev": preprocessing.scale_gev,
                          "threshold": preprocessing.threshold},
    }  # fmt: skip
    return train(recipe, training, out, config, resume=resume, provenance=provenance,
                 progress=progress)  # fmt: skip
