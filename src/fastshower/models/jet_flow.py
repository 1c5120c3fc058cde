"""A CaloFlow-style normalizing flow of 25 x 25 jet images, conditioned on the class (W or QCD).

Jet images are calorimeter showers in another geometry: pixel pT spanning five decades (0.001 to
300 GeV), 95 % of the 625 pixels empty (a W jet hits about 21, a QCD jet 32). So the jet flow is
the shower flow's design (``calo_flow``) on one 25 x 25 layer:

- **Flow I** learns the jet's summary given the class: ``log(pT)`` of the whole image (its sum
  of pixels) and ``log(1 + hits + u)``, the number of pixels of at least ``delta`` dequantised.
- **Flow II** learns the pixels given the class and that summary: each pixel's share of the
  jet's pT on a log scale, an empty pixel a point of a band below the smallest hit (the cell
  coding of ``shower_space.CellCoding``, with the jet's pT as the scale). Coupling layers
  alternate random halves of the image with a chessboard (and its complement), so every pixel
  is transformed once per pair and often given its neighbours.
- On the way back the pixels are rescaled to sum to flow I's pT, as CaloFlow normalises each
  layer, so the jet's pT (and with it its mass scale) is that of a small, well-learnt flow.

Why not a GAN as LAGAN: a GAN's images are judged only through its discriminator, and LAGAN's
left the W mass peak broad (a pixel classifier tells its jets from Pythia's at AUC 1.000); a
likelihood sees every pixel of every training jet. Why the pT of the image and not the
dataset's ``jet_pt``: the image is what is generated and judged, and its sum is what the
observables (mass, pT, n-subjettiness) are computed from.

``forward(latent, labels)`` samples: latent (N, 627) standard normal, labels (N,) int64 (0 = QCD,
1 = W); it returns images (N, 25, 25) in GeV. ``forward(x, labels, density=True)`` returns
``log p(x | class)`` of standardised vectors: the training view.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fastshower.models.calo_flow import TwoFlows, coupling_masks
from fastshower.models.family import JET_CLASSES, jet_family
from fastshower.models.grid_coupling import checkerboard_pairs
from fastshower.models.shower_space import GAP, ZERO_BAND, CellCoding, standardise
from fastshower.models.spline_coupling import SplineCouplingTransform

__all__ = ["FAMILY", "IMAGE_SHAPE", "JetFlowGenerator", "JetSpace"]

IMAGE_SHAPE = (25, 25)
_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
_CLASSES = len(JET_CLASSES)


class JetSpace(nn.Module):
    """Invertible map between jet images (pixels in GeV) and standard vectors (N, 627)."""

    mean: torch.Tensor
    std: torch.Tensor
    upper: torch.Tensor

    def __init__(
        self,
        noise_gev: float = 1e-3,
        pixel_floor: float = 1e-7,
        gap: float = GAP,
        zero_band: float = ZERO_BAND,
    ) -> None:
        super().__init__()
        if noise_gev <= 0 or pixel_floor < 0:
            raise ValueError(
                f"need noise_gev > 0 and pixel_floor >= 0, got {noise_gev}, {pixel_floor}"
            )
        self.pixels = CellCoding(noise_gev, pixel_floor, gap, zero_band)
        self.head = 2  # log(pT), log(1 + hits + u)
        self.dim = self.head + _PIXELS
        self.context_size = _CLASSES
        for name, value in (("mean", 0.0), ("std", 1.0), ("upper", torch.inf)):
            self.register_buffer(name, torch.full((self.dim,), value))

    @torch.no_grad()
    def fit(self, images_gev: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> JetSpace:
        """Set the standardisation from a training sample (one draw of the noise)."""
        rng = torch.Generator(device=images_gev.device).manual_seed(seed)
        self.mean.zero_()
        self.std.fill_(1.0)
        standardise(self, self.encode(images_gev, labels, rng))
        return self

    def encode(
        self, images_gev: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """Images (N, 25, 25) or (N, 625) in GeV -> standardised vectors, with fresh noise."""
        pixels = images_gev.reshape(len(images_gev), _PIXELS).clamp_min(0.0)
        pt = pixels.sum(1, keepdim=True).clamp_min(self.pixels.delta)
        u = torch.rand(pixels.shape, generator=rng, device=pixels.device)
        hits = (pixels >= self.pixels.delta).sum(1, keepdim=True)
        v = torch.rand(hits.shape, generator=rng, device=pixels.device)
        head = [torch.log(pt), torch.log1p(hits + v)]
        x = torch.cat([*head, self.pixels.encode(pixels, pt, u)], dim=1)
        return (x - self.mean) / self.std

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised vectors -> images (N, 25, 25) in GeV, summing to the generated pT."""
        x = torch.minimum(x, self.upper) * self.std + self.mean
        pt = torch.exp(x[:, :1])
        pixels = self.pixels.decode(x[:, self.head :], pt)
        total = pixels.sum(1, keepdim=True)
        scale = torch.where(total > 0, pt / total.clamp_min(1e-30), torch.zeros_like(total))
        return (pixels * scale).reshape(-1, *IMAGE_SHAPE)

    def context(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels (N,) -> what the networks see: the class one-hot (N, 2)."""
        return nn.functional.one_hot(labels.long(), _CLASSES).to(self.mean.dtype)


class JetFlowGenerator(TwoFlows):
    """Noise + class -> jet images (GeV), through two spline flows."""

    def __init__(
        self,
        transforms: int = 8,
        hidden: int = 128,
        hidden_layers: int = 2,
        bins: int = 8,
        bound: float = 8.0,
        energy_transforms: int = 4,
        energy_hidden: int = 64,
        noise_gev: float = 1e-3,
        pixel_floor: float = 1e-7,
    ) -> None:
        masks = checkerboard_pairs(coupling_masks(_PIXELS, transforms), _image_checkerboard())
        super().__init__(
            JetSpace(noise_gev, pixel_floor),
            masks,
            SplineCouplingTransform,
            hidden,
            hidden_layers,
            bins,
            bound,
            energy_transforms,
            energy_hidden,
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor, density: bool = False) -> Any:
        if density:
            return self.log_prob(x, self.space.context(labels))
        return self.space.decode(self.sample_space(x, labels))


def _image_checkerboard() -> torch.Tensor:
    ix, iy = torch.meshgrid(*(torch.arange(n) for n in IMAGE_SHAPE), indexing="ij")
    return ((ix + iy) % 2 == 0).flatten()


FAMILY = jet_family("jet-flow", JetFlowGenerator, 1.0, strict=False, optimize=False)
"""The contract (``fastshower.models.family``); exported as calo-flow is (zuko's transforms:
non-strict capture, no graph optimisation)."""
