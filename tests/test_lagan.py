"""LAGAN's networks: the published shapes, sparsity by construction, class conditioning."""

from __future__ import annotations

import torch

from fastshower.models.lagan import LATENT_SIZE, LaganDiscriminator, LaganGenerator


def test_generator_makes_non_negative_images_that_depend_on_the_class() -> None:
    torch.manual_seed(0)
    generator = LaganGenerator().eval()
    z = torch.randn(16, LATENT_SIZE)
    w, qcd = generator(z, torch.ones(16)), generator(z, torch.zeros(16))
    assert w.shape == (16, 25, 25) and (w >= 0).all() and (qcd >= 0).all()
    assert (w == 0).any()  # the final ReLU leaves empty pixels, as in real jet images
    assert not torch.allclose(w, qcd)  # the class embedding conditions the image


def test_discriminator_heads_and_gradients() -> None:
    torch.manual_seed(1)
    generator, discriminator = LaganGenerator(), LaganDiscriminator()
    images = generator(torch.randn(8, LATENT_SIZE), torch.randint(0, 2, (8,)))
    real_fake, label = discriminator(images)
    assert real_fake.shape == label.shape == (8,)
    (real_fake.mean() + label.mean()).backward()
    for module in (generator, discriminator):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_minibatch_features_see_the_batch() -> None:
    """The same image scores differently in a batch of copies than among different images."""
    torch.manual_seed(2)
    discriminator = LaganDiscriminator().eval()
    images = torch.rand(6, 25, 25)
    alone = discriminator(images)[0]
    copies = discriminator(images[:1].expand(6, 25, 25))[0]
    assert not torch.isclose(alone[0], copies[0])
