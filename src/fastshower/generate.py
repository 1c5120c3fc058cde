"""Model file -> samples in the same HDF5 schema as the reference simulation.

Generation runs through the production machinery (``simulate.production``): a request is cut
into seeded chunks, each chunk is generated where a worker runs it (in this process, a local
Dask cluster or a remote scheduler) and written atomically, so a large request needs constant
memory, resumes after an interruption and gives the same file for the same seed on any number
of workers. ``fastshower evaluate`` takes the output unchanged.

What a generator does not produce is filled so the file stays in its schema, and said so in the
provenance (``not_generated``):

- LAGAN images: ``jet_pt``, ``jet_mass`` and the N-subjettiness values are computed from the
  generated pixels, as for any image; the jet's direction (``jet_eta``, ``jet_phi``), the
  subjets' distance and ``pt_hat`` do not exist for an image alone and are 0.
- CaloGAN showers: the overflow (energy outside the cells) is 0 and the incidence point the
  centre, as for the published CaloGAN.
- Flow-matching and CaloFlow showers: the overflow is 0; the incidence point is the centre,
  where the reference sets were simulated (the model takes a position, but has only seen that
  one).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fastshower.io import JET_SCHEMA, SHOWER_SCHEMA, Schema
from fastshower.modelfile import LoadedModel, load_model

__all__ = ["GenerateJob", "model_digest"]

JET_CLASSES = {"w": 1, "qcd": 0}
BOTH_CLASSES = "both"
"""LAGAN's ``class`` for a sample of both kinds, each jet W or QCD with equal probability: the
mix of the reference sets, so one file compares with them pooled (``fastshower evaluate``)."""


@dataclass(frozen=True)
class GenerateJob:
    """A generation request for ``simulate.production.produce``.

    ``condition``: for LAGAN ``{"class": "w" | "qcd" | "both"}``; for shower models
    ``{"particle": "e+", "energy_gev": [lo, hi]}`` (uniform in [lo, hi]). ``sampling``: for
    flow-matching models, ``{"steps": n, "solver": "euler" | "midpoint"}`` in place of the
    model file's (the same weights sampled at another cost and fidelity: ``docs/flows.md``).
    """

    model_dir: str
    condition: dict[str, Any]
    batch_size: int = 1024
    device: str = "cpu"
    sampling: dict[str, Any] = field(default_factory=dict)
    digest: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_dir", str(Path(self.model_dir).resolve()))
        _check_sampling(_model(self.model_dir, self.device, "{}").name, self.sampling)
        model = self._model()
        object.__setattr__(self, "digest", model_digest(self.model_dir))
        _check_condition(model, self.condition)
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")

    def _model(self) -> LoadedModel:
        return _model(self.model_dir, self.device, json.dumps(self.sampling, sort_keys=True))

    @property
    def schema(self) -> Schema:
        return JET_SCHEMA if self._model().name == "lagan" else SHOWER_SCHEMA

    @property
    def settings(self) -> dict[str, Any]:
        """What makes two generated samples the same: the weights, the condition, the sampler."""
        settings = {"model_sha256": self.digest, "condition": self.condition}
        return {**settings, "sampling": self.sampling} if self.sampling else settings

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        model = self._model()
        rng = torch.Generator(device=self.device).manual_seed(seed)
        blocks = []
        with torch.no_grad():
            for start in range(0, n_events, self.batch_size):
                n = min(self.batch_size, n_events - start)
                blocks.append(_SAMPLERS[model.name](model, n, self.condition, rng, self.device))
        return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}

    def provenance(self) -> dict[str, Any]:
        model = self._model()
        return {
            "generator": f"fastshower {model.name}",
            "model_dir": self.model_dir,
            "model_config": model.config,
            "sampling": self.sampling or "as in the model file",
            "model_provenance": model.provenance,
            "condition": self.condition,
            "not_generated": _NOT_GENERATED[model.name],
        }


def model_digest(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over the model folder's config and weights."""
    digest = hashlib.sha256()
    for name in ("config.json", "generator.pt"):
        digest.update((Path(model_dir) / name).read_bytes())
    return digest.hexdigest()


@cache
def _model(model_dir: str, device: str, sampling: str) -> LoadedModel:
    """Loaded once per process and sampler (each Dask worker loads it on its first chunk)."""
    model = load_model(model_dir, map_location=device)
    model.generator.to(device)
    for key, value in json.loads(sampling).items():
        setattr(model.generator, key, value)
    return model


def _check_sampling(name: str, sampling: dict[str, Any]) -> None:
    from fastshower.models.flow_matching import SOLVERS

    if not sampling:
        return
    if name != "flow-matching":
        raise ValueError(f"--steps and --solver are for flow-matching models; this is {name!r}")
    unknown = set(sampling) - {"steps", "solver"}
    if unknown:
        raise ValueError(f"unknown sampling settings {sorted(unknown)}: steps, solver")
    steps = sampling.get("steps", 1)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if sampling.get("solver", SOLVERS[0]) not in SOLVERS:
        raise ValueError(f"solver {sampling['solver']!r}: known are {', '.join(SOLVERS)}")


