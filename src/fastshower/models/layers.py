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
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LocallyConnected2d", "MinibatchDiscrimination", "tracing"]


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
        # contiguous, then one bank per offset: reshaping the permuted view instead gave a layout
        # on which bmm rounded differently (the shipped LAGAN's samples changed in the last bit)
        weight = weight.view(ho * w, o, c, kh, kw).permute(3, 4, 0, 1, 2).contiguous()
        weight = weight.view(kh * kw, -1, o, c)
        starts = tuple(i * w + j for i in range(kh) for j in range(kw))
        if torch.is_grad_enabled() and not tracing():
            out = _ShiftedProducts.apply(rows, weight, starts, s, ho * w)
        else:
            out = _shifted_products(rows, weight, starts, s, ho * w)
        return out.view(ho, w, -1, o)[:, :wo].permute(2, 3, 0, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}"
        )


def _shifted_products(
    rows: torch.Tensor, weight: torch.Tensor, starts: tuple[int, ...], stride: int, length: int
) -> torch.Tensor:
    """(length, N, o): the sum over offsets k of rows[starts[k] + stride t] @ weight[k, t]^T."""
    span = stride * (length - 1) + 1
    out: torch.Tensor | None = None
    for k, start in enumerate(starts):
        term = torch.bmm(rows[start : start + span : stride], weight[k].transpose(1, 2))
        out = term if out is None else out + term
    if out is None:  # never: a kernel has one offset at least (checked in __init__)
        raise ValueError("a kernel of no offsets")
    return out


class _ShiftedProducts(torch.autograd.Function):
    """``_shifted_products`` with its own backward, which accumulates the input's gradient in
    one buffer. Autograd's own gives each offset's slice of the input a zero-filled copy of the
    whole input and then sums them: at LAGAN's 5 x 5 kernels, the fills and sums were a third of
    its training step on CPU."""

    @staticmethod
    def forward(
        ctx: Any,
        rows: torch.Tensor,
        weight: torch.Tensor,
        starts: tuple[int, ...],
        stride: int,
        length: int,
    ) -> torch.Tensor:
        device = rows.device.type
        if torch.is_autocast_enabled(device):  # kept as the products use them, for the backward
            dtype = torch.get_autocast_dtype(device)
            rows, weight = rows.to(dtype), weight.to(dtype)
        ctx.save_for_backward(rows, weight)
        ctx.starts, ctx.stride, ctx.length = starts, stride, length
        return _shifted_products(rows, weight, starts, stride, length)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, weight = ctx.saved_tensors
        grad = grad.to(rows.dtype).contiguous()  # a permuted view here sends bmm to a slow path
        need_rows, need_weight = ctx.needs_input_grad[:2]
        grad_rows = torch.zeros_like(rows) if need_rows else None
        span = ctx.stride * (ctx.length - 1) + 1
        weight_grads = []
        for k, start in enumerate(ctx.starts):
            window = slice(start, start + span, ctx.stride)
            if grad_rows is not None:
                grad_rows[window] += torch.bmm(grad, weight[k])
            if need_weight:
                weight_grads.append(torch.bmm(grad.transpose(1, 2), rows[window]))
        grad_weight = torch.stack(weight_grads) if need_weight else None
        return grad_rows, grad_weight, None, None, None


def tracing() -> bool:
    """Whether torch.compile or the ONNX export is tracing the model: what they trace must be
    plain tensor operations, with no data-dependent Python branches."""
    return bool(torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export())


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
        m = (x @ self.T).view(len(x), self.n_kernels, self.kernel_dim).transpose(0, 1)
        # L1 distances per kernel, (n_kernels, N, N): cdist never holds the (N, N, n_kernels,
        # kernel_dim) differences, 3x faster than broadcasting them at CaloGAN's batch of 256
        distance = torch.cdist(m, m, p=1)
        return torch.exp(-distance).sum(dim=2).T
