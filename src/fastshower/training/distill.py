"""One-step students of a shower flow: a shower per network call, as fast as a GAN.

A trained flow (the teacher) defines a deterministic map from noise to showers: a flow-matching
model through its ODE, the CaloFlow-style flow through its inverse transforms. A student with
the flow-matching interface and one Euler step learns that map by regression: for fresh noise
``z`` and a training condition ``c``, minimise
``|z + v_student(z, 0 | c) - teacher(z | c)|^2`` in the teacher's standardised space
(knowledge distillation of a sampler, Luhman & Luhman, arXiv:2101.02388; the one-step
distillation of rectified flow, Liu et al., arXiv:2209.03003). The targets are computed on the
fly, so the student never sees the same (noise, shower) pair twice. Conditions come from the
training showers, so the student learns the map where the data live.

The student is a ``FlowMatchingGenerator`` with ``steps = 1`` and the Euler rule, in the
teacher's ``ShowerSpace`` (same settings, same standardisation): the same model file format,
generation, ONNX export and evaluation as any flow-matching model, one network call per shower
(the flow-matching teacher: 16; the CaloFlow teacher: 8 coupling networks plus the splines). It
starts from a flow-matching teacher's weights when it has the teacher's size (the teacher's
first Euler step is already a rough one-step sampler); otherwise it starts fresh.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.models.flow_matching import FlowMatchingGenerator
from fastshower.models.shower_space import ShowerFlow
from fastshower.training.flow_matching import FlowMatchingRecipe

__all__ = ["DistillRecipe"]


class DistillRecipe(FlowMatchingRecipe):
    """Train a one-step student of ``teacher`` (validated like any flow-matching model).

    ``teacher``: any generator with a ``space`` (``ShowerSpace``) and ``sample_space(latent,
    condition)``, the map from noise to standardised showers."""

    def __init__(
        self,
        teacher: nn.Module,
        model_config: dict[str, Any],
        training: tuple[torch.Tensor, torch.Tensor],
        validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        student_config = {**model_config, "steps": 1, "solver": "euler"}
        super().__init__(student_config, training, validation)
        self.teacher = teacher.eval().requires_grad_(False)

    def networks(self) -> dict[str, nn.Module]:
        student = FlowMatchingGenerator(**self.model_config)
        state, own = self.teacher.state_dict(), student.state_dict()
        if state.keys() == own.keys() and all(v.shape == state[k].shape for k, v in own.items()):
            student.load_state_dict(state)
        else:
            student.space.load_state_dict(cast(ShowerFlow, self.teacher).space.state_dict())
        return {"generator": student}

    def loss(
        self, networks: dict[str, nn.Module], batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        _, condition = batch
        student = networks["generator"]
        teacher = cast(ShowerFlow, self.teacher.to(condition.device))
        z = torch.randn(len(condition), teacher.latent_size, generator=rng, device=condition.device)
        with torch.no_grad():
            target = teacher.sample_space(z, condition)
        t = torch.zeros(len(z), 1, device=z.device)
        loss = F.mse_loss(z + student(z, condition, t), target)
        return loss, {"loss": loss.item()}
