"""Generative models: one module per family, shared blocks in ``layers``, and a registry.

The registry maps a model's name, as stored in model files, to its generator class; the class is
built from the JSON config saved next to the weights (``fastshower.modelfile``), so a model file
never needs pickle to come back to life.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from fastshower.models.calo_flow import CaloFlowGenerator
from fastshower.models.calogan import CaloganGenerator
from fastshower.models.flow_matching import FlowMatchingGenerator
from fastshower.models.lagan import LaganGenerator

__all__ = ["GENERATORS", "build_generator"]

GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "calo-flow": CaloFlowGenerator,
    "calogan": CaloganGenerator,
    "flow-matching": FlowMatchingGenerator,
    "lagan": LaganGenerator,
}
"""Model name -> generator class (keyword arguments: the model config)."""


def build_generator(name: str, config: dict) -> nn.Module:
    """A fresh generator of the named family, from its config."""
    if name not in GENERATORS:
        raise ValueError(f"unknown model {name!r}: known are {', '.join(sorted(GENERATORS))}")
    try:
        return GENERATORS[name](**config)
    except TypeError as exc:
        raise ValueError(f"model {name!r} does not take the config {config}: {exc}") from exc
