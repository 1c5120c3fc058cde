"""The one contract every model family meets, so that generation, export, timing and the command
line need no per-family code.

A family is a ``Family`` object: its name (as model files store it), how its generator is built
from the JSON config next to the weights, the dataset schema its samples are in, what it does not
generate, the ONNX signature of its generator, and ``sample(generator, n, condition, rng)``, which
turns the generator's output into arrays of that schema. Conditions are typed: a
``ShowerCondition`` (particle, incident energy range, incidence point) or a ``JetCondition`` (W,
QCD or both). Every generator is called as ``generator(latent, condition_tensor)``; the family's
``condition_tensor`` makes the second argument from a typed condition, and ``example_condition``
makes one across the training range for tracing, parity checks and timings.

``fastshower.models.FAMILIES`` lists them; a new family is one module with one such object, added
there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import torch
from torch import nn

from fastshower.detector import CALORIMETER
from fastshower.io import JET_SCHEMA, SHOWER_SCHEMA, Schema
from fastshower.particles import canonical_name, pdg_code

if TYPE_CHECKING:
    from fastshower.models.shower_space import ShowerFlow

__all__ = [
    "JET_CLASSES",
    "Condition",
    "Family",
    "JetCondition",
    "OnnxSignature",
    "ShowerCondition",
    "condition_from_dict",
    "flow_family",
    "jet_arrays",
    "jet_family",
    "layer_names",
    "shower_arrays",
]

JET_CLASSES = {"w": 1, "qcd": 0}
"""Jet class name -> the ``signal`` label of the dataset files."""


@dataclass(frozen=True)
class ShowerCondition:
    """Showers of ``particle`` with incident energies uniform in ``energy_gev`` (low, high) and
    incidence points uniform in the square of half-width ``position_spread_mm`` around
    ``position_mm`` (x, y), as ``fastshower simulate calo`` draws them."""

    particle: str
    energy_gev: tuple[float, float]
    position_mm: tuple[float, float] = (0.0, 0.0)
    position_spread_mm: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "particle", canonical_name(self.particle))
        low, high = (float(e) for e in self.energy_gev)
        if not 0 < low <= high:
            raise ValueError(f"energy range {low:g}:{high:g} GeV: need 0 < low <= high")
        object.__setattr__(self, "energy_gev", (low, high))
        position = tuple(float(p) for p in self.position_mm)
        if len(position) != 2:
            raise ValueError(f"an incidence point is x, y in mm, got {self.position_mm}")
        object.__setattr__(self, "position_mm", position)
        object.__setattr__(self, "position_spread_mm", float(self.position_spread_mm))
        if not self.position_spread_mm >= 0:
            raise ValueError(f"position spread {self.position_spread_mm:g} mm: must be >= 0")

    @property
    def position_box_mm(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The square the incidence points are drawn in: (x low, x high), (y low, y high)."""
        spread = self.position_spread_mm
        x, y = self.position_mm
        return (x - spread, x + spread), (y - spread, y + spread)

    def energies(self, n: int, rng: torch.Generator, device: str = "cpu") -> torch.Tensor:
        low, high = self.energy_gev
        return low + (high - low) * torch.rand(n, generator=rng, device=device)

    def positions(self, n: int, rng: torch.Generator, device: str = "cpu") -> torch.Tensor:
        """(n, 2) incidence points in mm. A fixed point draws no random numbers, so a seed gives
        the same energies and latent vectors with or without a position."""
        centre = torch.tensor(self.position_mm, device=device).expand(n, 2)
        if self.position_spread_mm == 0:
            return centre.clone()
        offsets = 2 * torch.rand(n, 2, generator=rng, device=device) - 1
        return centre + self.position_spread_mm * offsets


