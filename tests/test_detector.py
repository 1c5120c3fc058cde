"""The CaloGAN calorimeter as data: slabs, read-out layers and cells (no Geant4 needed)."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.detector import CALORIMETER

SLABS = CALORIMETER.slabs
LEAD = CALORIMETER.absorber.name
ARGON = CALORIMETER.gap.name


def test_slabs_fill_the_depth_without_gaps_or_overlaps() -> None:
    z_min = np.array([s[1] for s in SLABS])
    z_max = np.array([s[2] for s in SLABS])
    assert z_min[0] == pytest.approx(-240.0) and z_max[-1] == pytest.approx(240.0)
    assert np.all(z_max > z_min)
    np.testing.assert_allclose(z_min[1:], z_max[:-1], rtol=0, atol=1e-9)  # contiguous
    assert (z_max - z_min).sum() == pytest.approx(CALORIMETER.depth_mm) == 480.0


def test_eighty_layers_of_2mm_lead_and_4mm_argon() -> None:
    thickness = {LEAD: 0.0, ARGON: 0.0}
    for material, z0, z1, _layer in SLABS:
        thickness[material] += z1 - z0
    assert thickness[LEAD] == pytest.approx(160.0)  # 80 x 2 mm
    assert thickness[ARGON] == pytest.approx(320.0)  # 80 x 4 mm
    # absorber first, then strictly alternating (the split argon gap counts once)
    merged = [SLABS[0][0]]
    for material, *_ in SLABS[1:]:
        if material != merged[-1]:
            merged.append(material)
    assert merged == [LEAD, ARGON] * 80
    assert CALORIMETER.sampling_thickness_mm == 6.0 and CALORIMETER.z_front_mm == -240.0


def test_only_the_argon_gap_at_z_197_is_split() -> None:
    # -150 mm is a lead/argon interface (-240 + 15 x 6); 197 mm lies inside the gap 194-198 mm.
    assert len(SLABS) == 2 * 80 + 1
    split = [s for s in SLABS if s[1] >= 194.0 - 1e-9 and s[2] <= 198.0 + 1e-9]
    assert [(m, pytest.approx(a), pytest.approx(b), layer) for m, a, b, layer in split] == [
        (ARGON, 194.0, 197.0, 1),
        (ARGON, 197.0, 198.0, 2),
    ]
    assert any(s[2] == pytest.approx(-150.0) and s[0] == ARGON for s in SLABS)
    assert any(s[1] == pytest.approx(-150.0) and s[0] == LEAD for s in SLABS)


def test_each_slab_belongs_to_the_layer_it_lies_in() -> None:
    layers = [s[3] for s in SLABS]
    assert layers == sorted(layers) and set(layers) == {0, 1, 2}
    for i, spec in enumerate(CALORIMETER.layers):
        mine = [s for s in SLABS if s[3] == i]
        assert mine[0][1] == pytest.approx(spec.z_min_mm)
        assert mine[-1][2] == pytest.approx(spec.z_max_mm)
        assert sum(b - a for _m, a, b, _l in mine) == pytest.approx(spec.z_max_mm - spec.z_min_mm)
    depths = [layer.z_max_mm - layer.z_min_mm for layer in CALORIMETER.layers]
    assert depths == [90.0, 347.0, 43.0]


@pytest.mark.parametrize(
    ("z", "layer"),
    [
        (-240.0, 0),
        (-150.000001, 0),
        (-150.0, 1),  # a point on a boundary belongs to the deeper layer
        (0.0, 1),
        (196.999999, 1),
        (197.0, 2),
        (240.0, 2),
    ],
)
def test_layer_of_z(z: float, layer: int) -> None:
    assert CALORIMETER.layer_of_z(z) == layer
    assert isinstance(CALORIMETER.layer_of_z(z), int)


def test_layer_shapes_and_cell_sizes() -> None:
    assert CALORIMETER.layer_shapes == ((3, 96), (12, 12), (12, 6))
    assert [layer.n_cells for layer in CALORIMETER.layers] == [288, 144, 72]
    assert CALORIMETER.n_cells == 504
    assert [layer.cell_size_mm for layer in CALORIMETER.layers] == [
        (160.0, 5.0),
        (40.0, 40.0),
        (40.0, 80.0),
    ]
    assert [layer.key for layer in CALORIMETER.layers] == ["layer_0", "layer_1", "layer_2"]
    assert CALORIMETER.layer_boundaries_mm == (-150.0, 197.0)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_cell_edges_and_centres(index: int) -> None:
    spec = CALORIMETER.layers[index]
    dx, dy = spec.cell_size_mm
    for edges, n, d in ((spec.x_edges_mm, spec.n_x, dx), (spec.y_edges_mm, spec.n_y, dy)):
        assert len(edges) == n + 1
        assert edges[0] == -240.0 and edges[-1] == 240.0
        np.testing.assert_allclose(np.diff(edges), d)
    np.testing.assert_allclose(spec.x_centres_mm, spec.x_edges_mm[:-1] + dx / 2)
    np.testing.assert_allclose(spec.y_centres_mm, spec.y_edges_mm[:-1] + dy / 2)

    x, y = CALORIMETER.cell_centres_mm(index)
    assert x.shape == y.shape == spec.shape  # indexed [ix, iy]
    np.testing.assert_allclose(x[:, 0], spec.x_centres_mm)  # x varies along axis 0 ...
    np.testing.assert_allclose(y[0, :], spec.y_centres_mm)  # ... and y along axis 1
    assert np.ptp(x, axis=1).max() == 0 and np.ptp(y, axis=0).max() == 0
    np.testing.assert_allclose([x.mean(), y.mean()], [0.0, 0.0], atol=1e-9)  # centred


def test_known_cells() -> None:
    x, y = CALORIMETER.cell_centres_mm(0)
    assert (x[0, 0], y[0, 0]) == (-160.0, -237.5)
    assert (x[2, 95], y[2, 95]) == (160.0, 237.5)
    x, y = CALORIMETER.cell_centres_mm(2)
    assert (x[5, 3], y[5, 3]) == (-20.0, 40.0)


def test_materials_and_gun() -> None:
    assert (CALORIMETER.absorber.z, CALORIMETER.absorber.density_g_cm3) == (82, 11.35)
    assert (CALORIMETER.gap.z, CALORIMETER.gap.density_g_cm3) == (18, 1.390)
    assert CALORIMETER.transverse_size_mm / 2 > CALORIMETER.layers[0].half_width_mm
    # the gun fires from the vacuum in front of the face, inside the world volume
    world_half_depth = CALORIMETER.world_scale * CALORIMETER.depth_mm / 2
    assert -world_half_depth <= CALORIMETER.gun_z_mm < CALORIMETER.z_front_mm
