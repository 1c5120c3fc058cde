"""Sampling zuko's masked autoregressive flows (``zuko.flows.MAF``) with less work per pass.

A masked autoregressive transform is inverted in passes: the features of order 0 are fixed by
the first pass, those of order 1 by the second, and so on. zuko runs its spline's inverse on
every feature in every pass and keeps only what the pass has made right. Here each pass builds
and inverts the splines of the features it fixes and nothing else: the same arithmetic for those
features, so the same result to the bit, with a third of the spline work for the three summary
features of a jet and fewer operations per pass. On the jet RNN's summary flow (four transforms
of three features, batch 1024, 2 threads) that took sampling it from 15 to 9 ms, a tenth of a
small jet model's time.

Outside tracing only: an export or ``torch.compile`` sees zuko's own inverse, whose passes are
plain tensor operations with no per-pass indexing.
"""

from __future__ import annotations

import torch
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.lazy import Flow
from zuko.utils import unpack

from fastshower.models.layers import tracing

__all__ = ["invert_flow"]


def invert_flow(flow: Flow, latent: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """``flow(context).transform.inv(latent)`` for a flow of masked autoregressive transforms
    (a zuko MAF), ``latent`` and ``context`` (N, features) and (N, context features)."""
    if tracing():
        return flow(context).transform.inv(latent)
    y = latent
    for transform in reversed(flow.transform.transforms):
        y = _invert(transform, y, context)
    return y


def _invert(
    transform: MaskedAutoregressiveTransform, y: torch.Tensor, context: torch.Tensor
) -> torch.Tensor:
    """One transform's inverse, pass by pass, each pass on the features of its order."""
    x = torch.zeros_like(y)
    features = y.shape[-1]
    for rank in range(transform.passes):
        fixed = (transform.order == rank).nonzero()[:, 0]
        phi = transform.hyper(torch.cat([x, context], dim=-1))
        phi = phi.unflatten(-1, (features, transform.total))[:, fixed]
        spline = transform.univariate(*unpack(phi, transform.shapes))
        x = x.index_copy(1, fixed, spline.inv(y[:, fixed]))
    return x
