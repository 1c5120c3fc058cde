"""Generative models: one module per family, shared blocks in ``layers``, and the registry.

Every family is one ``Family`` object (``family``): how its generator is built from the JSON
config saved next to the weights (so a model file never needs pickle to come back to life), the
schema of its samples, how it samples a typed condition, its ONNX signature. ``FAMILIES`` maps
the name that model files record to it; generation, export, timing and the command line read
only this.
"""

from __future__ import annotations

from torch import nn

from fastshower.models import (
    calo_flow,
    calogan,
    flow_matching,
    jet_flow,
    jet_rnn,
    lagan,
    shower_rnn,
)
from fastshower.models.family import Family

__all__ = ["FAMILIES", "build_generator", "family"]

FAMILIES: dict[str, Family] = {
    m.FAMILY.name: m.FAMILY
    for m in (calo_flow, calogan, flow_matching, jet_flow, jet_rnn, lagan, shower_rnn)
}
"""Model name (as model files record it) -> its family."""


def family(name: str) -> Family:
    """The family of the named model, or a ValueError naming the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}: known are {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def build_generator(name: str, config: dict) -> nn.Module:
    """A fresh generator of the named family, from its config."""
    return family(name).build(config)