@dataclass(frozen=True)
class JetCondition:
    """Jet images of one class, or of both (each jet W or QCD with equal probability: the mix of
    the reference sets, so one file compares with them pooled)."""

    jet_class: Literal["w", "qcd", "both"]

    def __post_init__(self) -> None:
        if self.jet_class not in (*JET_CLASSES, "both"):
            raise ValueError(
                f"jet models generate W or QCD jets or both: --class w, qcd or both, got "
                f"{self.jet_class!r}"
            )

    def labels(self, n: int, rng: torch.Generator, device: str = "cpu") -> torch.Tensor:
        if self.jet_class == "both":
            return torch.randint(0, 2, (n,), generator=rng, device=device)
        return torch.full((n,), JET_CLASSES[self.jet_class], device=device)


Condition = ShowerCondition | JetCondition


def condition_from_dict(values: dict[str, Any]) -> Condition:
    """The typed condition of a JSON request: ``{"class": ...}`` or ``{"particle": ...,
    "energy_gev": [lo, hi], "position_mm": [x, y], "position_spread_mm": s}`` (position
    optional)."""
    if "class" in values:
        return JetCondition(values["class"])
    if "particle" not in values or "energy_gev" not in values:
        raise ValueError(f"a condition names a jet class or a particle and energies: {values}")
    return ShowerCondition(
        str(values["particle"]),
        tuple(values["energy_gev"]),
        tuple(values.get("position_mm", (0.0, 0.0))),
        float(values.get("position_spread_mm", 0.0)),
    )


@dataclass(frozen=True)
class OnnxSignature:
    """What an ONNX export of the family's generator takes and gives."""

    condition: dict[str, Any]
    """The ``condition`` input: its ``name``, ``dtype`` and meaning (stored in the metadata)."""
    output_units: str
    strict: bool = True
    """Capture with TorchDynamo (``fastshower.export``'s docstring says when not)."""
    optimize: bool = True
    """Run onnxscript's graph optimizer on the export."""


@dataclass(frozen=True)
class Family:
    """One model family behind the contract (the module docstring)."""

    name: str
    generator: Callable[..., nn.Module]
    """Builds a generator from the config's keyword arguments."""
    schema: Schema
    condition_type: type
    not_generated: str
    """What the samples' files hold that the generator does not make (their provenance says)."""
    onnx: OnnxSignature
    condition_tensor: Callable[[nn.Module, Any, int, torch.Generator, str], torch.Tensor]
    """(generator, condition, n, rng, device) -> the generator's second input."""
    to_arrays: Callable[[nn.Module, torch.Tensor, torch.Tensor, Any], dict[str, np.ndarray]]
    """(generator, output, condition tensor, condition) -> arrays in ``schema``."""
    example_condition: Callable[[nn.Module, int], torch.Tensor]
    """(generator, n) -> a condition tensor across the training range."""
    output_names: Callable[[nn.Module], tuple[str, ...]]
    sampling: Callable[[dict[str, Any]], None] | None = None
    """Checks the sampler settings a generation request may override on the generator (flow
    matching: its ODE ``steps`` and ``solver``), raising ValueError; None: the family has none."""
    published_config: dict[str, Any] | None = None
    """The published architecture's config, which ``bench`` times with fresh weights when no
    trained model of the family is shipped (the speed is the architecture's)."""
    latent_first: bool = False
    """Draw the latent vectors before the condition: the order in which the family's sampler
    has always drawn them, so that a seed gives the same sample as in earlier versions."""
    takes_position: bool = False
    """The generator takes the incidence point (shower flows); otherwise it makes showers at
    the centre only (CaloGAN, as published)."""

    def build(self, config: dict[str, Any]) -> nn.Module:
        try:
            return self.generator(**config)
        except TypeError as exc:
            raise ValueError(
                f"model {self.name!r} does not take the config {config}: {exc}"
            ) from exc

    def check(self, condition: Condition, provenance: dict[str, Any]) -> None:
        """Refuse a condition the family, or the model trained from ``provenance``, cannot
        serve (a particle it never saw)."""
        if not isinstance(condition, self.condition_type):
            raise ValueError(
                f"a {self.name} model takes a {self.condition_type.__name__}, got {condition}"
            )
        if isinstance(condition, ShowerCondition):
            trained = provenance.get("particles", [provenance.get("particle")])
            if None not in trained and condition.particle not in trained:
                raise ValueError(
                    f"this {self.name} model was trained on {', '.join(trained)} showers; "
                    f"{condition.particle!r} was requested"
                )
            self._check_position(condition, provenance)

    def _check_position(self, condition: ShowerCondition, provenance: dict[str, Any]) -> None:
        """Refuse incidence points outside the square the model's training showers entered in
        (beyond it a model extrapolates, and showers there would look right only by chance).
        A model file without ``position_range_mm`` learnt at the centre only."""
        learnt = provenance.get("position_range_mm") if self.takes_position else None
        box = condition.position_box_mm
        if learnt is None:
            if box != ((0.0, 0.0), (0.0, 0.0)):
                raise ValueError(
                    f"this {self.name} model learnt showers at the calorimeter's centre only; "
                    f"incidence points {_box_text(box)} need a model trained off the centre"
                )
            return
        tolerance = 0.5  # mm: a drawn range ends short of its square's edges
        if any(
            low < lo - tolerance or high > hi + tolerance
            for (low, high), (lo, hi) in zip(box, learnt, strict=True)
        ):
            raise ValueError(
                f"this {self.name} model learnt incidence points {_box_text(learnt)}; "
                f"{_box_text(box)} was requested"
            )

    def sample(
        self,
        generator: nn.Module,
        n: int,
        condition: Condition,
        rng: torch.Generator,
        device: str = "cpu",
    ) -> dict[str, np.ndarray]:
        """``n`` events of ``condition`` in the family's schema, drawn with ``rng``."""
        if self.latent_first:
            latent = torch.randn(n, _latent_size(generator), generator=rng, device=device)
            cond = self.condition_tensor(generator, condition, n, rng, device)
        else:
            cond = self.condition_tensor(generator, condition, n, rng, device)
            latent = torch.randn(n, _latent_size(generator), generator=rng, device=device)
        with torch.no_grad():
            output = generator(latent, cond)
        return self.to_arrays(generator, output, cond, condition)


