"""How LAGAN trains (``fastshower.models.lagan`` holds its networks)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.models.lagan import (
    LATENT_SIZE,
    N_CLASSES,
    PT_SCALE_GEV,
    LaganDiscriminator,
    LaganGenerator,
)
from fastshower.training.jet_validation import jet_mass_distances
from fastshower.training.recipe import GanRecipe

__all__ = ["LaganRecipe"]


class LaganRecipe(GanRecipe):
    """How LAGAN trains (``fastshower.training.loop``): an AC-GAN on (image, class) batches, the
    discriminator on real and generated images in one batch, 5% of its real/fake labels flipped
    (the authors' trick against an overconfident discriminator). Validation: the jet mass of
    generated images against held-out ones, per class (Wasserstein-1 in GeV; lower is better).
    """

    name = "lagan"

    def __init__(
        self,
        validation: tuple[torch.Tensor, torch.Tensor] | None = None,
        latent_size: int = LATENT_SIZE,
        label_flip: float = 0.05,
        n_validation: int = 500,
    ) -> None:
        self.validation = validation
        self.latent_size, self.label_flip, self.n_validation = latent_size, label_flip, n_validation

    @property
    def model_config(self) -> dict[str, int]:
        return {"latent_size": self.latent_size}

    def build(self) -> tuple[nn.Module, nn.Module]:
        return LaganGenerator(self.latent_size), LaganDiscriminator()

    def _fakes(
        self, generator: nn.Module, n: int, rng: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(n, self.latent_size, generator=rng, device=device)
        labels = torch.randint(0, N_CLASSES, (n,), generator=rng, device=device)
        return generator(z, labels), labels

    def discriminator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        images, labels = batch
        with torch.no_grad():
            fakes, fake_labels = self._fakes(generator, len(images), rng, images.device)
        x = torch.cat([images, fakes])
        real = torch.cat([torch.ones(len(images)), torch.zeros(len(fakes))]).to(images.device)
        flip = torch.rand(len(real), generator=rng, device=images.device) < self.label_flip
        real = torch.where(flip, 1 - real, real)
        real_fake, aux = discriminator(x)
        classes = torch.cat([labels, fake_labels]).float()
        loss_rf = F.binary_cross_entropy_with_logits(real_fake, real)
        loss_aux = F.binary_cross_entropy_with_logits(aux, classes)
        return loss_rf + loss_aux, {"d_real_fake": loss_rf.item(), "d_class": loss_aux.item()}

    def generator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        images, _ = batch
        fakes, fake_labels = self._fakes(generator, len(images), rng, images.device)
        real_fake, aux = discriminator(fakes)
        loss_rf = F.binary_cross_entropy_with_logits(real_fake, torch.ones_like(real_fake))
        loss_aux = F.binary_cross_entropy_with_logits(aux, fake_labels.float())
        return loss_rf + loss_aux, {"g_class": loss_aux.item()}

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        if self.validation is None:
            return {"score": 0.0}
        device = next(generator.parameters()).device

        def sample(labels: torch.Tensor) -> torch.Tensor:
            z = torch.randn(len(labels), self.latent_size, generator=rng, device=device)
            return generator(z, labels.to(device)).cpu() * PT_SCALE_GEV

        images, labels = self.validation
        return jet_mass_distances(sample, images * PT_SCALE_GEV, labels, self.n_validation)
