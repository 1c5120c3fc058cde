"""How the jet RNN trains (``fastshower.models.jet_rnn``): the exact likelihood of each jet's hit
list; validated on the likelihood of held-out jets, with the jet mass per class beside it."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from fastshower.models.jet_rnn import JetRNNGenerator
from fastshower.training.jet_flow import JetFlowRecipe
from fastshower.training.shower_recipe import held_out_nats

__all__ = ["JetRNNRecipe"]

_VALIDATION_BATCH = 500


class JetRNNRecipe(JetFlowRecipe):
    """How ``fastshower.training.loop`` trains a ``JetRNNGenerator`` on (images in GeV, class)
    batches, encoded into token lists by its ``JetTokens``."""

    name = "jet-rnn"
    generator_class: ClassVar[type[nn.Module]] = JetRNNGenerator

    def objective(
        self, model: nn.Module, x: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        return -model(x, condition, True).mean()  # nats per jet

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        """The score is the held-out jets' nats per jet (lower is better). Why not the jet mass
        (reported beside it, as ``mass_w1_w`` and ``mass_w1_qcd``): sampling reshapes every jet
        to the mass its summary flow drew, so the mass follows that small flow and moved within
        its noise from epoch to epoch while the likelihood of the hits kept improving."""
        scores = super().validate(generator, rng)
        if self.validation is None:
            return scores
        images, labels = self.validation
        nats = held_out_nats(generator, images, labels, rng, _VALIDATION_BATCH)
        return {**scores, "mass_score": scores["score"], "score": nats}
