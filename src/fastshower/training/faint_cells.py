"""Fit a shower model's faint-cell map (``fastshower.models.faint_cells``) after its training:
the model generates showers at the conditions of Geant4 training showers, and each particle's
and layer's map takes the generated faint cells onto Geant4's. Written as a new model folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import torch
from tqdm.auto import tqdm

from fastshower.detector import CALORIMETER
from fastshower.modelfile import load_model, save_model
from fastshower.models import build_generator
from fastshower.models.shower_space import ShowerFlow
from fastshower.particles import pdg_code
from fastshower.training.data import file_sha256, load_shower_vectors

__all__ = ["fit_faint_cells"]

_LAYER_SIZES = [layer.n_cells for layer in CALORIMETER.layers]


def fit_faint_cells(
    model_dir: str | os.PathLike[str],
    data: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    threshold_mev: float = 1.0,
    seed: int = 0,
    batch_size: int = 1024,
    progress: bool = True,
) -> Path:
    """The model of ``model_dir`` with its faint cells (below ``threshold_mev``) mapped onto
    those of the Geant4 *training* files ``data``, in ``out``. Never give it test showers:
    the map would then be fitted on what it is judged on."""
    if Path(out).resolve() == Path(model_dir).resolve():
        raise ValueError(f"{out}: write the calibrated model to another folder")
    model = load_model(model_dir)
    flow = cast(ShowerFlow, model.generator)
    if not hasattr(flow, "space"):
        raise ValueError(
            f"{model_dir}: a {model.name!r} model has no faint-cell map (shower flows, shower-rnn)"
        )
    showers = load_shower_vectors(list(data))
    unknown = sorted(set(showers.particles) - set(flow.space.particles))
    if unknown:
        raise ValueError(f"the model never learnt {', '.join(unknown)} ({flow.space.particles})")
    flow.space.faint = None  # the map is fitted on what the flow itself makes
    generated = _generate(model.generator, showers.condition, seed, batch_size, progress)

    config = {**model.config, "faint_mev": float(threshold_mev)}
    calibrated = build_generator(model.name, config)
    # the same network; only the map is new (an already calibrated model brings its own)
    missing, unexpected = calibrated.load_state_dict(model.generator.state_dict(), strict=False)
    maps = {"space.faint.table", "space.summaries.faint.table"}  # a flow's, the shower RNN's
    assert not unexpected and set(missing) <= maps, (missing, unexpected)
    faint = cast(ShowerFlow, calibrated).space.faint
    assert faint is not None
    for index, particle in enumerate(flow.space.particles):
        rows = showers.condition[:, 1] == pdg_code(particle)
        if rows.any():
            faint.fit(
                [g[rows].numpy() for g in generated.split(_LAYER_SIZES, dim=1)],
                [c[rows].numpy() for c in showers.cells.split(_LAYER_SIZES, dim=1)],
                index,
            )
    provenance = {
        **model.provenance,
        "faint_cells": {
            "threshold_mev": float(threshold_mev),
            "fitted_on": {Path(p).name: file_sha256(p) for p in data},
            "events": len(showers),
            "seed": seed,
        },
    }
    half = model.provenance.get("parameters_stored_as") == "float16"
    return save_model(out, model.name, calibrated.eval(), config, provenance, half=half)


@torch.no_grad()
def _generate(
    generator: torch.nn.Module,
    condition: torch.Tensor,
    seed: int,
    batch_size: int,
    progress: bool,
) -> torch.Tensor:
    """Showers (N, 504) in MeV at the given conditions."""
    rng = torch.Generator().manual_seed(seed)
    latent_size = cast(ShowerFlow, generator).latent_size
    parts = []
    for start in tqdm(
        range(0, len(condition), batch_size), desc="generating", unit="batch", disable=not progress
    ):
        cond = condition[start : start + batch_size]
        layers = generator(torch.randn(len(cond), latent_size, generator=rng), cond)
        parts.append(torch.cat([layer.reshape(len(cond), -1) for layer in layers], dim=1))
    return torch.cat(parts)
