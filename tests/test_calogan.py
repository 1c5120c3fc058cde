"""CaloGAN's networks: the detector's shapes, sparse non-negative cells, energy conditioning, the
in-painting attention (closed at first), the discriminator's inputs and gradients."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fastshower.detector import CALORIMETER
from fastshower.models.calogan import (
    CLOSED_GATE_BIAS,
    LATENT_SIZE,
    CaloganDiscriminator,
    CaloganGenerator,
    ColumnStridedLocallyConnected2d,
    resize_cells,
)

SHAPES = CALORIMETER.layer_shapes


def test_generator_shapes_sparsity_and_energy_conditioning() -> None:
    torch.manual_seed(0)
    generator = CaloganGenerator().eval()
    z = torch.randn(4, LATENT_SIZE)
    low = generator(z, torch.full((4,), 10.0))
    high = generator(z, torch.full((4, 1), 90.0))  # (N,) and (N, 1) energies both accepted
    assert [tuple(x.shape) for x in low] == [(4, *shape) for shape in SHAPES]
    for a, b in zip(low, high, strict=True):
        assert (a >= 0).all() and (b >= 0).all()
        assert (a == 0).any() and (a > 0).any()  # the final ReLU leaves empty cells
        assert not torch.allclose(a, b)  # same latent, other energy: another shower


def test_resize_cells_carries_layer_0_to_1_and_1_to_2() -> None:
    x = torch.randn(2, 1, *SHAPES[0])
    to_1 = resize_cells(x, SHAPES[1])
    assert to_1.shape == (2, 1, *SHAPES[1])
    rows, cols = SHAPES[1][0] // SHAPES[0][0], SHAPES[0][1] // SHAPES[1][1]  # 4, 8
    i, j = 5, 7
    assert torch.allclose(to_1[:, 0, i, j], x[:, 0, i // rows, j * cols : (j + 1) * cols].mean(1))
    to_2 = resize_cells(to_1, SHAPES[2])
    assert torch.allclose(to_2, (to_1[..., 0::2] + to_1[..., 1::2]) / 2)
    with pytest.raises(ValueError, match="integer ratio"):
        resize_cells(x, (5, 12))


def test_attention_starts_closed_and_can_open() -> None:
    torch.manual_seed(1)
    generator = CaloganGenerator().eval()
    z, energy = torch.randn(4, LATENT_SIZE), torch.rand(4) * 99 + 1
    with torch.no_grad():
        h = z * energy[:, None] / 100
        own = [stream(h) for stream in generator.streams]
        layers = generator(z, energy)
        carried = resize_cells(own[0], SHAPES[1])
        attention = generator.attention[0]
        weights = attention.weights(own[1], carried)
        assert weights.shape == (4, 2, *SHAPES[1])
        assert torch.allclose(weights.sum(1), torch.ones(()))
        # the carried-over channel's softmax weight is ~ exp(-10) everywhere at initialisation
        closed = torch.sigmoid(torch.tensor(CLOSED_GATE_BIAS))
        assert weights[:, 1].max() < 1e-3
        assert torch.allclose(weights[:, 1].mean(), closed, rtol=0.1)
        assert torch.allclose(layers[1], F.relu(own[1]).squeeze(1), atol=1e-3 * own[1].abs().max())
        # the same gate, opened by its bias, hands layer 1 over to layer 0's carried image
        attention.gate.bias[1].fill_(-CLOSED_GATE_BIAS)
        opened = attention(own[1], carried)
        assert torch.allclose(opened, carried, atol=1e-3 * carried.abs().max())


def test_column_strided_locally_connected_is_keras_stride_1_2() -> None:
    """With one shared filter bank it is a convolution with stride (1, 2)."""
    torch.manual_seed(2)
    c, o, kh, kw, size = 3, 4, 3, 2, (5, 11)
    layer = ColumnStridedLocallyConnected2d(c, o, size, (kh, kw))
    conv_weight, conv_bias = torch.randn(o, c, kh, kw), torch.randn(o)
    with torch.no_grad():  # the inner layer reads inputs ordered (channel, column, row)
        layer.weight.copy_(conv_weight.permute(0, 1, 3, 2).reshape(o, -1).expand_as(layer.weight))
        layer.bias.copy_(conv_bias[:, None, None].expand_as(layer.bias))
    x = torch.randn(2, c, *size)
    expected = F.conv2d(x, conv_weight, conv_bias, stride=(1, 2))
    assert layer.output_size == expected.shape[2:] == (3, 5)
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_discriminator_outputs_and_gradients_reach_every_parameter() -> None:
    torch.manual_seed(3)
    generator, discriminator = CaloganGenerator(), CaloganDiscriminator()
    energy = torch.rand(4) * 99 + 1
    layers = generator(torch.randn(4, LATENT_SIZE), energy)
    real_fake, total = discriminator(layers, energy)
    assert real_fake.shape == total.shape == (4,)
    # the "energy regression" output is the shower's total energy (GeV), as in the Keras model
    assert torch.allclose(total, sum(x.sum(dim=(1, 2)) for x in layers))
    (real_fake.mean() + 0.05 * (total - energy).abs().mean()).backward()
    for module in (generator, discriminator):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_discriminator_sees_energy_conservation() -> None:
    """The same showers score differently when the requested energy is far from their total."""
    torch.manual_seed(4)
    discriminator = CaloganDiscriminator().eval()
    layers = tuple(torch.rand(3, *shape) * (torch.rand(3, *shape) > 0.7) for shape in SHAPES)
    _, total = discriminator(layers, torch.zeros(3))
    matched = discriminator(layers, total)[0]
    far = discriminator(layers, total + 20.0)[0]
    assert not torch.allclose(matched, far)


def test_minibatch_features_see_the_batch() -> None:
    """A shower scores differently among copies of itself than among other showers."""
    torch.manual_seed(5)
    discriminator = CaloganDiscriminator().eval()
    layers = tuple(torch.rand(6, *shape) * (torch.rand(6, *shape) > 0.5) for shape in SHAPES)
    energy = torch.full((6,), 50.0)
    alone = discriminator(layers, energy)[0]
    copies = discriminator(tuple(x[:1].expand_as(x) for x in layers), energy)[0]
    assert not torch.isclose(alone[0], copies[0])
