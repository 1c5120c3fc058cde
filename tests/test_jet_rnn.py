"""The jet RNN on real Pythia jets: its token lists give the pixels back, sampling and the
likelihood agree on what may come next, training raises the likelihood and it generates the
class it is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("pythia8mc", reason="needs the jets extra")

from fastshower.models.hit_lists import gru_step
from fastshower.models.jet_rnn import STOP, JetRNNGenerator
from fastshower.observables.jets import image_observables


def test_tokens_list_the_hits_hardest_first_and_give_the_pixels_back(
    pythia_jet_tensors: tuple[torch.Tensor, torch.Tensor],
) -> None:
    images, labels = pythia_jet_tensors
    space = JetRNNGenerator(width=16).space
    tokens, summary = space.encode(images, labels, torch.Generator().manual_seed(1))
    assert summary.shape == (120, 3) and torch.isfinite(summary).all()
    # unfitted, the summary is raw: the image's pT and mass (as the jet observables have them)
    # and its hit count, dequantised
    observed = image_observables(np.where(images.numpy() >= 1e-3, images.numpy(), 0.0))
    np.testing.assert_allclose(summary[:, 0].exp(), observed["pt"], rtol=1e-4)
    np.testing.assert_allclose(summary[:, 1].exp(), observed["mass"], rtol=1e-3)
    count = summary[:, 2].expm1() - (images.flatten(1) >= 1e-3).sum(1)
    assert ((count >= 0) & (count < 1)).all()
    pixel, pt_bin = tokens[..., 0], tokens[..., 1]
    kept = images.flatten(1) >= 1e-3
    assert tokens.shape[1] == int(kept.sum(1).max()) + 1
    hits = pixel != STOP
    assert (hits.sum(1) == kept.sum(1)).all()
    assert (pixel[:, -1] == STOP).all() and (hits.long().diff(dim=1) <= 0).all()  # stops stay
    assert ((pt_bin.diff(dim=1) <= 0) | ~hits[:, 1:]).all()  # hardest first
    back = torch.zeros(len(images), 626).scatter_add(
        1, pixel, torch.where(hits, space.pt_gev(pt_bin, torch.full(pt_bin.shape, 0.5)), 0.0)
    )[:, :625]
    assert (back[~kept] == 0).all() and (back[kept] > 0).all()
    # the centre of each pixel's bin: within half a bin (in log pT) of the pixel
    error = (back[kept].log() - images.flatten(1)[kept].log()).abs()
    assert float(error.max()) <= space.bin_width / 2 + 1e-5


def test_images_are_reshaped_to_the_summary_mass_and_pt(
    pythia_jet_tensors: tuple[torch.Tensor, torch.Tensor],
) -> None:
    """A generated list's mass strays from the summary it was told: the image is reshaped to
    it. Real jets told a mass 4 % off and a pT 2 % off come back with that mass and pT, on the
    same pixels, and a jet told its own mass and pT comes back as it was."""
    images, labels = pythia_jet_tensors
    space = JetRNNGenerator(width=16).space
    images = torch.where(images >= 1e-3, images, 0.0).double()
    space.double()
    _, summary = space.encode(images, labels, torch.Generator().manual_seed(1))
    flat = images.flatten(1)
    unchanged = space.match_summary(flat, summary)
    torch.testing.assert_close(unchanged, flat, rtol=1e-6, atol=1e-9)
    shift = torch.tensor([0.02, -0.04, 0.0], dtype=summary.dtype)
    for sign in (1, -1):
        told = summary + sign * shift.log1p()
        reshaped = space.match_summary(flat, told).reshape(images.shape)
        observed = image_observables(reshaped.numpy())
        assert ((reshaped > 0) == (images > 0)).all()
        np.testing.assert_allclose(observed["pt"], told[:, 0].exp(), rtol=1e-6)
        # a few jets cannot move their mass that far by moving pT between their pixels (the
        # weights stay within e^+-4): those come closer than the pT's scaling alone takes them
        before = (summary[:, 1] + told[:, 0] - summary[:, 0]).exp().numpy()
        target, after = told[:, 1].exp().numpy(), observed["mass"]
        reached = np.isclose(after, target, rtol=1e-4)
        assert reached.mean() >= 0.95
        assert (np.abs(after - target) <= np.abs(before - target) + 1e-6)[~reached].all()


def test_half_precision_jets_keep_their_pt() -> None:
    """In float16 (as ``bench`` times a GPU) a jet's squared momenta overflow: the reshaping to
    the summary runs in float32, so the shipped model's jets keep the pT they were drawn with
    (250-300 GeV in training) instead of coming back empty."""
    from fastshower.modelfile import load_model
    from fastshower.pretrained import resolve_model

    model = load_model(resolve_model("jet-rnn")).generator.half().eval()
    latent = torch.randn(32, model.latent_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = model(latent.half(), torch.tensor([0, 1] * 16))
    assert images.dtype == torch.float16 and torch.isfinite(images).all()
    pt = image_observables(images.double().numpy())["pt"]
    assert ((pt > 230) & (pt < 320)).all(), pt


def test_samples_are_what_the_likelihood_allows(
    pythia_jet_tensors: tuple[torch.Tensor, torch.Tensor],
) -> None:
    """Sampling one step at a time and the likelihood of whole lists see the same model: a
    sampled jet, listed again, has a finite likelihood, and its list is the one drawn (distinct
    pixels, pT never rising)."""
    images, labels = pythia_jet_tensors
    torch.manual_seed(0)
    model = JetRNNGenerator(width=32, layers=2, max_hits=40).eval()
    latent = torch.randn(64, model.latent_size)
    classes = torch.tensor([0, 1] * 32)
    with torch.no_grad():
        generated = model(latent, classes)
        assert generated.shape == (64, 25, 25) and (generated >= 0).all()
        encoded = model.space.encode(generated, classes, torch.Generator().manual_seed(1))
        log_p = model(encoded, classes, density=True)
        assert torch.isfinite(log_p).all()
        # the likelihood of real jets, through the same masks
        real = model.space.encode(images, labels, torch.Generator().manual_seed(1))
        assert torch.isfinite(model(real, labels, True)).all()


@pytest.mark.slow
def test_training_raises_the_likelihood_and_generates_each_class(
    train_on_pythia_jets: Any,
) -> None:
    """``fastshower train jet-rnn`` on 120 real jets, then ``generate --class``."""
    small = ["--width", "32", "--layers", "2", "--batch-size", "20", "--epochs", "6"]
    history, generate = train_on_pythia_jets("jet-rnn", [*small, "--lr", "3e-3"])
    losses = [h["loss"] for h in history]
    # nats per jet: from a uniform guess over the pixels towards the jets' structure
    assert losses[-1] < losses[0] - 20, losses
    # validated on the held-out jets' likelihood (nats per jet, as the loss), the mass beside it
    validated = [h for h in history if "score" in h]
    assert validated and all("mass_w1_w" in h and "mass_score" in h for h in validated)
    assert all(abs(h["score"] - h["loss"]) < 0.5 * h["loss"] for h in validated), validated
    for jet_class, label in (("w", 1), ("qcd", 0)):
        data = generate(jet_class)
        assert (data["signal"] == label).all() and (data["image"] >= 0).all()
        hits = (data["image"] > 0).sum((1, 2))
        assert hits.min() >= 1 and hits.max() <= 100  # at most max_hits, the default
        assert np.isfinite(data["jet_mass"]).all()


def test_row_then_column_draws_the_pixels_with_the_likelihood_s_probabilities() -> None:
    """The row-then-column choice: its probabilities over the pixels left (and stop) sum to one,
    and 400 000 draws from them fall as often as they say (chi-square), with no pixel drawn
    twice, a full row included."""
    torch.manual_seed(1)
    model = JetRNNGenerator(width=16).eval()
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    h = torch.randn(1, 16)
    hit = torch.zeros(1, STOP + 1, dtype=torch.bool)
    hit[0, torch.randperm(STOP, generator=torch.Generator().manual_seed(2))[:40]] = True
    hit[0, 50:75] = True  # the whole third row
    free = ~hit[0]
    with torch.no_grad():
        candidates = torch.arange(STOP + 1)
        nll = model._pixel_nll(
            h.expand(STOP + 1, 16)[:, None], hit.expand(STOP + 1, -1)[:, None], candidates[:, None]
        )[:, 0]
        probability = torch.where(free, (-nll).exp(), 0.0).double()
        assert probability.sum().item() == pytest.approx(1.0, abs=1e-5)
        n = 400_000
        row_hits = hit[:, :STOP].reshape(1, 25, 25).sum(-1).expand(n, -1)
        u = torch.rand(n)
        drawn = model._draw_pixel(h.expand(n, 16), hit.expand(n, -1).clone(), row_hits, u)
    assert not hit[0, drawn].any()
    counts = torch.bincount(drawn, minlength=STOP + 1).double()[free]
    expected = n * probability[free]
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = int(free.sum()) - 1
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, (chi2, dof)


def test_coarse_then_fine_draws_the_pt_bins_with_the_likelihood_s_probabilities() -> None:
    """The coarse-then-fine pT choice below a ceiling inside a coarse bin: its probabilities
    over the bins up to the ceiling sum to one, and draws fall as often as they say."""
    torch.manual_seed(3)
    model = JetRNNGenerator(width=16).eval()
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    bins, ceiling = model.space.pt_bins, 150  # inside the tenth coarse bin of 16
    h, pixel = torch.randn(1, 16), torch.tensor([312])
    with torch.no_grad():
        candidates = torch.arange(bins)
        nll = model._pt_nll(
            h.expand(bins, 16)[:, None],
            pixel.expand(bins)[:, None],
            torch.full((bins, 1), ceiling),
            candidates[:, None],
        )[:, 0]
        allowed = candidates <= ceiling
        probability = torch.where(allowed, (-nll).exp(), 0.0).double()
        assert probability.sum().item() == pytest.approx(1.0, abs=1e-5)
        n = 400_000
        drawn = model._draw_pt(
            h.expand(n, 16), pixel.expand(n), torch.full((n,), ceiling), torch.rand(n)
        )
    assert drawn.max() <= ceiling
    counts = torch.bincount(drawn, minlength=bins).double()[allowed]
    expected = n * probability[allowed]
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = int(allowed.sum()) - 1
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, (chi2, dof)


def test_one_hit_at_a_time_is_the_pass_over_whole_lists() -> None:
    """Sampling steps the GRU one hit at a time (``torch.gru_cell``, layer by layer); training
    runs ``nn.GRU`` over whole lists. Both are the same function."""
    torch.manual_seed(0)
    model = JetRNNGenerator(width=32, layers=2).eval()
    x = torch.randn(5, 7, 32)
    with torch.no_grad():
        state, steps = None, []
        for t in range(7):
            out, state = gru_step(model.recurrent, x[:, t], state)
            steps.append(out)
        torch.testing.assert_close(
            torch.stack(steps, 1), model.recurrent(x)[0], rtol=1e-5, atol=1e-5
        )
