"""What the models that write an event as a list of hits share (the jet RNN, the shower RNN):
the recurrent step, and choices among categories drawn by the inverse CDF, so that a latent
vector gives one event on every runtime.

A choice among many categories is made in two steps (a group, then the category within it;
a coarse bin, then the bin within it): two softmaxes over tens of categories instead of one
over hundreds, the second drawn at where the uniform fell within the first's category
(``draw_split``), so that the category is the one a single inverse-CDF draw over all of them
would give.
"""

from __future__ import annotations

import torch
from torch import nn

from fastshower.models.layers import tracing

__all__ = ["below", "draw", "draw_split", "gru_step", "mlp"]

_GRU_PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def gru_step(
    gru: nn.GRU, x: torch.Tensor, state: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of ``gru``, layer by layer through ``torch.gru_cell``: the function of
    ``nn.GRU`` on a sequence of one, which ``torch.export`` cannot capture (it reassigns the
    GRU's weights on each call). ``state`` (layers, N, width), None at the start."""
    if state is None:
        state = torch.zeros_like(x)[None].repeat(gru.num_layers, 1, 1)  # batch kept free
    states = []
    for layer in range(gru.num_layers):
        weights = [getattr(gru, f"{name}_l{layer}") for name in _GRU_PARAMETERS]
        x = torch.gru_cell(x, state[layer], *weights)
        states.append(x)
    return x, torch.stack(states)


def mlp(width: int, outputs: int) -> nn.Sequential:
    """A head: one hidden layer of ``width``."""
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, outputs))


def below(logits: torch.Tensor, ceiling: torch.Tensor) -> torch.Tensor:
    """``logits`` (..., K) with the categories above ``ceiling`` (...) excluded, in place."""
    categories = torch.arange(logits.shape[-1], device=logits.device)
    return logits.masked_fill_(categories > ceiling[..., None], -torch.inf)


def draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The category whose cumulative probability first exceeds ``u`` (inverse-CDF sampling)."""
    return _inverse_cdf(logits, u)[0]


def draw_split(logits: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``draw``'s category, and where ``u`` fell within that category's probability, in
    [0, 1): a uniform of its own, independent of the category, for a choice that follows."""
    drawn, probabilities, cdf, target = _inverse_cdf(logits, u)
    upper = cdf.gather(1, drawn[:, None])[:, 0]
    width = probabilities.gather(1, drawn[:, None])[:, 0]
    rest = 1 - (upper - target) / width.clamp_min(1e-30)
    return drawn, rest.clamp(0.0, 1.0 - 2**-24)


def _inverse_cdf(
    logits: torch.Tensor, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the category drawn, the probabilities, their cumulative sums, ``u`` on their scale)."""
    probabilities = logits.softmax(-1)
    cdf = probabilities.cumsum(-1)
    target = u * cdf[:, -1]
    # the count of cdf values below u; outside a trace by bisection of each (non-decreasing) row
    if tracing():
        drawn = (cdf < target[:, None]).sum(-1)
    else:
        drawn = torch.searchsorted(cdf, target[:, None])[:, 0]
    return drawn.clamp_max(logits.shape[-1] - 1), probabilities, cdf, target
