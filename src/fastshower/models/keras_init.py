"""Keras' weight initialisers, for models reproduced from Keras code.

The distributions are the same in Keras 1 and 2; what differs is how each version counts a
kernel's fans (each model module computes those) and that Keras 2.0's Glorot normal is truncated
at two standard deviations.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["glorot_normal", "glorot_uniform", "he_uniform"]


def he_uniform(weight: torch.Tensor, fan_in: float) -> None:
    limit = (6.0 / fan_in) ** 0.5
    nn.init.uniform_(weight, -limit, limit)


def glorot_uniform(weight: torch.Tensor, fan_in: float, fan_out: float) -> None:
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    nn.init.uniform_(weight, -limit, limit)


def glorot_normal(weight: torch.Tensor, fan_in: float, fan_out: float, truncated: bool) -> None:
    std = (2.0 / (fan_in + fan_out)) ** 0.5
    if truncated:
        nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)
    else:
        nn.init.normal_(weight, 0.0, std)