def _box_text(box: Any) -> str:
    """((x lo, x hi), (y lo, y hi)) in words, to 0.1 mm."""

    def span(axis: str, low: float, high: float) -> str:
        low, high = round(low, 1), round(high, 1)
        return f"{axis} {low:g} mm" if low == high else f"{axis} {low:g} to {high:g} mm"

    return ", ".join(span(axis, *limits) for axis, limits in zip("xy", box, strict=True))


def _latent_size(generator: nn.Module) -> int:
    """The width of the generator's latent input: every family's generator sets ``latent_size``
    (an int) in ``__init__``, which nn.Module's typing cannot see."""
    return cast(int, generator.latent_size)


def shower_arrays(
    layers: Any,
    energy: torch.Tensor,
    condition: ShowerCondition,
    position: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Generated layers (MeV) in the shower schema; no overflow; each shower's incidence point
    (``position``, (N, 2) mm; default: the condition's fixed point)."""
    n = len(energy)
    arrays = {
        layer.key: cells.reshape(n, *layer.shape).cpu().numpy().astype(np.float32)
        for layer, cells in zip(CALORIMETER.layers, layers, strict=True)
    }
    arrays["overflow"] = np.zeros((n, len(CALORIMETER.layers)), dtype=np.float32)
    arrays["energy"] = energy.cpu().numpy().astype(np.float32).reshape(-1, 1)
    arrays["position"] = (
        np.tile(np.asarray(condition.position_mm, np.float32), (n, 1))
        if position is None
        else position.cpu().numpy().astype(np.float32)
    )
    arrays["particle"] = np.full(n, pdg_code(condition.particle), dtype=np.int32)
    return arrays


def jet_arrays(images_gev: np.ndarray, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Generated images (GeV) in the jet schema, with the jet observables computed from their
    pixels, as for any image; the jet's direction, its subjets' distance and pT-hat do not
    exist for an image alone: 0."""
    from fastshower.observables.jets import image_observables

    obs = image_observables(images_gev)
    zeros = np.zeros(len(images_gev), dtype=np.float32)
    return {
        "image": images_gev,
        "signal": labels.cpu().numpy().astype(np.float32),
        "jet_pt": obs["pt"],
        "jet_eta": zeros,
        "jet_phi": zeros,
        "jet_mass": obs["mass"],
        "jet_delta_R": zeros,
        **{k: obs[k] for k in ("tau_1", "tau_2", "tau_3", "tau_21", "tau_32")},
        "pt_hat": zeros,
    }


def layer_names(generator: nn.Module) -> tuple[str, ...]:
    """The outputs of a shower generator: one cell array per read-out layer."""
    return tuple(layer.key for layer in CALORIMETER.layers)


def flow_family(
    name: str,
    generator: Callable[..., nn.Module],
    *,
    strict: bool = True,
    optimize: bool = True,
    sampling: Callable[[dict[str, Any]], None] | None = None,
) -> Family:
    """A shower flow of ``ShowerSpace`` (flow matching, CaloFlow): conditioned on (N, 4) columns
    (energy in GeV, PDG code, x and y in mm), cells out in MeV."""
    return Family(
        name=name,
        generator=generator,
        schema=SHOWER_SCHEMA,
        condition_type=ShowerCondition,
        not_generated="overflow is 0",
        onnx=OnnxSignature(
            condition={
                "name": "condition",
                "dtype": "float32",
                "shape": [4],
                "meaning": "incident energy (GeV), PDG code, incidence x and y (mm)",
            },
            output_units="MeV",
            strict=strict,
            optimize=optimize,
        ),
        condition_tensor=_flow_condition,
        to_arrays=lambda gen, output, cond, condition: shower_arrays(
            output, cond[:, 0], condition, cond[:, 2:4]
        ),
        example_condition=_flow_example,
        output_names=layer_names,
        sampling=sampling,
        takes_position=True,
    )


def jet_family(
    name: str,
    generator: Callable[..., nn.Module],
    scale_gev: float,
    *,
    strict: bool = True,
    optimize: bool = True,
    published_config: dict[str, Any] | None = None,
    latent_first: bool = False,
) -> Family:
    """A jet-image generator (LAGAN, the jet flow): conditioned on the class label (N,) int64
    (0 = QCD, 1 = W), images (N, 25, 25) out in units of ``scale_gev``."""
    units = "GeV" if scale_gev == 1 else f"pT / {scale_gev:g} GeV"
    return Family(
        name=name,
        generator=generator,
        schema=JET_SCHEMA,
        condition_type=JetCondition,
        not_generated="jet_eta, jet_phi, jet_delta_R and pt_hat are 0 (an image has no direction)",
        onnx=OnnxSignature(
            condition={
                "name": "class",
                "dtype": "int64",
                "meaning": "class label: 0 = QCD, 1 = W",
                "classes": len(JET_CLASSES),
            },
            output_units=units,
            strict=strict,
            optimize=optimize,
        ),
        condition_tensor=lambda gen, condition, n, rng, device: condition.labels(n, rng, device),
        to_arrays=lambda gen, output, labels, condition: jet_arrays(
            output.cpu().numpy().astype(np.float32) * scale_gev, labels
        ),
        example_condition=lambda gen, n: torch.arange(n, dtype=torch.int64) % len(JET_CLASSES),
        output_names=lambda gen: ("image",),
        published_config=published_config,
        latent_first=latent_first,
    )


def _flow_condition(
    generator: nn.Module, condition: ShowerCondition, n: int, rng: torch.Generator, device: str
) -> torch.Tensor:
    columns = torch.zeros(n, 4, device=device)
    columns[:, 0] = condition.energies(n, rng, device)
    columns[:, 1] = float(pdg_code(condition.particle))
    columns[:, 2:4] = condition.positions(n, rng, device)
    return columns


def _flow_example(generator: nn.Module, n: int) -> torch.Tensor:
    """1-100 GeV of the first particle the flow learnt (an untrained one would be an input it
    never saw), at the centre."""
    energy = torch.linspace(1.0, 100.0, n)
    pdg = torch.full_like(energy, float(cast("ShowerFlow", generator).space.pdg[0]))
    return torch.stack([energy, pdg, *torch.zeros(2, n)], dim=1)
