"""How a model family plugs into the training loop (``fastshower.training.loop``): its networks, the
updates of one batch, and a validation score; and how long and how fast the loop trains them
(``TrainConfig``). Kept apart from the loop so model modules can import it without importing the
loop's machinery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

__all__ = ["GanRecipe", "Loss", "Recipe", "TrainConfig", "Update"]

Loss = Callable[[dict[str, nn.Module], Any, torch.Generator], tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class TrainConfig:
    """How long and how fast to train; the published values are each recipe's defaults."""

    epochs: int = 50
    batch_size: int = 100
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    generator_steps: int = 1
    """Generator updates per discriminator update (CaloGAN: 2)."""
    seed: int = 0
    lr_schedule: str = "constant"
    """``constant`` or ``cosine`` (decays to 0 at the last step)."""
    ema: float = 0.0
    """Decay of the generator's weight average per step (0: no average; flows use 0.999). It
    warms up as min(ema, (1 + step) / (10 + step)), so early epochs are not the initial weights."""
    validate_every: int = 1
    """Validate (and consider for ``best/``) every this many epochs, and after the last."""

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.generator_steps, self.validate_every) < 1:
            raise ValueError(
                f"epochs, batch_size, generator_steps and validate_every must be positive: {self}"
            )
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(_SCHEDULES)}: {self}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1): {self}")


_SCHEDULES = ("constant", "cosine")


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