def _check_condition(model: LoadedModel, condition: dict[str, Any]) -> None:
    if model.name == "lagan":
        if condition.get("class") not in (*JET_CLASSES, BOTH_CLASSES):
            raise ValueError(
                f"LAGAN generates W or QCD jets or both: --class w, qcd or {BOTH_CLASSES}, got "
                f"{condition.get('class')!r}"
            )
        return
    from fastshower.particles import canonical_name

    trained = model.provenance.get("particles", [model.provenance.get("particle")])
    requested = canonical_name(str(condition.get("particle")))
    if None not in trained and requested not in trained:
        raise ValueError(
            f"this {model.name} model was trained on {', '.join(trained)} showers; "
            f"{condition.get('particle')!r} was requested"
        )
    lo, hi = (float(e) for e in condition.get("energy_gev", (0.0, 0.0)))
    if not 0 < lo <= hi:
        raise ValueError(f"energy range {lo:g}:{hi:g} GeV: need 0 < low <= high")


def _sample_lagan(model: LoadedModel, n: int, condition: dict, rng: torch.Generator,
                  device: str) -> dict[str, np.ndarray]:  # fmt: skip
    from fastshower.data import JetImagePreprocessing
    from fastshower.observables.jets import image_observables

    z = torch.randn(n, model.config.get("latent_size", 200), generator=rng, device=device)
    if condition["class"] == BOTH_CLASSES:
        labels = torch.randint(0, 2, (n,), generator=rng, device=device)
    else:
        labels = torch.full((n,), JET_CLASSES[condition["class"]], device=device)
    x = model.generator(z, labels).cpu().numpy()
    images = JetImagePreprocessing().inverse(x)
    obs = image_observables(images)
    zeros = np.zeros(n, dtype=np.float32)
    return {
        "image": images,
        "signal": labels.cpu().numpy().astype(np.float32),
        "jet_pt": obs["pt"],
        "jet_eta": zeros,
        "jet_phi": zeros,
        "jet_mass": obs["mass"],
        "jet_delta_R": zeros,
        **{k: obs[k] for k in ("tau_1", "tau_2", "tau_3", "tau_21", "tau_32")},
        "pt_hat": zeros,
    }


def _sample_calogan(model: LoadedModel, n: int, condition: dict, rng: torch.Generator,
                    device: str) -> dict[str, np.ndarray]:  # fmt: skip
    from fastshower.models.calogan import CELL_UNIT_MEV, LATENT_SIZE
    from fastshower.particles import pdg_code

    energy = _energies(condition, n, rng, device)
    z = torch.randn(n, model.config.get("latent_size", LATENT_SIZE), generator=rng, device=device)
    layers = [x * CELL_UNIT_MEV for x in model.generator(z, energy)]
    return _shower_arrays(layers, energy, pdg_code(condition["particle"]))


def _sample_flow(model: LoadedModel, n: int, condition: dict, rng: torch.Generator,
                 device: str) -> dict[str, np.ndarray]:  # fmt: skip
    from fastshower.particles import pdg_code

    energy = _energies(condition, n, rng, device)
    pdg = pdg_code(condition["particle"])
    columns = torch.zeros(n, 4, device=device)
    columns[:, 0], columns[:, 1] = energy, float(pdg)
    z = torch.randn(n, model.generator.latent_size, generator=rng, device=device)
    return _shower_arrays(model.generator(z, columns), energy, pdg)


def _energies(condition: dict, n: int, rng: torch.Generator, device: str) -> torch.Tensor:
    lo, hi = (float(e) for e in condition["energy_gev"])
    return lo + (hi - lo) * torch.rand(n, generator=rng, device=device)


def _shower_arrays(layers: Any, energy: torch.Tensor, pdg: int) -> dict[str, np.ndarray]:
    """Generated layers (MeV) in the reference schema."""
    from fastshower.detector import CALORIMETER

    n = len(energy)
    arrays = {
        layer.key: cells.reshape(n, *layer.shape).cpu().numpy().astype(np.float32)
        for layer, cells in zip(CALORIMETER.layers, layers, strict=True)
    }
    arrays["overflow"] = np.zeros((n, len(CALORIMETER.layers)), dtype=np.float32)
    arrays["energy"] = energy.cpu().numpy().astype(np.float32).reshape(-1, 1)
    arrays["position"] = np.zeros((n, 2), dtype=np.float32)
    arrays["particle"] = np.full(n, pdg, dtype=np.int32)
    return arrays


_SAMPLERS = {"lagan": _sample_lagan, "calogan": _sample_calogan, "flow-matching": _sample_flow,
             "calo-flow": _sample_flow}  # fmt: skip
_FLOW_NOT_GENERATED = "overflow is 0 and position is (0, 0), where the reference was simulated"
_NOT_GENERATED = {
    "lagan": "jet_eta, jet_phi, jet_delta_R and pt_hat are 0 (an image has no direction)",
    "calogan": "overflow is 0 and position is (0, 0), as for the published CaloGAN",
    "flow-matching": _FLOW_NOT_GENERATED,
    "calo-flow": _FLOW_NOT_GENERATED,
}
