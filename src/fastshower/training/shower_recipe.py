"""What every model that learns in a space of its own shares with the training loop: its config
(defaults included), a space fitted to the training sample, and, for showers, a validation
score.

A shower family subclasses ``ShowerRecipe``, names its generator class and gives its
``objective`` on a batch already encoded into ``ShowerSpace``; the flows (``flow_matching``,
``calo_flow``) differ only there. The jet flow subclasses ``SpaceRecipe`` the same way, with a
validation of its own.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch import nn

from fastshower.detector import CALORIMETER
from fastshower.models.shower_space import ShowerFlow
from fastshower.training.recipe import Update

__all__ = ["ShowerRecipe", "SpaceRecipe", "held_out_nats", "shower_distance"]


class SpaceRecipe:
    """A model that learns in a space of its own (``ShowerSpace``, the jets' ``JetSpace``) as a
    ``Recipe``: one network, ``generator``, whose ``space`` is fitted to the training sample
    (``fit(*training)``) and encodes each batch (``encode(*batch, rng)``) before the family's
    ``objective``. Subclasses give the objective and ``validate``."""

    name: ClassVar[str]
    generator_class: ClassVar[type[nn.Module]]
    mixed_precision: ClassVar[bool] = True

    def __init__(
        self,
        model_config: dict[str, Any],
        training: tuple[torch.Tensor, torch.Tensor],
        validation: tuple[torch.Tensor, torch.Tensor] | None = None,
        n_validation: int = 2000,
    ) -> None:
        # every setting, defaults included, goes into the model file: a later change of a
        # default cannot change what an old file means
        self.model_config = self.complete({**self.defaults(), **model_config})
        self.training = training
        self.validation = validation
        self.n_validation = n_validation

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every setting of the generator with its default."""
        return _own_defaults(cls.generator_class)

    def complete(self, model_config: dict[str, Any]) -> dict[str, Any]:
        """The config as the model file stores it (a family may normalise a field)."""
        return model_config

    def networks(self) -> dict[str, nn.Module]:
        generator = self.generator_class(**self.model_config)
        cast(Any, generator).space.fit(*self.training)
        return {"generator": generator}

    def updates(self, config: Any) -> list[Update]:
        return [Update("generator", self.loss, config.lr_generator)]

    def loss(
        self, networks: dict[str, nn.Module], batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        data, condition = batch
        model = networks["generator"]
        # unwrapped from DistributedDataParallel
        space = cast(Any, getattr(model, "module", model)).space
        loss = self.objective(model, space.encode(data, condition, rng), condition, rng)
        return loss, {"loss": loss.item()}

    def objective(
        self, model: nn.Module, x: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """The loss of standardised vectors ``x`` (fresh noise), through ``model`` (which may be
        wrapped for DistributedDataParallel: call it, do not reach into it)."""
        raise NotImplementedError

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        raise NotImplementedError


def held_out_nats(
    model: nn.Module,
    events: torch.Tensor,
    condition: torch.Tensor,
    rng: torch.Generator,
    batch_size: int = 250,
) -> float:
    """The mean negative log-likelihood, in nats per event, of held-out events under a model
    whose ``space`` encodes them and whose ``forward(encoded, condition, True)`` is their
    log-likelihood (the jet and shower RNNs): their validation score."""
    device = next(model.parameters()).device
    space = cast(Any, model).space
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(events), batch_size):
            batch = events[start : start + batch_size].to(device)
            batch_condition = condition[start : start + batch_size].to(device)
            total -= float(
                model(space.encode(batch, batch_condition, rng), batch_condition, True).sum()
            )
    return total / len(events)


class ShowerRecipe(SpaceRecipe):
    """The shared half of a shower model's ``Recipe``: the particles it learns, and a validation
    on the shower observables."""

    def complete(self, model_config: dict[str, Any]) -> dict[str, Any]:
        return {**model_config, "particles": list(model_config["particles"])}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The generator's own settings and its shower space's (which it takes as keyword
        arguments)."""
        from fastshower.models.shower_space import ShowerSpaceSettings

        return _own_defaults(cls.generator_class) | asdict(ShowerSpaceSettings())

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        """Wasserstein-1 distances of layer energies, sparsity and shape, each in units of its
        spread in the held-out showers, summed."""
        if self.validation is None:
            return {"score": 0.0}
        cells, condition = (x[: self.n_validation] for x in self.validation)
        device = next(generator.parameters()).device
        latent_size = cast(ShowerFlow, generator).latent_size
        z = torch.randn(len(cells), latent_size, generator=rng, device=device)
        fake = [x.flatten(1).cpu() for x in generator(z, condition.to(device))]
        return shower_distance(cells, torch.cat(fake, dim=1), condition[:, 0])


_VALIDATION_OBSERVABLES = (
    "fraction_layer_{i}",
    "sparsity_layer_{i}",
    "width_x_layer_{i}",
    "e_ratio_layer_{i}",
)


def shower_distance(
    real_cells: torch.Tensor, fake_cells: torch.Tensor, energy_gev: torch.Tensor
) -> dict[str, float]:
    """Per observable W1 / (spread of the real values), and their sum as ``score``."""
    from scipy.stats import wasserstein_distance

    from fastshower.observables.calo import shower_observables

    observables = {}
    for label, cells in (("real", real_cells), ("fake", fake_cells)):
        showers = _as_showers(cells.numpy(), energy_gev.numpy())
        observables[label] = shower_observables(showers)
    scores = {}
    names = ["total_energy", "depth"] + [
        name.format(i=layer.index)
        for name in _VALIDATION_OBSERVABLES
        for layer in CALORIMETER.layers
    ]
    for name in names:
        real, fake = observables["real"][name], observables["fake"][name]
        spread = float(np.std(real)) or 1.0
        scores[f"w1_{name}"] = float(wasserstein_distance(real, fake) / spread)
    return {**scores, "score": float(sum(scores.values()))}


def _as_showers(cells: np.ndarray, energy_gev: np.ndarray) -> dict[str, np.ndarray]:
    sizes = np.cumsum([layer.n_cells for layer in CALORIMETER.layers])[:-1]
    parts = np.split(cells, sizes, axis=1)
    showers: dict[str, np.ndarray] = {
        layer.key: part.reshape(-1, *layer.shape)
        for layer, part in zip(CALORIMETER.layers, parts, strict=True)
    }
    showers["energy"] = energy_gev.reshape(-1, 1)
    return showers


def _own_defaults(generator_class: type) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(generator_class).parameters.values()
        if p.kind is not p.VAR_KEYWORD and p.default is not p.empty
    }
