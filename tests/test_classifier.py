"""The classifier test: its pieces on known cases, then on real Geant4 showers."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.evaluate.classifier import (
    MIN_EVENTS,
    ClassifierConfig,
    classifier_test,
    high_level_features,
    image_features,
    judge,
    learning_curve,
    shower_features,
)
from fastshower.observables.calo import SPECTRUM_EDGES_LOG10_MEV

N_SHOWERS = 300
FAST = ClassifierConfig(
    hidden=(128, 128), epochs=25, patience=25, batch_size=100, learning_rate=1e-3, seed=1
)


pytestmark = pytest.mark.geant4


@pytest.fixture(scope="module")
def two_samples(positrons: tuple[dict, dict]) -> tuple[dict, dict]:
    """Two independent Geant4 samples: 2 GeV positrons, seeds 1 and 2."""
    return positrons


def test_features_layout(two_samples: tuple[dict, dict]) -> None:
    a, _ = two_samples
    plain, normalized = shower_features(a), shower_features(a, normalized=True)
    assert plain.shape == normalized.shape == (N_SHOWERS, 504 + 1 + 3 + 2)
    shares = normalized[:, :288].sum(axis=1)  # layer 0's cells as shares of its energy
    np.testing.assert_allclose(shares[shares > 0], 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"layer_1 has shape \(300, 12, 13\)"):
        shower_features({**a, "layer_1": np.zeros((N_SHOWERS, 12, 13))})
    with pytest.raises(ValueError, match="non-finite"):
        shower_features({**a, "energy": np.full((N_SHOWERS, 1), np.nan)})
    assert image_features(np.zeros((3, 25, 25))).shape == (3, 625)
    n_spectra = 3 * (len(SPECTRUM_EDGES_LOG10_MEV) - 1)
    high = high_level_features(a)
    assert high.dtype == np.float32 and high.shape[0] == N_SHOWERS
    # the spectra count every cell of at least 1 keV once
    hits = sum((a[k] >= 1e-3).sum(axis=(1, 2)) for k in ("layer_0", "layer_1", "layer_2"))
    np.testing.assert_array_equal(high[:, -n_spectra:].sum(axis=1), hits)


def test_independent_geant4_samples_are_indistinguishable(two_samples: tuple[dict, dict]) -> None:
    """300 + 300 showers leave 120 in the test split: the AUC's statistical error is about 0.05,
    so two samples of the same physics must land within 0.5 +- 0.15 (3 sigma)."""
    a, b = two_samples
    result = classifier_test(shower_features(a), shower_features(b), FAST)
    assert result.n_test == 120 and 0.04 < result.auc_uncertainty < 0.06
    assert result.method == "network" and result.n_per_class == N_SHOWERS
    assert abs(result.auc - 0.5) < 0.15, result.summary()
    assert result.jsd < 0.1
    again = classifier_test(shower_features(a), shower_features(b), FAST)
    assert again.auc == result.auc  # seeded


def test_scaled_layer_is_caught(two_samples: tuple[dict, dict]) -> None:
    """Layer 1's cells scaled by 1.5. (At 2 GeV layer 1's energy fluctuates by 22% from shower
    to shower, so a 1.1 scale is half a standard deviation: no classifier can separate it well
    from 300 showers; benchmarks/classifier_speed.py measures it on the 10k reference set.)"""
    a, b = two_samples
    assert 0.15 < b["layer_1"].sum(axis=(1, 2)).std() / b["layer_1"].sum(axis=(1, 2)).mean() < 0.3
    scaled = {**b, "layer_1": b["layer_1"] * 1.5}
    result = judge(shower_features(a), shower_features(scaled), FAST)
    assert result.verdict.auc > 0.75, result.summary()


def test_ten_percent_scale_is_caught_by_the_high_level_variant(
    two_samples: tuple[dict, dict],
) -> None:
    """Layer 1 scaled by 1.1: the cells' network cannot see it on 300 showers
    (above), the shower-shape observables can: the total energy in the cells is fixed to about
    1% by the incident energy (absorber deposits are read out), and the scale moves it by 7%."""
    a, b = two_samples
    scaled = {**b, "layer_1": b["layer_1"] * 1.1}
    result = classifier_test(high_level_features(a), high_level_features(scaled), FAST)
    assert result.auc > 0.9, result.summary()
    same = classifier_test(high_level_features(a), high_level_features(b), FAST)
    assert abs(same.auc - 0.5) < 0.15, same.summary()


def test_moved_shower_core_is_caught_by_the_normalized_variant(
    two_samples: tuple[dict, dict],
) -> None:
    """The normalized variant sees shapes: layer 1's cells moved by one cell (40 mm) along x,
    layer energies untouched."""
    a, b = two_samples
    moved = {**b, "layer_1": np.roll(b["layer_1"], 1, axis=1)}
    result = judge(
        shower_features(a, normalized=True), shower_features(moved, normalized=True), FAST
    )
    assert result.verdict.auc > 0.9, result.summary()


def test_too_few_or_mismatched_events_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_EVENTS} events per sample"):
        classifier_test(np.zeros((50, 3)), np.zeros((500, 3)))
    with pytest.raises(ValueError, match="same d"):
        classifier_test(np.zeros((200, 3)), np.zeros((200, 4)))


def test_judge_runs_both_classifiers_on_the_same_events(two_samples: tuple[dict, dict]) -> None:
    """Layer 1 scaled by 1.1 on 300 showers: the boosted trees, on the
    shower observables and cell spectra, see it; the verdict is the classifier that separates
    the validation split better, so the judge is never weaker than the trees by more than the
    statistical error."""
    a, b = two_samples
    scaled = {**b, "layer_1": b["layer_1"] * 1.1}
    result = judge(high_level_features(a), high_level_features(scaled), FAST)
    assert result.trees is not None and result.trees.n_test == result.network.n_test == 120
    assert result.trees.auc > 0.9, result.summary()
    assert result.verdict.auc >= result.trees.auc - result.trees.auc_uncertainty
    assert result.verdict.validation_auc == max(
        result.network.validation_auc, result.trees.validation_auc
    )
    same = judge(high_level_features(a), high_level_features(b), FAST)
    assert abs(same.verdict.auc - 0.5) < 0.15, same.summary()


def test_learning_curve_ends_on_every_event(two_samples: tuple[dict, dict]) -> None:
    """Two independent Geant4 samples: 0.5 within three errors at every N of the curve."""
    a, b = two_samples
    curve = learning_curve(high_level_features(a), high_level_features(b), FAST, (100, 200))
    assert [p.n_per_class for p in curve] == [100, 200, N_SHOWERS]
    for point in curve:
        verdict = point.verdict
        assert abs(verdict.auc - 0.5) < 3 * verdict.auc_uncertainty + 0.02, point.summary()
    assert curve[0].network.n_test == 40
