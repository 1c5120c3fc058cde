"""The shared generator blocks against what they must compute, element by element."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fastshower.models.layers import LocallyConnected2d, MinibatchDiscrimination


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_locally_connected_equals_a_convolution_per_position(stride: int) -> None:
    torch.manual_seed(0)
    layer = LocallyConnected2d(3, 4, input_size=(8, 7), kernel_size=(3, 2), stride=stride)
    x = torch.randn(2, 3, 8, 7)
    out = layer(x)
    ho, wo = (8 - 3) // stride + 1, (7 - 2) // stride + 1
    assert out.shape == (2, 4, ho, wo) and layer.output_size == (ho, wo)
    for i in range(ho):
        for j in range(wo):
            kernel = layer.weight[i * wo + j].view(4, 3, 3, 2)
            patch = x[:, :, i * stride : i * stride + 3, j * stride : j * stride + 2]
            expected = F.conv2d(patch, kernel).squeeze(-1).squeeze(-1) + layer.bias[:, i, j]
            torch.testing.assert_close(out[:, :, i, j], expected)


@pytest.mark.parametrize("stride", [1, 2])
def test_locally_connected_gradients_equal_im2col(stride: int) -> None:
    """The shifted-rows computation against the textbook one (every patch materialised by
    ``unfold``, one product per position), in every gradient: a wide kernel on a non-square
    input, where the wrapped-around outputs of the shifted rows could leak in."""
    torch.manual_seed(3)
    layer = LocallyConnected2d(3, 2, input_size=(9, 11), kernel_size=(3, 4), stride=stride)
    x = torch.randn(5, 3, 9, 11, requires_grad=True)

    def im2col(x: torch.Tensor) -> torch.Tensor:
        patches = F.unfold(x, layer.kernel_size, stride=stride)  # (N, fan_in, positions)
        out = torch.einsum("nkl,lok->nol", patches, layer.weight)
        return out.reshape(len(x), 2, *layer.output_size) + layer.bias

    results = []
    for compute in (layer, im2col):
        out = compute(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = (layer.weight.grad.clone(), layer.bias.grad.clone(), x.grad.clone())
        results.append((out.detach(), *grads))
        x.grad, layer.weight.grad, layer.bias.grad = None, None, None
    for shifted, reference in zip(*results, strict=True):
        torch.testing.assert_close(shifted, reference)


def test_locally_connected_shares_nothing_between_positions() -> None:
    """Changing the filter of one position changes that output pixel only."""
    torch.manual_seed(1)
    layer = LocallyConnected2d(1, 1, input_size=(5, 5), kernel_size=2, stride=1)
    x = torch.randn(1, 1, 5, 5)
    before = layer(x).detach()
    with torch.no_grad():
        layer.weight[5] += 1.0  # position (1, 1) of the 4 x 4 output
    changed = (layer(x).detach() != before)[0, 0]
    assert changed[1, 1] and changed.sum() == 1


def test_locally_connected_stride_and_errors() -> None:
    layer = LocallyConnected2d(2, 3, input_size=(8, 8), kernel_size=2, stride=2, bias=False)
    assert layer(torch.ones(1, 2, 8, 8)).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"expects \(N, 2, 8, 8\) inputs, got \(1, 2, 7, 8\)"):
        layer(torch.ones(1, 2, 7, 8))
    with pytest.raises(ValueError, match="bad LocallyConnected2d"):
        LocallyConnected2d(1, 1, input_size=(2, 2), kernel_size=3)


def test_minibatch_discrimination_counts_neighbours() -> None:
    torch.manual_seed(2)
    layer = MinibatchDiscrimination(in_features=6, n_kernels=5, kernel_dim=3)
    same = torch.ones(4, 6)
    torch.testing.assert_close(layer(same), torch.full((4, 5), 4.0))  # all identical: N each
    x = torch.cat([torch.zeros(3, 6), torch.full((1, 6), 1e3)])
    out = layer(x)
    torch.testing.assert_close(out[3], torch.ones(5))  # the outlier only sees itself
    torch.testing.assert_close(out[:3], torch.full((3, 5), 3.0))
    perm = torch.randperm(4)
    torch.testing.assert_close(layer(x[perm]), out[perm])  # equivariant under reordering


def test_gradients_reach_every_parameter() -> None:
    lc = LocallyConnected2d(2, 2, input_size=(4, 4), kernel_size=2)
    mb = MinibatchDiscrimination(in_features=18, n_kernels=3, kernel_dim=2)
    x = torch.randn(5, 2, 4, 4, requires_grad=True)
    mb(lc(x).flatten(1)).sum().backward()
    for p in (*lc.parameters(), *mb.parameters(), x):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_locally_connected_in_bfloat16_autocast_follows_float32() -> None:
    """Under autocast (the training loop's mixed precision) the products run in bfloat16, and
    the output and the gradients come back within bfloat16's precision of float32's, each
    gradient in its input's own type."""
    torch.manual_seed(4)
    layer = LocallyConnected2d(3, 2, input_size=(9, 11), kernel_size=(3, 4), stride=2)
    x = torch.randn(5, 3, 9, 11, requires_grad=True)
    results = []
    for mixed in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            out = layer(x)
        (out.float() * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = (layer.weight.grad.clone(), layer.bias.grad.clone(), x.grad.clone())
        assert all(g.dtype == torch.float32 for g in grads)
        results.append((out.detach().float(), *grads))
        x.grad, layer.weight.grad, layer.bias.grad = None, None, None
    assert not torch.equal(results[0][0], results[1][0])  # the products did run in bfloat16
    for mixed, full in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(mixed, full, rtol=0.05, atol=0.05 * full.abs().max().item())
