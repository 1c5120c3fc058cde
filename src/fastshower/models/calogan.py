"""CaloGAN: the generator and discriminator for the three-layer calorimeter (Paganini,
de Oliveira, Nachman, arXiv:1705.02355 and 1712.10321), as in the authors' Keras code
(hep-lbdl/CaloGAN: ``models/train.py``, ``models/architectures.py``, ``models/ops.py``), in
PyTorch.

Generator: the latent vector (1024) multiplied element-wise by E / 100 (E the requested incident
energy in GeV). Three parallel LAGAN-style streams, one per read-out layer of shape (H, W), each:
Dense(36 x (H+2) x (W+2)) -> Conv 2x2 "same" (16) -> LeakyReLU -> batch norm -> locally connected
2x2 (6) -> LeakyReLU -> locally connected 2x2 (1, no bias). Then the in-painting attention: layer
0's (pre-ReLU) output, resized to layer 1's grid (nearest up-sampling in x, averaging in y), is
mixed into layer 1's by a per-cell softmax over [own, carried-over], computed by a locally
connected 3x3 layer (2 filters) on the two channels; the attended layer 1 is carried into layer 2
the same way. The bias of the carried-over filter starts at -10, so the gate starts closed
(weight ~ 5e-5). A final ReLU makes every cell >= 0 and leaves most of them exactly 0.

Discriminator, per layer: Conv 2x2 "same" (64) -> LeakyReLU (no batch norm) -> three blocks of
zero padding 1 + locally connected layer (16 filters 3x3 stride (1, 2); 8 filters 2x2; 8 filters
2x2 stride (1, 2)) -> LeakyReLU -> batch norm; flattened, then minibatch discrimination (10 kernels
x 10 dimensions, tanh) on those features, the sparsity (fraction of cells > 0) and minibatch
discrimination on the sparsity. Across layers: the layer energies / 10, the total energy / 100,
the energy-conservation inputs |E_total - E_requested| and 10 * 1[|E_total - E_requested| > 5 GeV]
and minibatch discrimination on the three layer energies -> Dense(1): real / fake.

Units: the authors divided the dataset's cells (MeV) by 1000, so the networks work in **GeV**
throughout: generator cells come out in GeV, the discriminator expects cells in GeV, and the
requested / incident energy is in GeV. ``cells_mev = cells_gev * CELL_UNIT_MEV``.

Faithful details kept on purpose: Keras' LeakyReLU slope 0.3, batch-norm momentum 0.99 (PyTorch
0.01) and epsilon 1e-3, "same" padding of even kernels as TensorFlow pads it (one extra row and
column at the end), and the initialisations as Keras computed them: Glorot-uniform by default,
He-uniform and Glorot-normal (truncated at 2 sigma, as Keras 2.0 drew it) where the authors asked
for them, zero biases. Keras' fans of a locally connected kernel (positions, inputs, filters) count
every position (fan_in = positions x inputs), so its locally connected layers start much smaller
than a convolution would; that is kept (``lagan.py`` uses per-position fans instead).

Changes, and why:
- The real / fake head returns a logit, not a sigmoid (``BCEWithLogitsLoss``, numerically safe).
- The second output is what the Keras model returns: the total energy of the cells it is shown
  (GeV), a parameter-free "regression" trained with an MAE loss (weight ``ENERGY_LOSS_WEIGHT``)
  against the incident energy (real showers) or the requested one (generated showers). Only the
  generator can learn from it: it pushes generated showers towards energy conservation.
- Minibatch discrimination uses the shared ``MinibatchDiscrimination``, which has no bias: the
  Keras ``Dense3D`` bias cancels in the differences M(i) - M(j), so the outputs are identical.
- Keras' stride (1, 2) locally connected layers are computed exactly, with the same parameters,
  as a stride-1 locally connected layer over the column patches (the shared layer takes one
  integer stride); see ``ColumnStridedLocallyConnected2d``.
- Only the one-particle GAN (the published models, one per particle); the authors' AC-GAN mode
  with a class embedding is left out. Weights are laid out channels-first, so porting Keras
  weights would need their axes permuted.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.detector import CALORIMETER
from fastshower.io import SHOWER_SCHEMA
from fastshower.models.family import (
    Family,
    OnnxSignature,
    ShowerCondition,
    layer_names,
    shower_arrays,
)
from fastshower.models.keras_init import (
    BatchNormArgs,
    glorot_normal,
    glorot_uniform,
    he_uniform,
    zero_bias,
)
from fastshower.models.layers import LocallyConnected2d, MinibatchDiscrimination

__all__ = [
    "CELL_UNIT_MEV",
    "ENERGY_LOSS_WEIGHT",
    "ENERGY_SCALE_GEV",
    "FAMILY",
    "LATENT_SIZE",
    "MEV_PER_GEV",
    "CaloganDiscriminator",
    "CaloganGenerator",
    "ColumnStridedLocallyConnected2d",
    "InpaintingAttention",
    "resize_cells",
]

LATENT_SIZE = 1024
MEV_PER_GEV = 1000.0
CELL_UNIT_MEV = MEV_PER_GEV  # one unit of a network cell (GeV) in the dataset's MeV
ENERGY_SCALE_GEV = 100.0  # the latent vector is multiplied by E / 100 GeV
ENERGY_WELL_THRESHOLD_GEV = 5.0  # |E_total - E_requested| above this switches the flag on
ENERGY_WELL_FLAG = 10.0  # the flag's value
ENERGY_LOSS_WEIGHT = 0.05  # weight of the total-energy MAE in the authors' training
CLOSED_GATE_BIAS = -10.0  # bias of the attention's carried-over filter at initialisation
N_MINIBATCH_KERNELS, MINIBATCH_KERNEL_DIM = 10, 10
_STREAM_CHANNELS = 36  # channels of the generator's projected image
_SLOPE = 0.3  # keras.layers.LeakyReLU's default alpha
# Keras BatchNormalization's defaults, in PyTorch terms
_BN: BatchNormArgs = {"momentum": 0.01, "eps": 1e-3}
_SAME_2X2 = (0, 1, 0, 1)  # TensorFlow's "same" padding of a 2x2 kernel: one after, none before


def resize_cells(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Carry an image (N, C, H, W) over to another layer's grid ``shape``, axis by axis: nearest
    up-sampling where the target is finer, averaging where it is coarser (integer ratios only).
    Layer 0 (3, 96) -> layer 1 (12, 12): x repeated 4 times, 8 cells averaged in y.
    """
    for axis in (2, 3):
        source, target = x.shape[axis], shape[axis - 2]
        if target >= source and target % source == 0:
            x = x.repeat_interleave(target // source, dim=axis)
        elif target < source and source % target == 0:
            step = source // target
            x = x.unflatten(axis, (target, step)).mean(dim=axis + 1)
        else:
            raise ValueError(f"cannot resize {tuple(x.shape[2:])} to {shape}: no integer ratio")
    return x


class InpaintingAttention(nn.Module):
    """Mix a layer's own image with one carried over from the layer in front, cell by cell:
    ``out = w_own * own + w_carried * carried`` with (w_own, w_carried) a softmax over the two
    outputs of a locally connected 3x3 layer (zero padded, so one pair per cell) that sees both
    images. The carried-over filter's bias starts at ``closed_bias`` (-10): the gate is closed at
    first and the generator learns how much to borrow from the previous layer.
    """

    def __init__(self, shape: tuple[int, int], closed_bias: float = CLOSED_GATE_BIAS) -> None:
        super().__init__()
        h, w = shape
        self.gate = LocallyConnected2d(2, 2, input_size=(h + 2, w + 2), kernel_size=3)
        glorot_uniform(self.gate.weight, *_keras_fans(self.gate))
        bias = self.gate.bias
        if bias is None:  # never (built with one): the error bias.zero_() would raise
            raise AttributeError("the attention gate has no bias")
        with torch.no_grad():
            bias.zero_()
            bias[1].fill_(closed_bias)

    def weights(self, own: torch.Tensor, carried: torch.Tensor) -> torch.Tensor:
        """The softmax weights (N, 2, H, W): channel 0 for ``own``, channel 1 for ``carried``."""
        x = torch.cat([own, carried], dim=1)
        return torch.softmax(self.gate(F.pad(x, (1, 1, 1, 1))), dim=1)

    def forward(self, own: torch.Tensor, carried: torch.Tensor) -> torch.Tensor:
        x = torch.cat([own, carried], dim=1)
        return (x * self.weights(own, carried)).sum(dim=1, keepdim=True)


class ColumnStridedLocallyConnected2d(nn.Module):
    """Keras' ``LocallyConnected2D`` with strides (1, 2) ("valid"): each output cell (i, j) sees
    rows i..i+kh-1 and columns 2j..2j+kw-1. Computed exactly as the shared stride-1 layer with a
    (kh, 1) kernel over the input's column patches stacked as channels (in_channels x kw), so
    the weights (one bank per output cell, in x kh x kw inputs) are the same as Keras'.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: tuple[int, int],
        kernel_size: tuple[int, int],
        column_stride: int = 2,
    ) -> None:
        super().__init__()
        h, w = input_size
        kh, kw = kernel_size
        if w < kw:
            raise ValueError(f"input {input_size} narrower than kernel {kernel_size}")
        self.kernel_width, self.column_stride = kw, column_stride
        columns = (w - kw) // column_stride + 1
        self.lc = LocallyConnected2d(
            in_channels * kw, out_channels, input_size=(h, columns), kernel_size=(kh, 1)
        )
        self.output_size = self.lc.output_size
        self.weight, self.bias = self.lc.weight, self.lc.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x.unfold(3, self.kernel_width, self.column_stride)  # (N, C, H, W_out, kw)
        patches = patches.permute(0, 1, 4, 2, 3).flatten(1, 2)  # (N, C * kw, H, W_out)
        return self.lc(patches)


class _GeneratorStream(nn.Module):
    """One layer's LAGAN-style stream: ``h (N, latent) -> image (N, 1, H, W)``, before the
    attention and the final ReLU."""

    def __init__(self, latent_size: int, shape: tuple[int, int]) -> None:
        super().__init__()
        h, w = shape
        self.grid = (h + 2, w + 2)
        self.project = nn.Linear(latent_size, _STREAM_CHANNELS * (h + 2) * (w + 2))
        self.conv = nn.Conv2d(_STREAM_CHANNELS, 16, 2)
        self.bn = nn.BatchNorm2d(16, **_BN)
        self.lc1 = LocallyConnected2d(16, 6, input_size=(h + 2, w + 2), kernel_size=2)
        self.lc2 = LocallyConnected2d(6, 1, input_size=(h + 1, w + 1), kernel_size=2, bias=False)
        glorot_uniform(self.project.weight, *_keras_fans(self.project))
        for layer in (self.conv, self.lc1):
            he_uniform(layer.weight, _keras_fans(layer)[0])
        glorot_normal(self.lc2.weight, *_keras_fans(self.lc2), truncated=True)
        for bias in (self.project.bias, self.conv.bias, self.lc1.bias):
            zero_bias(bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.project(h).view(len(h), _STREAM_CHANNELS, *self.grid)
        x = self.bn(F.leaky_relu(self.conv(F.pad(x, _SAME_2X2)), _SLOPE))
        x = F.leaky_relu(self.lc1(x), _SLOPE)
        return self.lc2(x)


class CaloganGenerator(nn.Module):
    """``(latent (N, 1024), energy_gev (N,) or (N, 1)) -> (layer_0, layer_1, layer_2)`` with the
    detector's layer shapes ((N, 3, 96), (N, 12, 12), (N, 12, 6)); cells >= 0, in GeV.

    ``attention=False`` is the authors' ``--no-attn`` ablation (three independent streams).
    """

    def __init__(
        self,
        latent_size: int = LATENT_SIZE,
        layer_shapes: Sequence[tuple[int, int]] = CALORIMETER.layer_shapes,
        attention: bool = True,
    ) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.layer_shapes = tuple((h, w) for h, w in layer_shapes)
        self.streams = nn.ModuleList(_GeneratorStream(latent_size, s) for s in self.layer_shapes)
        self.attention = (
            nn.ModuleList(InpaintingAttention(s) for s in self.layer_shapes[1:])
            if attention
            else None
        )

    def forward(self, latent: torch.Tensor, energy_gev: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = latent * (energy_gev.reshape(-1, 1) / ENERGY_SCALE_GEV)
        images = [stream(h) for stream in self.streams]
        if self.attention is not None:
            for i, attend in enumerate(self.attention, start=1):
                carried = resize_cells(images[i - 1], self.layer_shapes[i])
                images[i] = attend(images[i], carried)
        return tuple(F.relu(x).squeeze(1) for x in images)


class _LayerFeatures(nn.Module):
    """One layer's discriminator features: ``image (N, H, W) -> (N, n_features)``, the
    locally connected features, their minibatch features, the sparsity and its minibatch
    features."""

    def __init__(self, shape: tuple[int, int]) -> None:
        super().__init__()
        h, w = shape
        self.conv = nn.Conv2d(1, 64, 2)
        self.lc1 = ColumnStridedLocallyConnected2d(64, 16, (h + 2, w + 2), (3, 3))
        h1, w1 = self.lc1.output_size
        self.lc2 = LocallyConnected2d(16, 8, input_size=(h1 + 2, w1 + 2), kernel_size=2)
        h2, w2 = self.lc2.output_size
        self.lc3 = ColumnStridedLocallyConnected2d(8, 8, (h2 + 2, w2 + 2), (2, 2))
        h3, w3 = self.lc3.output_size
        self.bns = nn.ModuleList(nn.BatchNorm2d(n, **_BN) for n in (16, 8, 8))
        n_flat = 8 * h3 * w3
        self.minibatch = _minibatch(n_flat)
        self.sparsity_minibatch = _minibatch(1)
        self.n_features = n_flat + N_MINIBATCH_KERNELS + 1 + N_MINIBATCH_KERNELS
        for layer in (self.conv, self.lc1, self.lc2, self.lc3):
            glorot_uniform(layer.weight, *_keras_fans(layer))
            zero_bias(layer.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv(F.pad(image.unsqueeze(1), _SAME_2X2)), _SLOPE)
        for lc, bn in zip((self.lc1, self.lc2, self.lc3), self.bns, strict=True):
            x = bn(F.leaky_relu(lc(F.pad(x, (1, 1, 1, 1))), _SLOPE))
        x = x.flatten(1)
        sparsity = (image > 0).flatten(1).float().mean(dim=1, keepdim=True)
        return torch.cat(
            [
                x,
                torch.tanh(self.minibatch(x)),
                sparsity,
                torch.tanh(self.sparsity_minibatch(sparsity)),
            ],
            dim=1,
        )


class CaloganDiscriminator(nn.Module):
    """``((layer_0, layer_1, layer_2) in GeV, energy_gev (N,) or (N, 1)) ->
    (real/fake logit (N,), total energy of the cells in GeV (N,))``.

    ``energy_gev`` is the incident energy of real showers, the requested one of generated ones.
    """

    def __init__(self, layer_shapes: Sequence[tuple[int, int]] = CALORIMETER.layer_shapes) -> None:
        super().__init__()
        self.layer_shapes = tuple((h, w) for h, w in layer_shapes)
        per_layer = [_LayerFeatures(s) for s in self.layer_shapes]
        self.layers = nn.ModuleList(per_layer)
        n_layers = len(self.layer_shapes)
        self.energy_minibatch = _minibatch(n_layers)
        n_features = sum(f.n_features for f in per_layer) + n_layers + 3 + N_MINIBATCH_KERNELS
        self.real_fake = nn.Linear(n_features, 1)
        glorot_uniform(self.real_fake.weight, *_keras_fans(self.real_fake))
        nn.init.zeros_(self.real_fake.bias)

    def forward(
        self, layers: Sequence[torch.Tensor], energy_gev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if len(layers) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers, got {len(layers)}")
        features = [f(image) for f, image in zip(self.layers, layers, strict=True)]
        energies = torch.stack([image.flatten(1).sum(dim=1) for image in layers], dim=1)
        total = energies.sum(dim=1, keepdim=True)
        well = (total - energy_gev.reshape(-1, 1)).abs()
        too_far = ENERGY_WELL_FLAG * (well > ENERGY_WELL_THRESHOLD_GEV).to(well.dtype)
        p = torch.cat(
            [
                *features,
                energies / 10.0,
                total / ENERGY_SCALE_GEV,
                well,
                too_far,
                torch.tanh(self.energy_minibatch(energies)),
            ],
            dim=1,
        )
        return self.real_fake(p).squeeze(1), total.squeeze(1)


def _minibatch(in_features: int) -> MinibatchDiscrimination:
    """10 kernels x 10 dimensions, initialised as Keras' ``Dense3D`` (Glorot uniform over a
    (kernels, inputs, dimensions) kernel)."""
    layer = MinibatchDiscrimination(in_features, N_MINIBATCH_KERNELS, MINIBATCH_KERNEL_DIM)
    fan_in = in_features * N_MINIBATCH_KERNELS
    fan_out = MINIBATCH_KERNEL_DIM * N_MINIBATCH_KERNELS
    glorot_uniform(layer.T, fan_in, fan_out)
    return layer


def _keras_fans(
    layer: nn.Linear | nn.Conv2d | LocallyConnected2d | ColumnStridedLocallyConnected2d,
) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computed them for this layer's kernel. A locally connected
    kernel is (positions, inputs, filters) in Keras, and its fans count every position."""
    w = layer.weight
    if isinstance(layer, LocallyConnected2d | ColumnStridedLocallyConnected2d):
        positions, filters, inputs = w.shape
        return positions * inputs, positions * filters
    if isinstance(layer, nn.Conv2d):
        receptive = w[0, 0].numel()
        return w.shape[1] * receptive, w.shape[0] * receptive
    return w.shape[1], w.shape[0]  # nn.Linear: (out, in)


FAMILY = Family(
    name="calogan",
    generator=CaloganGenerator,
    schema=SHOWER_SCHEMA,
    condition_type=ShowerCondition,
    not_generated="overflow is 0, as for the published CaloGAN",
    onnx=OnnxSignature(
        condition={
            "name": "energy",
            "dtype": "float32",
            "meaning": "incident energy",
            "units": "GeV",
        },
        output_units="GeV",
    ),
    published_config={"latent_size": LATENT_SIZE, "attention": True},
    # at the centre: Family.check refuses other incidence points (``takes_position`` is False)
    condition_tensor=lambda generator, condition, n, rng, device: condition.energies(
        n, rng, device
    ),
    to_arrays=lambda generator, output, energy, condition: shower_arrays(
        [x * CELL_UNIT_MEV for x in output], energy, condition
    ),
    example_condition=lambda generator, n: torch.linspace(1.0, 100.0, n),  # its 1-100 GeV
    output_names=layer_names,
)
"""The contract (``fastshower.models.family``)."""
