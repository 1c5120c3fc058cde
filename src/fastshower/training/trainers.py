"""What ``fastshower train <model>`` runs: dataset files -> a recipe -> the training loop.

Each function reads the training files, holds out a validation share (the same events for the
same seed), records the files' SHA-256 in the model's provenance, and calls ``train``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fastshower.io import (
    JET_SCHEMA,
    SCHEMAS,
    SHOWER_SCHEMA,
    dataset_info,
    read_dataset,
    write_dataset,
)
from fastshower.models.shower_space import ShowerSpaceSettings
from fastshower.training.calo_flow import CaloFlowRecipe
from fastshower.training.calogan import CaloganRecipe
from fastshower.training.data import (
    JetImagePreprocessing,
    JetImages,
    ShowerVectors,
    file_sha256,
    load_jet_images,
    load_shower_vectors,
    load_showers,
)
from fastshower.training.flow_matching import FlowMatchingRecipe
from fastshower.training.jet_flow import JetFlowRecipe
from fastshower.training.jet_rnn import JetRNNRecipe
from fastshower.training.lagan import LaganRecipe
from fastshower.training.loop import TrainConfig, train
from fastshower.training.shower_recipe import ShowerRecipe
from fastshower.training.shower_rnn import ShowerRNNRecipe

__all__ = [
    "CALOGAN_TRAINING",
    "CALO_FLOW_TRAINING",
    "DISTILL_TRAINING",
    "FLOW_TRAINING",
    "JET_FLOW_TRAINING",
    "JET_RNN_TRAINING",
    "LAGAN_TRAINING",
    "SHOWER_RNN_TRAINING",
    "distill_one_step",
    "split_indices",
    "train_calo_flow",
    "train_calogan",
    "train_flow_matching",
    "train_jet_flow",
    "train_jet_rnn",
    "train_lagan",
    "train_shower_rnn",
    "write_held_out",
]


def split_indices(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, validation) event indices: a seeded random ``fraction`` held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(fraction * n))
    return order[n_val:], order[:n_val]


def write_held_out(
    data_paths: list[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    fraction: float = 0.1,
    seed: int = 0,
    training_events: int = 0,
) -> list[Path]:
    """Write, per file (showers or jet images), the events a training on ``data_paths`` (in
    that order, with ``fraction`` and ``seed``) holds out for validation: the fair reference
    for ``fastshower evaluate``, which the model never learnt from. With ``training_events``,
    also that many events per file that the training did learn from (``<file>-training.h5``):
    judged against the held-out ones, they are Geant4 (or Pythia) against itself, the floor of
    every metric at that sample size."""
    if training_events < 0:
        raise ValueError(f"training_events must be >= 0, got {training_events}")
    infos = [dataset_info(p) for p in data_paths]
    bounds = np.cumsum([0, *(info.n_events for info in infos)])  # each file's events
    training_rows, held_out_rows = split_indices(int(bounds[-1]), fraction, seed)
    training, held_out = training_rows.numpy(), np.sort(held_out_rows.numpy())
    if training_events:  # refuse before writing anything
        for path, n in zip(data_paths, np.histogram(training, bounds)[0], strict=True):
            if n < training_events:
                raise ValueError(f"{path}: {n} training events, not {training_events}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, info, lo, hi in zip(data_paths, infos, bounds[:-1], bounds[1:], strict=True):
        schema = SCHEMAS.get(
            info.provenance.get("schema", ""),  # none recorded (a published file): by its keys
            JET_SCHEMA if "image" in info.keys else SHOWER_SCHEMA,
        )
        data = read_dataset(path, schema)
        split = {
            "held_out_from": Path(path).name,
            "held_out_sha256": file_sha256(path),
            "held_out_fraction": fraction,
            "held_out_seed": seed,
            "held_out_files": [Path(p).name for p in data_paths],
        }
        subsets = {"heldout": held_out[(held_out >= lo) & (held_out < hi)] - lo}
        if training_events:  # the first ones in the split's random order
            chosen = training[(training >= lo) & (training < hi)][:training_events]
            subsets["training"] = np.sort(chosen) - lo
        for part, index in subsets.items():
            arrays = {k: v[index] for k, v in data.arrays.items()}
            provenance = {**data.provenance, **split, "subset": part}
            out_path = out_dir / f"{Path(path).stem}-{part}.h5"
            written.append(write_dataset(out_path, arrays, schema, provenance))
    return written


LAGAN_TRAINING = TrainConfig()
"""LAGAN as published: Adam 2e-4 (both networks), beta1 0.5, batch 100, 50 epochs."""

CALOGAN_TRAINING = TrainConfig(batch_size=256, lr_discriminator=2e-5, generator_steps=2)
"""CaloGAN as published: Adam 2e-4 (G) / 2e-5 (D), beta1 0.5, batch 256, 50 epochs, two
generator updates per discriminator update."""


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
    config = config or LAGAN_TRAINING
    preprocessing = JetImagePreprocessing()
    training, validation = _split_jets(data_paths, preprocessing, validation_fraction, config.seed)
    recipe = LaganRecipe(validation=(validation.images, validation.labels))
    provenance = {
        **_data_provenance(data_paths, len(training), len(validation), config, "jets"),
        "preprocessing": {
            "name": "lagan",
            "scale_gev": preprocessing.scale_gev,
            "threshold": preprocessing.threshold,
        },
    }
    return train(
        recipe, training, out, config, resume=resume, provenance=provenance, progress=progress
    )


def train_calogan(
    data_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train CaloGAN on one particle's shower file (one GAN per particle, as published)."""
    config = config or CALOGAN_TRAINING
    showers = load_showers(data_path)
    tr, val = split_indices(len(showers), validation_fraction, config.seed)
    training, validation = showers.subset(tr), showers.subset(val)
    energy = showers.energy
    recipe = CaloganRecipe(
        energy_range_gev=(float(energy.min()), float(energy.max())),
        validation=(validation.layers, validation.energy),
    )
    provenance = {
        **_data_provenance([data_path], len(training), len(validation), config, "showers"),
        "particle": showers.particle,
        "energy_range_gev": list(recipe.energy_range_gev),
        "preprocessing": {"name": "calogan", "cells": "MeV / 1000 (GeV)"},
    }
    return train(
        recipe, training, out, config, resume=resume, provenance=provenance, progress=progress
    )


