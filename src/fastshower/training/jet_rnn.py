"""How the jet RNN trains (``fastshower.models.jet_rnn``): the exact likelihood of
each jet's hit list, validated on the jet mass per class as the jet flow and LAGAN are."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from fastshower.models.jet_rnn import JetRNNGenerator
from fastshower.training.jet_flow import JetFlowRecipe

__all__ = ["JetRNNRecipe"]


class JetRNNRecipe(JetFlowRecipe):
    """How ``fastshower.training.loop`` trains a ``JetRNNGenerator`` on (images in GeV,
    class) batches, encoded into token lists by its ``JetTokens``."""

    name = "jet-rnn"
    generator_class: ClassVar[type[nn.Module]] = JetRNNGenerator

    def objective(
        self, model: nn.Module, x: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        return -model(x, condition, True).mean()  # nats per jet
