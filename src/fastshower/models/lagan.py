"""LAGAN: the location-aware GAN for 25 x 25 jet images (de Oliveira, Paganini, Nachman,
arXiv:1701.05927), as in the authors' Keras code (hep-lbdl/adversarial-jets,
``models/networks/lagan.py``), in PyTorch.

Generator: a latent vector (200) multiplied element-wise by a learned embedding of the class
(W or QCD: the AC-GAN conditioning); Dense(128 x 7 x 7) -> Conv 5x5 (64) -> upsample x2 ->
locally connected 5x5 (6) -> upsample x2 -> locally connected 3x3 (6) -> locally connected 2x2
(1, no bias) -> ReLU, so pixels are never negative and most stay exactly 0.

Discriminator: Conv 5x5 (32) -> three locally connected blocks (5x5 stride 2, 5x5, 3x3 stride 2;
8 filters each, batch norm, dropout 0.2) -> 2x2 average pooling -> minibatch discrimination
(20 kernels of 10 dimensions) concatenated with the features -> two heads: real/fake and the
auxiliary class (W or QCD).

Faithful details kept on purpose: Keras' LeakyReLU slope 0.3, its batch-norm momentum (0.99,
i.e. PyTorch's 0.01) and epsilon (1e-3), Glorot-uniform initialisation where Keras defaulted to
it and He-uniform / Glorot-normal where the authors asked for them, with Keras 1's fans
(``_keras1_fans``; CaloGAN, written for Keras 2, counts them differently). One change: the
heads return logits, not sigmoids, so training uses ``BCEWithLogitsLoss`` (the same loss,
numerically safe).

Images are in the training units of the paper: pixel pT divided by ``PT_SCALE_GEV`` (100 GeV).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.models.family import jet_family
from fastshower.models.keras_init import (
    BatchNormArgs,
    glorot_normal,
    glorot_uniform,
    he_uniform,
    zero_bias,
)
from fastshower.models.layers import LocallyConnected2d, MinibatchDiscrimination

__all__ = [
    "FAMILY",
    "IMAGE_SIZE",
    "LATENT_SIZE",
    "PT_SCALE_GEV",
    "LaganDiscriminator",
    "LaganGenerator",
]

IMAGE_SIZE = 25
LATENT_SIZE = 200
N_CLASSES = 2  # 0 = QCD, 1 = W (the data sets' ``signal``)
PT_SCALE_GEV = 100.0
_SLOPE = 0.3  # keras.layers.LeakyReLU's default alpha
# Keras BatchNormalization's defaults, in PyTorch terms
_BN: BatchNormArgs = {"momentum": 0.01, "eps": 1e-3}


class LaganGenerator(nn.Module):
    """``(latent (N, 200), class (N,) in {0, 1}) -> images (N, 25, 25)``, pT / 100 GeV."""

    def __init__(self, latent_size: int = LATENT_SIZE) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.embedding = nn.Embedding(N_CLASSES, latent_size)
        self.project = nn.Linear(latent_size, 128 * 7 * 7)
        self.conv = nn.Conv2d(128, 64, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(64, **_BN)
        self.lc1 = LocallyConnected2d(64, 6, input_size=(18, 18), kernel_size=5)
        self.bn2 = nn.BatchNorm2d(6, **_BN)
        self.lc2 = LocallyConnected2d(6, 6, input_size=(28, 28), kernel_size=3)
        self.lc3 = LocallyConnected2d(6, 1, input_size=(26, 26), kernel_size=2, bias=False)
        nn.init.xavier_normal_(self.embedding.weight)
        nn.init.xavier_uniform_(self.project.weight)
        nn.init.zeros_(self.project.bias)
        for layer in (self.conv, self.lc1, self.lc2):
            he_uniform(layer.weight, _keras1_fans(layer)[0])
        glorot_normal(self.lc3.weight, *_keras1_fans(self.lc3), truncated=False)

    def forward(self, latent: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = latent * self.embedding(labels.long())
        x = self.project(h).view(len(h), 128, 7, 7)
        x = self.bn1(F.leaky_relu(self.conv(x), _SLOPE))
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # 14 x 14
        x = self.bn2(F.leaky_relu(self.lc1(F.pad(x, (2, 2, 2, 2))), _SLOPE))
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # 28 x 28
        x = F.leaky_relu(self.lc2(x), _SLOPE)  # 26 x 26
        return F.relu(self.lc3(x)).squeeze(1)  # 25 x 25


class LaganDiscriminator(nn.Module):
    """``images (N, 25, 25) -> (real/fake logit (N,), class logit (N,))``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 5, padding=2)
        self.lc1 = LocallyConnected2d(32, 8, input_size=(29, 29), kernel_size=5, stride=2)
        self.lc2 = LocallyConnected2d(8, 8, input_size=(17, 17), kernel_size=5)
        self.lc3 = LocallyConnected2d(8, 8, input_size=(15, 15), kernel_size=3, stride=2)
        self.bns = nn.ModuleList(nn.BatchNorm2d(8, **_BN) for _ in range(3))
        self.dropout = nn.Dropout(0.2)
        n_features = 8 * 3 * 3
        self.minibatch = MinibatchDiscrimination(n_features, n_kernels=20, kernel_dim=10)
        self.real_fake = nn.Linear(n_features + 20, 1)
        self.auxiliary = nn.Linear(n_features + 20, 1)
        for layer in (self.conv, self.lc1, self.lc2, self.lc3, self.real_fake, self.auxiliary):
            glorot_uniform(layer.weight, *_keras1_fans(layer))
            zero_bias(layer.bias)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.unsqueeze(1)
        x = self.dropout(F.leaky_relu(self.conv(x), _SLOPE))  # no batch norm here (DCGAN)
        for lc, bn, pad in zip((self.lc1, self.lc2, self.lc3), self.bns, (2, 2, 1), strict=True):
            x = self.dropout(bn(F.leaky_relu(lc(F.pad(x, (pad,) * 4)), _SLOPE)))
        features = F.avg_pool2d(x, 2).flatten(1)  # 7 x 7 -> 3 x 3, as Keras' floor
        features = torch.cat([self.minibatch(features), features], dim=1)
        return self.real_fake(features).squeeze(1), self.auxiliary(features).squeeze(1)


def _keras1_fans(layer: nn.Linear | nn.Conv2d | LocallyConnected2d) -> tuple[float, float]:
    """Fan-in and fan-out as Keras 1 computed them for its initialisers: per kernel position for
    dense and convolutional layers, but sqrt(number of weights) for both when the kernel has
    three axes, as a locally connected layer's has."""
    w = layer.weight
    if isinstance(layer, LocallyConnected2d):
        fan = float(w.numel()) ** 0.5
        return fan, fan
    receptive = w[0, 0].numel() if w.dim() > 2 else 1
    return float(w.shape[1] * receptive), float(w.shape[0] * receptive)


FAMILY = jet_family(
    "lagan",
    LaganGenerator,
    PT_SCALE_GEV,
    published_config={"latent_size": LATENT_SIZE},
    latent_first=True,
)
"""The contract (``fastshower.models.family``)."""
