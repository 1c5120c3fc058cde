"""How the shower RNN trains (``fastshower.models.shower_rnn``): the exact likelihood of each
shower's layer summaries and hit list; validated on the likelihood of held-out showers, with
the shower observables' distances beside it."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from fastshower.models.shower_rnn import ShowerRNNGenerator
from fastshower.training.shower_recipe import ShowerRecipe, held_out_nats

__all__ = ["ShowerRNNRecipe"]

_VALIDATION_BATCH = 250


class ShowerRNNRecipe(ShowerRecipe):
    """How ``fastshower.training.loop`` trains a ``ShowerRNNGenerator`` on (cells in MeV,
    condition) batches, encoded into hit lists by its ``ShowerTokens``."""

    name = "shower-rnn"
    generator_class: ClassVar[type[nn.Module]] = ShowerRNNGenerator
    mixed_precision = False  # a likelihood, as calo-flow's

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The generator's own settings: its summaries' space is fixed by the model, not given
        as the shower flows' options."""
        return super(ShowerRecipe, cls).defaults()

    def objective(
        self, model: nn.Module, x: Any, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        return -model(x, condition, True).mean()  # nats per shower

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        """The score is the held-out showers' nats per shower (lower is better); the shower
        observables' distances (the shower flows' score) are reported beside it, as
        ``observables_score``. Why not them: each layer is rescaled to the energy its small
        summary flow drew, so they follow that flow and its noise, while the likelihood measures
        the hits as well."""
        scores = super().validate(generator, rng)
        if self.validation is None:
            return scores
        cells, condition = (x[: self.n_validation] for x in self.validation)
        nats = held_out_nats(generator, cells, condition, rng, _VALIDATION_BATCH)
        return {**scores, "observables_score": scores["score"], "score": nats}
