"""How CaloGAN trains (``fastshower.models.calogan`` holds its networks)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.models.calogan import (
    ENERGY_LOSS_WEIGHT,
    LATENT_SIZE,
    CaloganDiscriminator,
    CaloganGenerator,
)
from fastshower.training.recipe import GanRecipe

__all__ = ["CaloganRecipe"]


class CaloganRecipe(GanRecipe):
    """How CaloGAN trains (``fastshower.training.loop``; the authors' ``models/train.py``): the
    discriminator on a batch of real showers and a batch generated at energies drawn uniformly
    in the training range; binary cross-entropy on real / fake plus ``ENERGY_LOSS_WEIGHT`` x the
    absolute error between the shown cells' total energy and the incident (real) or requested
    (generated) energy; two generator updates per discriminator update (``TrainConfig``).
    Validation: Wasserstein-1 of the three layer-energy fractions and the total energy ratio,
    generated against held-out showers at the same incident energies (lower is better).
    """

    name = "calogan"

    def __init__(
        self,
        energy_range_gev: tuple[float, float] = (1.0, 100.0),
        validation: tuple[tuple[torch.Tensor, ...], torch.Tensor] | None = None,
        latent_size: int = LATENT_SIZE,
        attention: bool = True,
        n_validation: int = 500,
    ) -> None:
        self.energy_range_gev = energy_range_gev
        self.validation = validation
        self.latent_size, self.attention, self.n_validation = latent_size, attention, n_validation

    @property
    def model_config(self) -> dict[str, object]:
        return {"latent_size": self.latent_size, "attention": self.attention}

    def build(self) -> tuple[nn.Module, nn.Module]:
        return CaloganGenerator(self.latent_size, attention=self.attention), CaloganDiscriminator()

    def _fakes(
        self, generator: nn.Module, n: int, rng: torch.Generator, device: torch.device
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        lo, hi = self.energy_range_gev
        energy = lo + (hi - lo) * torch.rand(n, generator=rng, device=device)
        z = torch.randn(n, self.latent_size, generator=rng, device=device)
        return generator(z, energy), energy

    def discriminator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        *layers, energy = batch
        with torch.no_grad():
            fakes, requested = self._fakes(generator, len(energy), rng, energy.device)
        real_logit, real_total = discriminator(layers, energy)
        fake_logit, fake_total = discriminator(fakes, requested)
        loss_rf = F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        loss_e = (real_total - energy).abs().mean() + (fake_total - requested).abs().mean()
        return loss_rf + ENERGY_LOSS_WEIGHT * loss_e, {"d_real_fake": loss_rf.item()}

    def generator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        energy = batch[-1]
        fakes, requested = self._fakes(generator, len(energy), rng, energy.device)
        logit, total = discriminator(fakes, requested)
        loss_rf = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        loss_e = (total - requested).abs().mean()
        return loss_rf + ENERGY_LOSS_WEIGHT * loss_e, {"g_energy_gev": loss_e.item()}

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        from scipy.stats import wasserstein_distance

        if self.validation is None:
            return {"score": 0.0}
        layers, energy = self.validation
        n = min(self.n_validation, len(energy))
        device = next(generator.parameters()).device
        real = [x[:n] for x in layers]
        z = torch.randn(n, self.latent_size, generator=rng, device=device)
        fake = [x.cpu() for x in generator(z, energy[:n].to(device))]
        scores = {}
        for name, sample in (("real", real), ("fake", fake)):
            e = torch.stack([x.flatten(1).sum(1) for x in sample], dim=1).double()
            total = e.sum(1, keepdim=True).clamp_min(1e-12)
            scores[name] = torch.cat([e / total, total / energy[:n].reshape(-1, 1)], 1).numpy()
        w1 = {
            f"w1_{k}": float(wasserstein_distance(scores["real"][:, i], scores["fake"][:, i]))
            for i, k in enumerate(("f0", "f1", "f2", "e_ratio"))
        }
        return {**w1, "score": sum(w1.values())}
