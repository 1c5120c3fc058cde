"""How a model family plugs into the training loop (``fastshower.training.loop``): its networks, the
updates of one batch, and a validation score. Kept apart from the loop so model modules can
import it without importing the loop's machinery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

if TYPE_CHECKING:
    from fastshower.training.loop import TrainConfig

__all__ = ["GanRecipe", "Loss", "Recipe", "Update"]

Loss = Callable[[dict[str, nn.Module], Any, torch.Generator], tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class Update:
    """One optimiser step per batch (``repeats`` times): ``loss(networks, batch, rng)`` minimised
    by the network named ``network`` at learning rate ``lr``."""

    network: str
    loss: Loss
    lr: float
    repeats: int = 1


class Recipe(Protocol):
    """What a model family tells the loop."""

    # read-only: a recipe may give them as class attributes or properties

    @property
    def name(self) -> str:
        """Registry name (``fastshower.models.FAMILIES``): what model files record."""
        ...

    @property
    def model_config(self) -> dict[str, Any]: ...

    @property
    def mixed_precision(self) -> bool:
        """Whether the loop may run the networks in bfloat16 (on GPUs and on CPUs with bfloat16
        matrix units)."""
        ...

    def networks(self) -> dict[str, nn.Module]:
        """Fresh networks by name; ``"generator"`` is the one model files hold."""
        ...

    def updates(self, config: TrainConfig) -> list[Update]:
        """The updates of one batch, in order."""
        ...

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        """Scores of a generated sample against held-out data; ``"score"``: lower is better."""
        ...


class GanRecipe:
    """A GAN as a ``Recipe``: a subclass builds (generator, discriminator) and gives the two
    losses; the discriminator steps first, then the generator ``generator_steps`` times."""

    mixed_precision = True

    def build(self) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def discriminator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def generator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def networks(self) -> dict[str, nn.Module]:
        generator, discriminator = self.build()
        return {"generator": generator, "discriminator": discriminator}

    def updates(self, config: TrainConfig) -> list[Update]:
        def d_loss(nets: dict[str, nn.Module], batch: Any, rng: torch.Generator) -> Any:
            loss, logs = self.discriminator_loss(
                nets["generator"], nets["discriminator"], batch, rng
            )
            return loss, {"loss_d": loss.item(), **logs}

        def g_loss(nets: dict[str, nn.Module], batch: Any, rng: torch.Generator) -> Any:
            loss, logs = self.generator_loss(nets["generator"], nets["discriminator"], batch, rng)
            return loss, {"loss_g": loss.item(), **logs}

        return [
            Update("discriminator", d_loss, config.lr_discriminator),
            Update("generator", g_loss, config.lr_generator, config.generator_steps),
        ]
