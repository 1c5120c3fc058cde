"""What a sample is worth in Geant4 events, on real Geant4 positrons."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.evaluate.amplification import amplification
from fastshower.observables.calo import shower_observables

pytestmark = pytest.mark.geant4


def test_a_second_geant4_sample_is_worth_its_size_and_a_distorted_one_little(
    positrons: tuple[dict, dict],
) -> None:
    reference, other = (shower_observables(p) for p in positrons)
    key = "fraction_layer_0"
    same = amplification(key, reference[key], other[key], n_bins=10, seed=1)
    assert same.equivalent_events is None or same.equivalent_events > 100  # 300 events
    distorted = amplification(key, reference[key], 1.3 * other[key], n_bins=10, seed=1)
    assert distorted.equivalent_events is not None and distorted.equivalent_events < 30
    # the law the worth rests on: subsamples of n events err by c (1/n + 1/m)
    sizes = np.asarray(same.sizes)
    law = same.slope * (1 / sizes + same.floor / same.slope)
    np.testing.assert_allclose(same.errors, law, rtol=0.35)
    # weights that keep only half of the sample: it errs more
    half = np.r_[np.ones(150), np.zeros(150)]
    weighted = amplification(key, reference[key], other[key], weights=half, n_bins=10, seed=1)
    assert weighted.candidate_error > same.candidate_error


def test_amplification_refuses_too_few_reference_events() -> None:
    with pytest.raises(ValueError, match="needs at least 40 reference events"):
        amplification("x", np.arange(30.0), np.arange(30.0), n_bins=10)
