"""Model file -> samples in the same HDF5 schema as the reference simulation.

Generation runs through the production machinery (``simulate.production``): a request is cut
into seeded chunks, each chunk is generated where a worker runs it (in this process, a local
Dask cluster or a remote scheduler) and written atomically, so a large request needs constant
memory, resumes after an interruption and gives the same file for the same seed on any number
of workers. ``fastshower evaluate`` takes the output unchanged.

Nothing here knows a model family: the model file names its family (``fastshower.models``),
which samples a typed condition into its schema and says what it does not generate (the files'
provenance records it as ``not_generated``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from fastshower.io import Schema
from fastshower.modelfile import LoadedModel, load_model, load_refiner, model_digest
from fastshower.models import family
from fastshower.models.family import condition_from_dict
from fastshower.models.refiner import Refiner

__all__ = ["GenerateJob", "position_scan"]


@dataclass(frozen=True)
class GenerateJob:
    """A generation request for ``simulate.production.produce``.

    ``condition``: for jet models ``{"class": "w" | "qcd" | "both"}``; for shower models
    ``{"particle": "e+", "energy_gev": [lo, hi]}`` (uniform in [lo, hi]), with
    ``"position_mm": [x, y]`` and ``"position_spread_mm": s`` off the centre, as JSON since it is
    part of the request a production resumes (``models.family.condition_from_dict`` makes it a
    typed condition). ``sampling``: for
    flow-matching models, ``{"steps": n, "solver": "euler" | "midpoint"}`` in place of the
    model file's (the same weights sampled at another cost and fidelity: ``docs/flows.md``).
    ``refiner_dir``: a refiner of this model's samples (``fastshower refine``); each event then
    gets its ``weight``.
    """

    model_dir: str
    condition: dict[str, Any]
    batch_size: int = 1024
    device: str = "cpu"
    sampling: dict[str, Any] = field(default_factory=dict)
    refiner_dir: str = ""
    compiled: bool = False
    """Full batches through ``torch.compile``: the same events to float rounding, faster once
    each worker process has compiled the model (``docs/performance.md``). Not part of the
    request: a production may be resumed with or without it."""
    digest: str = field(default="")
    refiner_digest: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_dir", str(Path(self.model_dir).resolve()))
        if self.refiner_dir:
            object.__setattr__(self, "refiner_dir", str(Path(self.refiner_dir).resolve()))
            refiner = _refiner(self.refiner_dir)
            expected = _model(self.model_dir, self.device, "{}").name
            if refiner.provenance.get("schema") != family(expected).schema.name:
                raise ValueError(
                    f"{self.refiner_dir} refines {refiner.provenance.get('schema')} samples; "
                    f"this {expected} model makes {family(expected).schema.name}"
                )
            object.__setattr__(self, "refiner_digest", model_digest(self.refiner_dir))
        _check_sampling(_model(self.model_dir, self.device, "{}").name, self.sampling)
        model = self._model()
        object.__setattr__(self, "digest", model_digest(self.model_dir))
        family(model.name).check(condition_from_dict(self.condition), model.provenance)
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")

    def _model(self) -> LoadedModel:
        return _model(self.model_dir, self.device, json.dumps(self.sampling, sort_keys=True))

    def _compiled(self) -> nn.Module:
        return _compiled(
            self.model_dir, self.device, json.dumps(self.sampling, sort_keys=True), self.batch_size
        )

    @property
    def schema(self) -> Schema:
        schema = family(self._model().name).schema
        return schema.with_weight() if self.refiner_dir else schema

    @property
    def settings(self) -> dict[str, Any]:
        """What makes two generated samples the same: the weights, the condition, the sampler
        and the refiner."""
        settings: dict[str, Any] = {"model_sha256": self.digest, "condition": self.condition}
        if self.sampling:
            settings["sampling"] = self.sampling
        if self.refiner_dir:
            settings["refiner_sha256"] = self.refiner_digest
        return settings

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        model = self._model()
        sampler = family(model.name)
        condition = condition_from_dict(self.condition)
        rng = torch.Generator(device=self.device).manual_seed(seed)
        full = self._compiled() if self.compiled else model.generator
        blocks = []
        for start in range(0, n_events, self.batch_size):
            n = min(self.batch_size, n_events - start)
            generator = full if n == self.batch_size else model.generator  # one compiled shape
            blocks.append(sampler.sample(generator, n, condition, rng, self.device))
        arrays = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
        if self.refiner_dir:
            refiner = cast(Refiner, _refiner(self.refiner_dir).generator)
            arrays["weight"] = refiner.weights(arrays)
        return arrays

    def provenance(self) -> dict[str, Any]:
        model = self._model()
        return {
            "generator": f"fastshower {model.name}",
            "model_dir": self.model_dir,
            "model_config": model.config,
            "sampling": self.sampling or "as in the model file",
            "model_provenance": model.provenance,
            "condition": self.condition,
            "not_generated": family(model.name).not_generated,
            **(
                {"refiner_dir": self.refiner_dir, "refiner": _refiner(self.refiner_dir).provenance}
                if self.refiner_dir
                else {}
            ),
        }


@cache
def _model(model_dir: str, device: str, sampling: str) -> LoadedModel:
    """Loaded once per process and sampler (each Dask worker loads it on its first chunk)."""
    model = load_model(model_dir, map_location=device)
    model.generator.to(device)
    for key, value in json.loads(sampling).items():
        setattr(model.generator, key, value)
    return model


@cache
def _compiled(model_dir: str, device: str, sampling: str, batch_size: int) -> nn.Module:
    """The model's generator through ``torch.compile`` for batches of ``batch_size``, compiled
    here, once per process, on a batch of the family's example conditions. Where that fails
    (no C++ compiler, an operation the compiler does not support), a one-line warning and the
    generator as it is: compiling is for speed, never a reason to stop."""
    model = _model(model_dir, device, sampling)
    generator = model.generator
    latent = torch.zeros(batch_size, cast(int, generator.latent_size), device=device)
    condition = family(model.name).example_condition(generator, batch_size).to(device)
    compiled = cast(nn.Module, torch.compile(generator, dynamic=False))
    try:
        with torch.no_grad():
            compiled(latent, condition)
    except Exception as exc:  # torch's compiler raises many kinds; any of them: run uncompiled
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        warnings.warn(f"torch.compile failed, generating uncompiled: {first_line}", stacklevel=2)
        return generator
    return compiled


@cache
def _refiner(refiner_dir: str) -> LoadedModel:
    return load_refiner(refiner_dir)


def _check_sampling(name: str, sampling: dict[str, Any]) -> None:
    if not sampling:
        return
    check = family(name).sampling
    if check is None:
        raise ValueError(
            f"this {name} model has no sampler settings to change ({sorted(sampling)})"
        )
    check(sampling)


def position_scan(
    model_dir: str | Path,
    particle: str,
    energy_gev: float,
    points_mm: np.ndarray,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One shower per incidence point of ``points_mm`` (K, 2), all from the same latent vector,
    as CaloGAN's authors showed their position-conditioned model: only the point moves. A model
    that learnt it moves its shower with the point, and across a cell boundary the energy passes
    from one cell to the next. Refused where the model's training showers never entered
    (``Family.check``)."""
    from fastshower.models.family import ShowerCondition

    model = load_model(model_dir)
    sampler = family(model.name)
    points = np.asarray(points_mm, dtype=np.float64).reshape(-1, 2)
    conditions = [ShowerCondition(particle, (energy_gev, energy_gev), (x, y)) for x, y in points]
    for condition in conditions:
        sampler.check(condition, model.provenance)
    rng = torch.Generator().manual_seed(seed)
    latent_size = cast(int, model.generator.latent_size)  # every family's generator has one
    latent = torch.randn(1, latent_size, generator=rng).expand(len(points), -1)
    cond = torch.cat(
        [sampler.condition_tensor(model.generator, c, 1, rng, "cpu") for c in conditions]
    )
    with torch.no_grad():
        output = model.generator(latent, cond)
    return sampler.to_arrays(model.generator, output, cond, conditions[0])
