"""Keras' weight initialisers, for models reproduced from Keras code.

The distributions are the same in Keras 1 and 2; what differs is how each version counts a
kernel's fans (each model module computes those) and that Keras 2.0's Glorot normal is truncated
at two standard deviations.
"""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import nn

__all__ = ["BatchNormArgs", "glorot_normal", "glorot_uniform", "he_uniform", "zero_bias"]


class BatchNormArgs(TypedDict):
    """Keyword arguments of ``nn.BatchNorm2d`` that a model module fixes to Keras' values (typed,
    so that ``nn.BatchNorm2d(n, **args)`` type-checks)."""

    momentum: float
    eps: float


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


def zero_bias(bias: torch.Tensor | None) -> None:
    """Keras' default bias initialiser ("zeros"). A bias is optional in its layer's type
    (``nn.Conv2d``, ``LocallyConnected2d``), but the layers given here are built with one."""
    if bias is None:  # the error nn.init.zeros_(None) would raise
        raise AttributeError("the layer has no bias to initialise")
    nn.init.zeros_(bias)
