"""Building blocks the published generators share: locally connected 2D layers and minibatch
discrimination.

- ``LocallyConnected2d``: a convolution whose filters are *not* shared across positions (Keras'
  ``LocallyConnected2D``). LAGAN and CaloGAN rely on it because jet images and showers are not
  translation invariant: the centre of a jet image or the core of a shower is a different
  place from its edge (de Oliveira et al., arXiv:1701.05927).
- ``MinibatchDiscrimination``: lets the discriminator compare each sample with the rest of the
  batch, so a generator that collapses onto a few modes is caught (Salimans et al.,
  arXiv:1606.03498), as both papers do.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LocallyConnected2d", "MinibatchDiscrimination"]


class LocallyConnected2d(nn.Module):
    """A 2D convolution with one filter bank per output position ("valid" padding: pad the input
    yourself, as the published models do with zero padding).

    Input (N, in_channels, H, W); output (N, out_channels, H_out, W_out) with
    H_out = (H - kernel_h) // stride + 1. Weights: (H_out * W_out, out_channels,
    in_channels * kernel_h * kernel_w); one bias per output channel and position.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: tuple[int, int],
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        h, w = input_size
        if min(in_channels, out_channels, kh, kw, stride) < 1 or h < kh or w < kw:
            raise ValueError(
                f"bad LocallyConnected2d: {in_channels}->{out_channels} channels, input "
                f"{input_size}, kernel {(kh, kw)}, stride {stride}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size, self.kernel_size, self.stride = (h, w), (kh, kw), stride
        self.output_size = ((h - kh) // stride + 1, (w - kw) // stride + 1)
        positions = self.output_size[0] * self.output_size[1]
        fan_in = in_channels * kh * kw
        self.weight = nn.Parameter(torch.empty(positions, out_channels, fan_in))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.output_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each position initialised as a convolution would be (Kaiming uniform, fan-in)."""
        fan_in = self.weight.shape[-1]
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -math.sqrt(3.0) * bound, math.sqrt(3.0) * bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (self.in_channels, *self.input_size):
            raise ValueError(
                f"LocallyConnected2d expects (N, {self.in_channels}, {self.input_size[0]}, "
                f"{self.input_size[1]}) inputs, got {tuple(x.shape)}"
            )
        out = self._shifted(x)
        return out + self.bias if self.bias is not None else out

    def _shifted(self, x: torch.Tensor) -> torch.Tensor:
        """2-5x faster than im2col (``F.unfold`` and one product per position) in training and
        inference on CPU (measured: ``CHANGELOG.md``, 0.1.0): im2col writes kernel_h x kernel_w
        copies of the input in a layout that the per-position products must transpose again,
        and that, not the arithmetic, was most of CaloGAN's and LAGAN's time.

        Here the input is laid out once as rows (H * W, N, C). Output (h, w) reads input
        (s h + i, s w + j) at kernel offset (i, j), i.e. row i W + j + s (h W + w): on a
        full-width output grid (h W + w for w < W), each offset's inputs are one slice of the
        rows with step s, so each offset is one batched product with no copy. Outputs with
        w >= W_out read wrapped-around inputs; they get zero weights and are dropped (W / W_out
        more arithmetic).
        """
        kh, kw = self.kernel_size
        (h, w), (ho, wo), s = self.input_size, self.output_size, self.stride
        c, o = self.in_channels, self.out_channels
        # contiguous: a strided view here sends bmm's backward to one copy per position
        rows = x.permute(2, 3, 0, 1).contiguous().view(h * w, -1, c)
        read = (kh - 1) * w + kw + s * (ho * w - 1)  # rows the last offset's slice reaches
        rows = F.pad(rows, (0, 0, 0, 0, 0, max(0, read - h * w)))
        weight = F.pad(self.weight.view(ho, wo, -1), (0, 0, 0, w - wo))  # zero the wrapped ones
        weight = weight.view(ho * w, o, c, kh, kw).permute(3, 4, 0, 1, 2).contiguous()
        out: torch.Tensor | None = None  # (ho * w, N, o)
        for i in range(kh):
            for j in range(kw):
                start = i * w + j
                inputs = rows[start : start + s * (ho * w - 1) + 1 : s]
                term = torch.bmm(inputs, weight[i, j].transpose(1, 2))
                out = term if out is None else out + term
        if out is None:  # never: kh, kw >= 1 (checked in __init__); what out.view would raise
            raise AttributeError("a kernel of no offsets")
        return out.view(ho, w, -1, o)[:, :wo].permute(2, 3, 0, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}"
        )


class MinibatchDiscrimination(nn.Module):
    """For each sample, how close it is to every sample of the batch, through ``n_kernels``
    learned projections of ``kernel_dim`` dimensions each:
    o_b(i) = sum_j exp(-|| M_b(i) - M_b(j) ||_1) with M = x T.

    Input (N, in_features); output (N, n_kernels), to be concatenated with the features. The
    sum includes the sample itself (each term <= 1, the self term = 1), as CaloGAN's Keras code.
    """

    def __init__(self, in_features: int, n_kernels: int, kernel_dim: int) -> None:
        super().__init__()
        if min(in_features, n_kernels, kernel_dim) < 1:
            raise ValueError(
                f"bad MinibatchDiscrimination: {in_features} features, {n_kernels} kernels of "
                f"{kernel_dim} dimensions"
            )
        self.n_kernels, self.kernel_dim = n_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, n_kernels * kernel_dim) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x @ self.T).view(len(x), self.n_kernels, self.kernel_dim)
        distance = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # (N, N, n_kernels)
        return torch.exp(-distance).sum(dim=1)