FLOW_TRAINING = TrainConfig(
    epochs=40,
    batch_size=128,
    lr_generator=1e-3,
    betas=(0.9, 0.999),
    lr_schedule="cosine",
    ema=0.999,
    validate_every=5,
)
"""Flow-matching defaults: Adam 1e-3 (beta1 0.9: a regression, not the GANs' 0.5)
cosine-decayed, batch 128, weight average 0.999, 40 epochs (on 9000 e+ showers the validation
score stopped improving after 20-30 epochs, in runs of 40 and 100); the validation (which
samples) every 5 epochs, as it costs about as much as a training epoch."""


def train_flow_matching(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one flow-matching model on the shower files of every particle given."""
    return _train_shower_model(
        FlowMatchingRecipe,
        data_paths,
        out,
        config or FLOW_TRAINING,
        model_config,
        validation_fraction,
        resume,
        progress,
    )


CALO_FLOW_TRAINING = TrainConfig(
    epochs=30,
    batch_size=256,
    lr_generator=5e-4,
    betas=(0.9, 0.999),
    lr_schedule="cosine",
    ema=0.999,
    validate_every=5,
)
"""CaloFlow defaults, those of the measured runs (``docs/flows.md``): maximum likelihood with
Adam 5e-4 cosine-decayed, batch 256, weight average 0.999, 30 epochs (on 9000 e+ showers the
validation score was within 10 % of its best from epoch 15 on)."""


def train_calo_flow(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one CaloFlow-style normalizing flow on the shower files of every particle given."""
    return _train_shower_model(
        CaloFlowRecipe,
        data_paths,
        out,
        config or CALO_FLOW_TRAINING,
        model_config,
        validation_fraction,
        resume,
        progress,
    )


SHOWER_RNN_TRAINING = replace(CALO_FLOW_TRAINING, batch_size=64, epochs=16)
"""Shower-RNN defaults: the jet RNN's (Adam 5e-4 cosine-decayed, batch 64, weight average
0.999), 16 epochs (on 18 000 pions, about 210 s each on one core)."""


def train_shower_rnn(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one shower RNN on the shower files of every particle given."""
    return _train_shower_model(
        ShowerRNNRecipe,
        data_paths,
        out,
        config or SHOWER_RNN_TRAINING,
        model_config,
        validation_fraction,
        resume,
        progress,
    )


JET_FLOW_TRAINING = replace(CALO_FLOW_TRAINING, epochs=15)
"""Jet-flow defaults: calo-flow's optimiser and schedule over 15 epochs (on 36 000 jets, about
100 s each on 2 cores; the validation score was best at epoch 5, ``docs/models.md``)."""


def train_jet_flow(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the jet-image flow on jet-image files (typically the W file and the QCD file), the
    same split of them as LAGAN's."""
    return _train_jet_likelihood(
        JetFlowRecipe,
        "jet_space",
        data_paths,
        out,
        config or JET_FLOW_TRAINING,
        model_config,
        validation_fraction,
        resume,
        progress,
    )


JET_RNN_TRAINING = replace(CALO_FLOW_TRAINING, batch_size=64, epochs=20)
"""Jet-RNN defaults (the shipped model's): Adam 5e-4 cosine-decayed, batch 64, weight average
0.999, 20 epochs. Steps count more than batch size: on 18 000 W jets, 6 epochs at batch 64
reached a mass W1 of 5.3 GeV where batch 256 (a quarter of the steps, same time) stayed at 23 GeV
(with a transformer in the GRU's place)."""


def train_jet_rnn(
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the jet RNN on jet-image files, the same split of them as LAGAN's."""
    return _train_jet_likelihood(
        JetRNNRecipe,
        "jet_tokens",
        data_paths,
        out,
        config or JET_RNN_TRAINING,
        model_config,
        validation_fraction,
        resume,
        progress,
    )


def _train_jet_likelihood(
    recipe_class: type[JetFlowRecipe],
    preprocessing: str,
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig,
    model_config: dict[str, Any] | None,
    validation_fraction: float,
    resume: bool,
    progress: bool,
) -> dict[str, Any]:
    """A jet model trained by maximum likelihood on images in GeV (the model's space codes them)."""
    in_gev = JetImagePreprocessing(scale_gev=1.0, threshold=0.0)
    training, validation = _split_jets(data_paths, in_gev, validation_fraction, config.seed)
    recipe = recipe_class(
        model_config or {},
        training=(training.images, training.labels),
        validation=(validation.images, validation.labels),
    )
    provenance = {
        **_data_provenance(data_paths, len(training), len(validation), config, "jets"),
        "preprocessing": {"name": preprocessing, "pixels": "GeV"},
    }
    return train(
        recipe, training, out, config, resume=resume, provenance=provenance, progress=progress
    )


def _train_shower_model(
    recipe_class: type[ShowerRecipe],
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig,
    model_config: dict[str, Any] | None,
    validation_fraction: float,
    resume: bool,
    progress: bool,
) -> dict[str, Any]:
    data, training, validation = _split_showers(data_paths, validation_fraction, config.seed)
    model_config = {**(model_config or {}), "particles": data.particles}
    recipe = recipe_class(
        model_config,
        training=(training.cells, training.condition),
        validation=(validation.cells, validation.condition),
    )
    provenance = {
        **_data_provenance(data_paths, len(training), len(validation), config, "showers"),
        "particles": data.particles,
        **_condition_ranges(data.condition),
        "preprocessing": {"name": "shower_space", "cells": "MeV"},
    }
    return train(
        recipe, training, out, config, resume=resume, provenance=provenance, progress=progress
    )


DISTILL_TRAINING = TrainConfig(
    epochs=30,
    batch_size=256,
    lr_generator=3e-4,
    betas=(0.9, 0.999),
    lr_schedule="cosine",
    ema=0.999,
    validate_every=5,
)
"""Distillation defaults: the student starts near the teacher, so a smaller learning rate."""


_TEACHERS = ("flow-matching", "calo-flow")


def distill_one_step(
    teacher_dir: str | os.PathLike[str],
    data_paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    model_config: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a one-step student of the shower flow (flow-matching or CaloFlow) in
    ``teacher_dir`` on the conditions of ``data_paths`` (the teacher's training files: the same
    split is held out). The student is a flow-matching model in the teacher's space; its size is
    a flow-matching teacher's unless ``model_config`` says otherwise."""
    from fastshower.modelfile import load_model, model_digest
    from fastshower.training.distill import DistillRecipe

    config = config or DISTILL_TRAINING
    teacher = load_model(teacher_dir)
    if teacher.name not in _TEACHERS:
        raise ValueError(
            f"{teacher_dir} holds a {teacher.name!r} model; a teacher is one of "
            f"{', '.join(_TEACHERS)}"
        )
    data, training, validation = _split_showers(data_paths, validation_fraction, config.seed)
    if data.particles != teacher.config["particles"]:
        raise ValueError(
            f"the teacher learnt {teacher.config['particles']}, the data hold {data.particles}"
        )
    inherited = (
        teacher.config
        if teacher.name == "flow-matching"
        else {"particles": teacher.config["particles"]}
        | asdict(ShowerSpaceSettings.of(teacher.config))
    )
    student_config = {**inherited, **(model_config or {})}
    recipe = DistillRecipe(
        teacher.generator,
        student_config,
        training=(training.cells, training.condition),
        validation=(validation.cells, validation.condition),
    )
    provenance = {
        **_data_provenance(data_paths, len(training), len(validation), config, "showers"),
        "particles": data.particles,
        **_condition_ranges(data.condition),
        "preprocessing": teacher.provenance.get("preprocessing"),
        "distilled_from": {
            # a shipped model's name, or a training's folder and its best/ or last/
            "model": "/".join(Path(teacher_dir).resolve().parts[-2:]),
            "model_sha256": model_digest(teacher_dir),
            "config": teacher.config,
        },
    }
    return train(
        recipe, training, out, config, resume=resume, provenance=provenance, progress=progress
    )


def _split_jets(
    data_paths: list[str | os.PathLike[str]],
    preprocessing: JetImagePreprocessing,
    fraction: float,
    seed: int,
) -> tuple[JetImages, JetImages]:
    """(training, validation) of jet-image files: the split ``write_held_out`` reproduces."""
    data = load_jet_images(data_paths, preprocessing)
    tr, val = split_indices(len(data), fraction, seed)
    return JetImages(data.images[tr], data.labels[tr]), JetImages(
        data.images[val], data.labels[val]
    )


def _split_showers(
    data_paths: list[str | os.PathLike[str]], fraction: float, seed: int
) -> tuple[ShowerVectors, ShowerVectors, ShowerVectors]:
    """(all, training, validation) of shower files: the split ``write_held_out`` reproduces."""
    data = load_shower_vectors(data_paths)
    tr, val = split_indices(len(data), fraction, seed)
    return data, data.subset(tr), data.subset(val)


def _data_provenance(
    paths: list[str | os.PathLike[str]],
    n_training: int,
    n_validation: int,
    config: TrainConfig,
    what: str,
) -> dict[str, Any]:
    """What a model records of its training data; refuses a training set below one batch."""
    if n_training < config.batch_size:
        raise ValueError(
            f"{n_training} training {what} is less than one batch ({config.batch_size})"
        )
    return {
        "training_data": [Path(p).name for p in paths],  # by name and checksum: no machine path
        "training_data_sha256": [file_sha256(p) for p in paths],
        "n_training": n_training,
        "n_validation": n_validation,
    }


def _condition_ranges(condition: torch.Tensor) -> dict[str, Any]:
    """The incident energies and incidence points a shower flow learnt, from its (N, 4)
    conditions: generation refuses points outside them (``Family.check``)."""
    energy, position = condition[:, 0], condition[:, 2:4]
    return {
        "energy_range_gev": [float(energy.min()), float(energy.max())],
        "position_range_mm": [
            [float(position[:, axis].min()), float(position[:, axis].max())] for axis in (0, 1)
        ],
    }
