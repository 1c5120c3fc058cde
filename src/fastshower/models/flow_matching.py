"""A conditional flow-matching model of calorimeter showers: one network for every particle.

Flow matching (Lipman et al., arXiv:2210.02747; Liu et al., arXiv:2209.03003) learns a velocity
field ``v(x, t | c)`` whose ODE carries standard normal noise (t = 0) to showers (t = 1) in
``ShowerSpace``. Training regresses the straight-line velocity ``x1 - x0`` at
``x_t = (1 - t) x0 + t x1`` (mean squared error, ``t`` uniform): no adversary, no likelihood
Jacobian, a stable loss that goes down. Sampling integrates the ODE with a fixed number of steps
(``steps``, ``solver``: Euler, one network call per step, or the midpoint rule, two calls
per step and second order), so its cost is a choice made at generation time.

Why the noise-data pairs are independent, not minibatch optimal transport: the model is
conditional (particle, energy, position), and an OT coupling computed across a batch pairs noise
with showers depending on the other showers' conditions, so the noise a condition is trained on
is no longer standard normal, while sampling draws it standard normal: a bias. Straighter paths
(fewer steps) come instead from distillation (``fastshower.training.distill``): a student
trained on the teacher's (noise, shower) pairs samples in one step, as fast as a GAN.

The velocity network: the 507 numbers of a shower are few enough for a residual MLP to see all
three layers at once, and correlations between layers (where a shower starts, how it spreads)
are what a classifier looks for, so the network does not split them; layers differ in
granularity, not in kind, once ``ShowerSpace`` has put every cell on one log scale. Each block
is LayerNorm -> FiLM (scale and shift from the condition and time embedding) -> Linear -> SiLU ->
Linear, added to the residual stream; the output layer starts at zero (velocity 0).

The generator's ``forward(latent, condition)`` samples: latent (N, 507) standard normal,
condition (N, 4) (``CONDITION_FIELDS``); it returns the three layers in MeV. Given a third
argument, ``forward(x_t, condition, t)`` returns the velocity: the training view, routed through
``forward`` so DistributedDataParallel sees it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.detector import CALORIMETER
from fastshower.models.family import flow_family
from fastshower.models.shower_space import ShowerSpace, ShowerSpaceSettings

__all__ = ["FAMILY", "SOLVERS", "FlowMatchingGenerator", "VelocityNet"]

SOLVERS = ("euler", "midpoint")
_TIME_FREQUENCIES = 8


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(width, 2 * width)
        self.hidden = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(embedding).chunk(2, dim=1)
        y = self.norm(h) * (1 + scale) + shift
        return h + self.out(F.silu(self.hidden(y)))


class VelocityNet(nn.Module):
    """v(x, t | context): a residual MLP with FiLM conditioning on (context, time)."""

    frequencies: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, dim: int, context_size: int, width: int = 256, blocks: int = 4) -> None:
        super().__init__()
        self.register_buffer(
            "frequencies", math.pi * 2.0 ** torch.arange(_TIME_FREQUENCIES, dtype=torch.float32)
        )
        self.embed = nn.Sequential(
            nn.Linear(context_size + 2 * _TIME_FREQUENCIES, width),
            nn.SiLU(),
            nn.Linear(width, width),
            nn.SiLU(),
        )
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(blocks))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        angles = t.reshape(-1, 1) * self.frequencies
        embedding = self.embed(torch.cat([context, angles.sin(), angles.cos()], dim=1))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, embedding)
        return self.out(self.norm(h))


class FlowMatchingGenerator(nn.Module):
    """Noise + condition -> showers (three layers, MeV), by integrating the learnt velocity."""

    def __init__(
        self,
        particles: Sequence[str] = ("e+",),
        width: int = 256,
        blocks: int = 4,
        steps: int = 8,
        solver: str = "midpoint",
        **space: Any,
    ) -> None:
        """``space``: the fields of ``ShowerSpaceSettings``, flat as model configs store them."""
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"solver {solver!r}: known are {', '.join(SOLVERS)}")
        if steps < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        self.space = ShowerSpace(particles, ShowerSpaceSettings(**space))
        self.velocity = VelocityNet(self.space.dim, self.space.context_size, width, blocks)
        self.steps, self.solver = steps, solver
        self.latent_size = self.space.dim
        self.layer_shapes = [layer.shape for layer in CALORIMETER.layers]

    def forward(
        self, latent: torch.Tensor, condition: torch.Tensor, t: torch.Tensor | None = None
    ) -> Any:
        if t is not None:
            return self.velocity(latent, t, self.space.context(condition))
        layers = self.space.decode(self.sample_space(latent, condition), condition)
        return tuple(
            c.reshape(-1, *shape) for c, shape in zip(layers, self.layer_shapes, strict=True)
        )

    def sample_space(self, latent: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Noise -> standardised shower vectors: the ODE from t = 0 to t = 1, in ``steps``
        equal steps."""
        x, context = latent, self.space.context(condition)
        dt = 1.0 / self.steps
        for i in range(self.steps):
            t = torch.full((len(x), 1), i * dt, dtype=x.dtype, device=x.device)
            v = self.velocity(x, t, context)
            if self.solver == "midpoint":
                v = self.velocity(x + 0.5 * dt * v, t + 0.5 * dt, context)
            x = x + dt * v
        return x


def check_sampling(sampling: dict[str, Any]) -> None:
    """The sampler settings a generation may override: ``steps`` (a positive integer) and
    ``solver`` (``SOLVERS``): the same weights sampled at another cost and fidelity."""
    unknown = set(sampling) - {"steps", "solver"}
    if unknown:
        raise ValueError(f"unknown sampling settings {sorted(unknown)}: steps, solver")
    steps = sampling.get("steps", 1)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if sampling.get("solver", SOLVERS[0]) not in SOLVERS:
        raise ValueError(f"solver {sampling['solver']!r}: known are {', '.join(SOLVERS)}")


FAMILY = flow_family("flow-matching", FlowMatchingGenerator, sampling=check_sampling)
"""The contract (``fastshower.models.family``); the ODE steps are unrolled into an ONNX export."""
