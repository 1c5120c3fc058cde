"""Shower-shape observables against showers whose answers are known by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fastshower.detector import CALORIMETER
from fastshower.observables.calo import (
    OBSERVABLES,
    centroids,
    check_showers,
    depth_width,
    e_ratios,
    energy_fractions,
    isolated_hit_shares,
    layer_energies,
    max_cell_energies,
    shower_depth,
    shower_observables,
    sparsities,
    total_energy,
    widths,
)

LAYERS = CALORIMETER.layers
N_LAYERS = len(LAYERS)


def empty(n: int = 1, dtype: type = np.float64) -> dict[str, np.ndarray]:
    """``n`` showers with no energy in any cell, incident energy 10 GeV."""
    showers = {layer.key: np.zeros((n, *layer.shape), dtype=dtype) for layer in LAYERS}
    showers["energy"] = np.full((n, 1), 10.0, dtype=dtype)
    return showers


def corner_cells() -> list[tuple[int, int, int]]:
    """(layer, ix, iy): the first, last and one inner cell of every layer."""
    cells = []
    for i, layer in enumerate(LAYERS):
        n_x, n_y = layer.shape
        cells += [(i, 0, 0), (i, n_x - 1, n_y - 1), (i, n_x // 2, n_y // 3)]
    return cells


@pytest.mark.parametrize(("layer", "ix", "iy"), corner_cells())
def test_single_hit_cell(layer: int, ix: int, iy: int) -> None:
    showers = empty()
    showers[LAYERS[layer].key][0, ix, iy] = 42.0
    obs = shower_observables(showers)
    spec = LAYERS[layer]
    key = spec.key
    for other in LAYERS:
        hit = other.index == spec.index
        assert obs[f"energy_{other.key}"][0] == (42.0 if hit else 0.0)
        assert obs[f"fraction_{other.key}"][0] == (1.0 if hit else 0.0)
        assert obs[f"e_ratio_{other.key}"][0] == (1.0 if hit else 0.0)
        assert obs[f"sparsity_{other.key}"][0] == pytest.approx(1 / other.n_cells if hit else 0.0)
        assert obs[f"isolated_{other.key}"][0] == (1.0 if hit else 0.0)
        assert obs[f"max_cell_{other.key}"][0] == (42.0 if hit else 0.0)
        assert obs[f"width_x_{other.key}"][0] == pytest.approx(0.0, abs=1e-9)
        assert obs[f"width_y_{other.key}"][0] == pytest.approx(0.0, abs=1e-9)
    assert obs[f"centroid_x_{key}"][0] == pytest.approx(spec.x_centres_mm[ix])
    assert obs[f"centroid_y_{key}"][0] == pytest.approx(spec.y_centres_mm[iy])
    assert obs["depth"][0] == pytest.approx(spec.index)
    assert obs["depth_width"][0] == pytest.approx(0.0, abs=1e-12)
    assert obs["total_energy"][0] == 42.0
    assert obs["incident_energy"][0] == 10.0


def test_centroid_is_the_cell_centre_in_mm() -> None:
    # layer 1 is 12 x 12 cells of 40 mm over [-240, 240] mm: cell (0, 11) is centred at
    # (-220, +220) mm.
    showers = empty()
    showers["layer_1"][0, 0, 11] = 5.0
    assert centroids(showers, "x")[0, 1] == pytest.approx(-220.0)
    assert centroids(showers, "y")[0, 1] == pytest.approx(220.0)


def test_two_equal_cells_have_half_their_distance_as_width() -> None:
    showers = empty()
    showers["layer_1"][0, 2, 5] = 7.0
    showers["layer_1"][0, 7, 5] = 7.0
    showers["layer_0"][0, 1, 10] = 3.0
    showers["layer_0"][0, 1, 40] = 3.0
    x1, y0 = LAYERS[1].x_centres_mm, LAYERS[0].y_centres_mm
    wx, wy = widths(showers, "x")[0], widths(showers, "y")[0]
    assert wx[1] == pytest.approx(abs(x1[7] - x1[2]) / 2) == pytest.approx(100.0)
    assert wy[1] == pytest.approx(0.0, abs=1e-9)
    assert wy[0] == pytest.approx(abs(y0[40] - y0[10]) / 2) == pytest.approx(75.0)
    assert wx[0] == pytest.approx(0.0, abs=1e-9)
    assert centroids(showers, "x")[0, 1] == pytest.approx((x1[2] + x1[7]) / 2)
    assert centroids(showers, "y")[0, 0] == pytest.approx((y0[10] + y0[40]) / 2)
    np.testing.assert_array_equal(e_ratios(showers)[0], [0.0, 0.0, 0.0])  # equal hottest cells


def test_two_unequal_cells() -> None:
    showers = empty()
    showers["layer_2"][0, 3, 1] = 30.0
    showers["layer_2"][0, 9, 1] = 10.0
    x = LAYERS[2].x_centres_mm
    assert e_ratios(showers)[0, 2] == pytest.approx((30 - 10) / (30 + 10))
    # weights 3/4 and 1/4 at distance d: mean = x3 + d/4, std = d * sqrt(3/4 * 1/4)
    d = x[9] - x[3]
    assert centroids(showers, "x")[0, 2] == pytest.approx(x[3] + d / 4)
    assert widths(showers, "x")[0, 2] == pytest.approx(d * np.sqrt(3) / 4)
    assert max_cell_energies(showers)[0, 2] == 30.0
    assert sparsities(showers)[0, 2] == pytest.approx(2 / LAYERS[2].n_cells)


def test_e_ratio_uses_the_two_hottest_cells_only() -> None:
    showers = empty()
    showers["layer_1"][0, :, :] = 1.0
    showers["layer_1"][0, 4, 4] = 9.0
    showers["layer_1"][0, 5, 5] = 3.0
    assert e_ratios(showers)[0, 1] == pytest.approx((9 - 3) / (9 + 3))
    assert sparsities(showers)[0, 1] == 1.0


def test_isolated_hits_have_no_hit_among_eight_neighbours_edges_included() -> None:
    showers = empty()
    layer_1 = showers["layer_1"][0]
    layer_1[0:2, 0:2] = 1.0  # a 2x2 block in the corner: none isolated
    layer_1[5, 5] = 1.0  # touches (6, 6) diagonally: neither isolated
    layer_1[6, 6] = 1.0
    layer_1[11, 0] = 1.0  # alone in the opposite corner
    layer_1[3, 9] = 1.0  # two cells apart from (5, 9): both isolated
    layer_1[5, 9] = 1.0
    assert isolated_hit_shares(showers)[0, 1] == pytest.approx(3 / 9)
    showers["layer_1"][0, 4, 9] = 1.0  # now (3, 9), (4, 9), (5, 9) are one cluster
    np.testing.assert_allclose(isolated_hit_shares(showers)[0], [0.0, 1 / 10, 0.0])


def test_depth_width_for_energy_split_between_layers_0_and_2() -> None:
    showers = empty()
    showers["layer_0"][0, 1, 50] = 20.0
    showers["layer_2"][0, 6, 3] = 20.0
    assert shower_depth(showers)[0] == pytest.approx(1.0)
    assert depth_width(showers)[0] == pytest.approx(1.0)
    np.testing.assert_allclose(energy_fractions(showers)[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(layer_energies(showers)[0], [20.0, 0.0, 20.0])
    assert total_energy(showers)[0] == 40.0


def test_empty_layer_gives_zeros_not_nan() -> None:
    showers = empty()
    showers["layer_1"][0, 3, 8] = 12.0
    obs = shower_observables(showers)
    for key in ("layer_0", "layer_2"):
        for name in (
            "centroid_x",
            "centroid_y",
            "width_x",
            "width_y",
            "e_ratio",
            "sparsity",
            "isolated",
        ):
            assert obs[f"{name}_{key}"][0] == 0.0
    assert all(np.isfinite(v).all() for v in obs.values())


def test_empty_shower_gives_zeros_not_nan() -> None:
    obs = shower_observables(empty(2))
    assert all(np.isfinite(v).all() for v in obs.values())
    assert all(np.all(v == 0.0) for name, v in obs.items() if name != "incident_energy")
    np.testing.assert_array_equal(obs["incident_energy"], [10.0, 10.0])


def test_moments_match_a_direct_per_event_computation() -> None:
    rng = np.random.default_rng(7)
    showers = empty(6)
    for layer in LAYERS:
        cells = rng.exponential(5.0, size=(6, *layer.shape))
        showers[layer.key] = np.where(rng.random(cells.shape) < 0.3, cells, 0.0)
    obs = shower_observables(showers)
    for i, layer in enumerate(LAYERS):
        x, y = CALORIMETER.cell_centres_mm(i)
        for event in range(6):
            w = showers[layer.key][event]
            for name, coord in (("x", x), ("y", y)):
                mean = np.average(coord, weights=w)
                std = np.sqrt(np.average((coord - mean) ** 2, weights=w))
                assert obs[f"centroid_{name}_{layer.key}"][event] == pytest.approx(mean)
                assert obs[f"width_{name}_{layer.key}"][event] == pytest.approx(std)
            top = np.sort(w.ravel())[::-1]
            expected = (top[0] - top[1]) / (top[0] + top[1])
            assert obs[f"e_ratio_{layer.key}"][event] == pytest.approx(expected)
            assert obs[f"sparsity_{layer.key}"][event] == pytest.approx(np.mean(w > 0))
            hits = np.argwhere(w > 0)
            alone = [all(max(abs(a - b)) > 1 for b in hits if (a != b).any()) for a in hits]
            assert obs[f"isolated_{layer.key}"][event] == pytest.approx(np.mean(alone))
    energies = np.stack([showers[layer.key].sum(axis=(1, 2)) for layer in LAYERS], axis=1)
    index = np.arange(N_LAYERS)
    depth = (energies * index).sum(1) / energies.sum(1)
    np.testing.assert_allclose(obs["depth"], depth)
    spread = np.sqrt((energies * (index - depth[:, None]) ** 2).sum(1) / energies.sum(1))
    np.testing.assert_allclose(obs["depth_width"], spread)


def test_functions_agree_with_the_table_and_accept_float32() -> None:
    rng = np.random.default_rng(3)
    showers = empty(4, dtype=np.float32)
    for layer in LAYERS:
        showers[layer.key][...] = rng.exponential(1.0, (4, *layer.shape)).astype(np.float32)
    obs = shower_observables(showers)
    columns = {
        "energy": layer_energies(showers),
        "fraction": energy_fractions(showers),
        "centroid_x": centroids(showers, "x"),
        "width_y": widths(showers, "y"),
        "e_ratio": e_ratios(showers),
        "sparsity": sparsities(showers),
        "isolated": isolated_hit_shares(showers),
        "max_cell": max_cell_energies(showers),
    }
    for name, values in columns.items():
        assert values.shape == (4, N_LAYERS) and values.dtype == np.float64
        for i, layer in enumerate(LAYERS):
            np.testing.assert_array_equal(obs[f"{name}_{layer.key}"], values[:, i])
    np.testing.assert_array_equal(obs["total_energy"], total_energy(showers))


def test_name_and_unit_table_covers_every_observable() -> None:
    obs = shower_observables(empty(3))
    assert list(obs) == list(OBSERVABLES)
    for name, values in obs.items():
        assert values.shape == (3,), name
        info = OBSERVABLES[name]
        assert info.label
        assert info.unit in {"", "MeV", "GeV", "mm", "layer"}
    for layer in LAYERS:
        assert (
            OBSERVABLES[f"width_y_{layer.key}"].axis_label == f"y width in layer {layer.index} [mm]"
        )
    assert OBSERVABLES["fraction_layer_1"].axis_label == "energy fraction of layer 1"
    assert {"depth", "depth_width", "total_energy", "incident_energy"} <= set(OBSERVABLES)
    assert len(OBSERVABLES) == 10 * N_LAYERS + 6


def test_no_showers_give_empty_arrays() -> None:
    obs = shower_observables(empty(0))
    assert all(v.shape == (0,) for v in obs.values())


def test_missing_layer_is_refused() -> None:
    showers = empty(2)
    del showers["layer_1"]
    with pytest.raises(ValueError, match="'layer_1'"):
        shower_observables(showers)


def test_missing_incident_energy_is_refused_only_where_needed() -> None:
    showers = empty(2)
    del showers["energy"]
    assert layer_energies(showers).shape == (2, N_LAYERS)
    with pytest.raises(ValueError, match="'energy'"):
        shower_observables(showers)


@pytest.mark.parametrize(
    ("key", "shape", "expected"),
    [
        ("layer_0", (4, 96, 3), "(4, 3, 96)"),
        ("layer_1", (4, 12, 13), "(4, 12, 12)"),
        ("layer_2", (3, 12, 6), "(4, 12, 6)"),
        ("layer_2", (4, 72), "(4, 12, 6)"),
        ("energy", (4,), "(4, 1)"),
    ],
)
def test_wrong_shape_is_refused_with_key_found_and_expected(
    key: str, shape: tuple[int, ...], expected: str
) -> None:
    showers = empty(4)
    showers[key] = np.zeros(shape)
    message = f"showers['{key}'] has shape {shape}, expected {expected}"
    with pytest.raises(ValueError, match=re.escape(message)):
        shower_observables(showers)


def test_scalar_first_layer_is_refused() -> None:
    showers = empty(2)
    showers["layer_0"] = np.float64(1.0)
    with pytest.raises(ValueError, match=r"'layer_0'.*shape \(\), expected \(N, 3, 96\)"):
        check_showers(showers)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("key", ["layer_0", "layer_2", "energy"])
def test_non_finite_values_are_refused(bad: float, key: str) -> None:
    showers = empty(3)
    showers[key].flat[5 if key != "energy" else 1] = bad
    with pytest.raises(ValueError, match=f"'{key}'.*NaN or infinite"):
        shower_observables(showers)


def test_negative_cells_are_refused() -> None:
    showers = empty(2)
    showers["layer_1"][1, 0, 0] = -1e-3
    with pytest.raises(ValueError, match=r"'layer_1'.*negative"):
        total_energy(showers)


def test_unknown_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        centroids(empty(), "z")  # type: ignore[arg-type]
