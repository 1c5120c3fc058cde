"""The flows of showers (flow matching and its students, CaloFlow) on real Geant4 showers: their
space is invertible, one model learns two particles, its loss goes down, and it generates the
requested particle."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from fastshower.models.shower_space import ShowerSpace, ShowerSpaceSettings
from fastshower.training.data import load_shower_vectors


@pytest.mark.parametrize(
    "floor,noise,summaries,energies",
    [
        (0.0, 1e-3, False, "log"),
        (1e-4, 1e-3, True, "shares"),
        (1e-6, 1e-3, False, "shares"),
        (0.0, 1e-5, True, "shares"),
    ],
)
def test_space_round_trip_keeps_cells_and_layer_energies(
    shower_files: list[Path], floor: float, noise: float, summaries: bool, energies: str
) -> None:
    data = load_shower_vectors(shower_files)
    assert data.particles == ["e+", "pi+"] and data.cells.shape == (96, 504)
    settings = ShowerSpaceSettings(
        noise_mev=noise,
        cell_floor=floor,
        layer_hits=summaries,
        layer_peaks=summaries,
        layer_energies=energies,
    )
    space = ShowerSpace(data.particles, settings)
    space.fit(data.cells, data.condition)
    x = space.encode(data.cells, data.condition, torch.Generator().manual_seed(1))
    assert x.shape == (96, 513 if summaries else 507) and torch.isfinite(x).all()
    np.testing.assert_allclose(x.mean(0).numpy(), 0.0, atol=0.3)  # standardised (other noise)
    back = torch.cat(space.decode(x, data.condition), dim=1)
    sizes = [288, 144, 72]
    for original, decoded in zip(data.cells.split(sizes, 1), back.split(sizes, 1), strict=True):
        # layer energies come back exactly (to float32); cells within the noise, which the
        # rescaling to the layer energy spreads over the layer (< 1% of a small shower)
        torch.testing.assert_close(decoded.sum(1), original.sum(1), rtol=1e-4, atol=1e-3)
        kept = original >= noise
        assert (decoded[kept] > 0).all() and (decoded[original == 0] == 0).all()
        torch.testing.assert_close(decoded[kept], original[kept], rtol=1e-2, atol=2e-3)
    pion = space.context(data.condition[data.condition[:, 1] == 211])
    assert (pion[:, 1:3] == torch.tensor([0.0, 1.0])).all()  # one-hot: e+, pi+


def test_layer_shares_never_give_a_shower_more_than_it_brought(shower_files: list[Path]) -> None:
    """In ``shares`` the total is bounded by the incident energy plus the training's largest
    excess (a positron's annihilation, 1.022 MeV, at most), whatever flow I's coordinates are;
    in ``log`` the same coordinates give showers several times the incident energy."""
    data = load_shower_vectors(shower_files)
    incident = data.condition[:, 0] * 1000.0
    totals = {}
    for energies in ("log", "shares"):
        space = ShowerSpace(data.particles, ShowerSpaceSettings(layer_energies=energies))
        space.fit(data.cells, data.condition)
        x = space.encode(data.cells, data.condition, torch.Generator().manual_seed(3))
        x[:, :3] += 3.0  # flow I's tail: three standard deviations up in every layer
        totals[energies] = torch.cat(space.decode(x, data.condition), dim=1).sum(1)
    excess = max(float((data.cells.sum(1) - incident).max()), 0.0)
    assert excess <= 1.1  # MeV: at most the e+ annihilation
    assert (totals["shares"] <= incident + excess + 1e-2).all()
    assert (totals["log"] > 1.5 * incident).float().mean() > 0.5


def test_layer_hits_count_the_hits_and_layer_peaks_set_the_hottest_cell(
    shower_files: list[Path],
) -> None:
    data = load_shower_vectors(shower_files)
    space = ShowerSpace(data.particles, ShowerSpaceSettings(layer_hits=True, layer_peaks=True))
    space.fit(data.cells, data.condition)
    x = space.encode(data.cells, data.condition, torch.Generator().manual_seed(2))
    assert x.shape == (96, 513)
    sizes = [288, 144, 72]
    hits = torch.stack([(c >= 1e-3).sum(1) for c in data.cells.split(sizes, 1)], 1)
    counted = torch.expm1(x[:, 3:6] * space.std[3:6] + space.mean[3:6])  # hits + U[0, 1)
    assert ((counted >= hits - 1e-3) & (counted < hits + 1 + 1e-3)).all()
    assert hits.float().std(0).min() > 0  # the counts differ between showers: a real test
    outside = torch.tensor([0.5, 0.2, 0.05])  # of each layer's energy, outside its hottest cell
    energy = torch.stack([c.sum(1) for c in data.cells.split(sizes, 1)], 1)
    rest = (outside * (energy + 1e-3) + 0.5e-3) / (energy + 1e-3)  # decode takes delta / 2 off
    x[:, 6:9] = (torch.log(rest) - space.mean[6:9]) / space.std[6:9]
    decoded = space.decode(x, data.condition)
    for i, (original, layer) in enumerate(zip(data.cells.split(sizes, 1), decoded, strict=True)):
        torch.testing.assert_close(layer.sum(1), original.sum(1), rtol=1e-4, atol=1e-3)
        several = (layer > 0).sum(1) > 1
        assert several.float().mean() > 0.5
        share = layer.max(1).values / layer.sum(1).clamp_min(1e-30)
        expected = 1 - outside[i] * (energy[:, i] + 1e-3) / energy[:, i].clamp_min(1e-30)
        torch.testing.assert_close(share[several], expected[several], rtol=1e-3, atol=1e-4)


def test_one_model_for_two_particles_trains_and_generates(
    shower_files: list[Path], tmp_path: Path
) -> None:
    from fastshower.generate import GenerateJob
    from fastshower.io import SHOWER_SCHEMA, read_dataset
    from fastshower.modelfile import load_model
    from fastshower.simulate.production import produce
    from fastshower.training.loop import TrainConfig
    from fastshower.training.trainers import train_flow_matching

    config = TrainConfig(
        epochs=8, batch_size=8, lr_generator=3e-3, lr_schedule="cosine", ema=0.9, seed=3
    )
    state = train_flow_matching(
        shower_files,
        tmp_path / "m",
        config,
        progress=False,
        model_config={"width": 64, "blocks": 2, "steps": 2},
    )
    losses = [h["loss"] for h in state["history"]]
    assert losses[-1] < 0.96 * losses[0], losses  # an untrained (zero) velocity: 2.0
    model = load_model(tmp_path / "m" / "last")
    assert model.name == "flow-matching" and model.provenance["particles"] == ["e+", "pi+"]
    job = GenerateJob(str(tmp_path / "m" / "last"), {"particle": "pi+", "energy_gev": [2, 5]})
    out = produce(job, tmp_path / "gen.h5", 5, seed=1, chunk_size=5, workers=0, progress=False)
    data = read_dataset(out, SHOWER_SCHEMA)
    assert len(data) == 5 and (data["particle"] == 211).all()
    assert all((data[f"layer_{i}"] >= 0).all() for i in range(3))
    with pytest.raises(ValueError, match=r"trained on e\+, pi\+ showers; 'gamma'"):
        GenerateJob(str(tmp_path / "m" / "last"), {"particle": "gamma", "energy_gev": [2, 5]})


def test_one_step_student_learns_the_teachers_map(shower_files: list[Path], tmp_path: Path) -> None:
    """``fastshower train distill``: the student samples in one call and gets closer to its
    teacher's showers as it trains."""
    from click.testing import CliRunner

    from fastshower.cli import main
    from fastshower.modelfile import load_model

    data = [str(p) for p in shower_files]
    teacher = tmp_path / "teacher"
    args = ["--batch-size", "8", "--no-progress", "--seed", "2"]
    for d in data:
        args += ["--data", d]
    runner = CliRunner()
    small = ["--width", "32", "--blocks", "1", "--steps", "4"]
    done = runner.invoke(
        main, ["train", "flow-matching", "--out", str(teacher), "--epochs", "2", *small, *args]
    )
    assert done.exit_code == 0, done.output
    student = tmp_path / "student"
    done = runner.invoke(
        main,
        [
            "train",
            "distill",
            "--teacher",
            str(teacher / "last"),
            "--out",
            str(student),
            "--epochs",
            "4",
            "--lr",
            "3e-3",
            *args,
        ],
    )
    assert done.exit_code == 0, done.output
    history = [h["loss"] for h in json.loads((student / "history.json").read_text())]
    assert history[-1] < history[0], history
    model = load_model(student / "last")
    assert (model.config["steps"], model.config["solver"]) == (1, "euler")
    assert model.provenance["distilled_from"]["config"]["steps"] == 4
    bad = runner.invoke(
        main, ["train", "distill", "--teacher", str(tmp_path), "--out", str(tmp_path / "x"), *args]
    )
    assert bad.exit_code == 2 and "not a model folder" in bad.output


@pytest.mark.slow
def test_calo_flow_is_invertible_learns_and_generates(
    shower_files: list[Path], tmp_path: Path
) -> None:
    """``fastshower train calo-flow``: the likelihood rises; the flow maps showers to noise and
    back exactly, so its density is the density of what it samples."""
    from click.testing import CliRunner

    from fastshower.cli import main
    from fastshower.generate import GenerateJob
    from fastshower.io import SHOWER_SCHEMA, read_dataset
    from fastshower.modelfile import load_model
    from fastshower.simulate.production import produce

    args = [
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--lr",
        "2e-3",
        "--transforms",
        "2",
        "--hidden",
        "32",
        "--coupling",
        "dense",
        "--layer-energies",
        "log",
        "--no-layer-hits",
        "--no-layer-peaks",
        "--no-progress",
    ]
    for path in shower_files:
        args += ["--data", str(path)]
    done = CliRunner().invoke(main, ["train", "calo-flow", *args])
    assert done.exit_code == 0, done.output
    losses = [h["loss"] for h in json.loads((tmp_path / "m" / "history.json").read_text())]
    assert losses[-1] < losses[0] - 0.05, losses  # nats per coordinate
    model = load_model(tmp_path / "m" / "last")
    assert model.name == "calo-flow" and model.provenance["particles"] == ["e+", "pi+"]
    assert model.generator.space.settings.layer_energies == "log"  # restored from the file

    flow = model.generator
    data = load_shower_vectors(shower_files)
    x = flow.space.encode(data.cells, data.condition, torch.Generator().manual_seed(0))
    context = flow.space.context(data.condition)
    with torch.no_grad():
        z_layers = flow.energy_flow(context).transform(x[:, :3])
        z_cells = flow.cell_flow(torch.cat([context, x[:, :3]], 1)).transform(x[:, 3:])
        layers = flow(torch.cat([z_layers, z_cells], 1), data.condition)
        decoded = torch.cat([layer.flatten(1) for layer in layers], dim=1)
        log_p = flow(x, data.condition, True)
    assert torch.isfinite(log_p).all()
    # the noise that maps to a shower maps back to it: cells and layer energies to float32
    torch.testing.assert_close(decoded.sum(1), data.cells.sum(1), rtol=1e-3, atol=1e-2)

    job = GenerateJob(str(tmp_path / "m" / "last"), {"particle": "pi+", "energy_gev": [2, 5]})
    out = produce(job, tmp_path / "gen.h5", 5, seed=1, chunk_size=5, workers=0, progress=False)
    generated = read_dataset(out, SHOWER_SCHEMA)

    # its one-step student: a flow-matching model in the teacher's space
    student = [
        "train",
        "distill",
        "--teacher",
        str(tmp_path / "m" / "last"),
        "--out",
        str(tmp_path / "s"),
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--lr",
        "3e-3",
        "--width",
        "32",
        "--blocks",
        "1",
        "--no-progress",
    ]
    for path in shower_files:
        student += ["--data", str(path)]
    done = CliRunner().invoke(main, student)
    assert done.exit_code == 0, done.output
    losses = [h["loss"] for h in json.loads((tmp_path / "s" / "history.json").read_text())]
    assert losses[-1] < losses[0], losses
    distilled = load_model(tmp_path / "s" / "last")
    assert distilled.name == "flow-matching" and distilled.config["steps"] == 1
    torch.testing.assert_close(distilled.generator.space.std, flow.space.std, rtol=0, atol=0)
    assert distilled.generator.space.settings.layer_energies == "log"  # the teacher's space
    assert len(generated) == 5 and (generated["particle"] == 211).all()
    assert all((generated[f"layer_{i}"] >= 0).all() for i in range(3))


def test_held_out_files_are_what_the_training_never_saw(
    shower_files: list[Path], tmp_path: Path
) -> None:
    from fastshower.io import read_showers
    from fastshower.training.trainers import split_indices, write_held_out

    written = write_held_out(shower_files, tmp_path, fraction=0.25, seed=7)
    assert [p.name for p in written] == ["e+-heldout.h5", "pi+-heldout.h5"]
    everything = load_shower_vectors(shower_files)
    _, held = split_indices(len(everything), 0.25, 7)
    expected = everything.cells[held.sort().values]
    got = load_shower_vectors(written).cells
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert read_showers(written[1]).provenance["held_out_seed"] == 7


def test_shipped_model_makes_positron_showers_like_geant4() -> None:
    """The demo's model against a few real 10 GeV showers: a guard that code changes to the
    shower space or the sampler have not silently broken the shipped weights."""
    from fastshower.modelfile import load_model
    from fastshower.pretrained import DEFAULT_SHOWER_MODEL, resolve_model
    from fastshower.simulate.calo import CaloSettings, simulate_showers

    real = simulate_showers(CaloSettings("e+", (10.0, 10.0)), 40, seed=9)
    generator = load_model(resolve_model(DEFAULT_SHOWER_MODEL)).generator
    condition = torch.tensor([[10.0, -11.0, 0.0, 0.0]]).repeat(400, 1)
    with torch.no_grad():
        fake = [x.numpy() for x in generator(torch.randn(400, generator.latent_size), condition)]
    real_layers = [real[f"layer_{i}"] for i in range(3)]

    def summary(layers: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        energies = np.stack([x.reshape(len(x), -1).sum(1) for x in layers], axis=1)
        hit = np.array([(x > 0).mean() for x in layers])
        return energies.mean(0) / 10_000.0, hit  # layer energy / incident (MeV)

    (real_e, real_hit), (fake_e, fake_hit) = summary(real_layers), summary(fake)
    np.testing.assert_allclose(fake_e, real_e, atol=0.03)
    # measured: 0.25 / 0.55 / 0.07 against these Geant4 showers' 0.26 / 0.56 / 0.07 (the
    # flow-matching model: 0.35 / 0.66 / 0.18); a broken model is far off
    np.testing.assert_allclose(fake_hit, real_hit, atol=0.08)


def test_spline_transform_is_zukos_spline() -> None:
    """``SplineTransform`` only computes zuko's knots faster: same map, same inverse, same
    log-determinant, so model files trained with zuko's class sample the same showers."""
    from zuko.transforms import MonotonicRQSTransform

    from fastshower.models.splines import SplineTransform

    rng = torch.Generator().manual_seed(4)
    widths, heights = torch.randn(2, 64, 5, 8, generator=rng)
    derivatives = torch.randn(64, 5, 7, generator=rng)
    ours = SplineTransform(widths, heights, derivatives, bound=8.0)
    zukos = MonotonicRQSTransform(widths, heights, derivatives, bound=8.0)
    x = torch.randn(64, 5, generator=rng) * 6  # inside and outside the bound
    y, log_det = ours.call_and_ladj(x)
    y_zuko, log_det_zuko = zukos.call_and_ladj(x)
    # float32 rounding of exp / sum against torch's softmax, grown through the spline
    torch.testing.assert_close(y, y_zuko, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(log_det, log_det_zuko, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(ours.inv(y), zukos.inv(y), rtol=1e-5, atol=1e-4)
    assert not torch.allclose(y, x)  # a real spline, not the identity


def test_bin_major_inverse_is_the_splines_inverse() -> None:
    """The sampling path's spline inverse, bin by bin, is ``SplineTransform``'s, inside the
    bound and outside it (the identity), and undoes the spline's forward map."""
    from fastshower.models.splines import SplineTransform, inverse_bin_major

    rng = torch.Generator().manual_seed(5)
    parameters = torch.randn(64, 23, 40, generator=rng) * 2  # (N, 3 bins - 1, P), 8 bins
    widths, heights, derivatives = parameters.transpose(1, 2).split([8, 8, 7], dim=-1)
    spline = SplineTransform(widths, heights, derivatives, bound=6.0)
    y = torch.randn(64, 40, generator=rng) * 4
    x = inverse_bin_major(parameters, y, bins=8, bound=6.0)
    torch.testing.assert_close(x, spline.inv(y), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(spline(x), y, rtol=1e-3, atol=1e-3)  # float32, steep bins
    outside = y.abs() > 6.0
    assert outside.any() and torch.equal(x[outside], y[outside])
    assert (x - y)[~outside].abs().max() > 0.1  # a real spline, not the identity


@pytest.mark.parametrize("passes", [None, 2])
def test_autoregressive_flows_are_inverted_pass_by_pass_as_zuko_inverts_them(
    passes: int | None,
) -> None:
    """``invert_flow`` transforms in each pass only the features that pass fixes: the same
    samples as zuko's inverse (features grouped into fewer passes too), which the flow maps
    back to the noise."""
    import zuko

    from fastshower.models.autoregressive import invert_flow
    from fastshower.models.splines import SplineTransform

    torch.manual_seed(6)
    flow = zuko.flows.MAF(
        5,
        3,
        transforms=3,
        hidden_features=[32, 32],
        passes=passes,
        univariate=partial(SplineTransform, bound=5.0),
        shapes=[(8,), (8,), (7,)],
    ).double()  # float64: the round trip below free of float32's rounding in steep bins
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)  # splines far from the identity
        latent = torch.randn(256, 5, dtype=torch.float64) * 2
        context = torch.randn(256, 3, dtype=torch.float64)
        x = invert_flow(flow, latent, context)
        torch.testing.assert_close(x, flow(context).transform.inv(latent), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(flow(context).transform(x), latent)
        assert (x - latent).abs().mean() > 0.1


def test_spline_coupling_samples_through_the_fast_inverse_and_stores_zukos_layout() -> None:
    """``invert`` is the coupling's inverse as zuko computes it; the state dict keeps zuko's
    feature-major rows (a zuko coupling given it is the same map), and loads back as itself."""
    from zuko.flows.coupling import GeneralCouplingTransform

    from fastshower.models.spline_coupling import SplineCouplingTransform
    from fastshower.models.splines import SplineTransform

    torch.manual_seed(2)
    mask = torch.rand(30) < 0.5
    ours = SplineCouplingTransform(30, 3, mask, 6, 5.0, hidden_features=[16])
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.5)  # zuko starts the spline near the identity
    spline = {"univariate": partial(SplineTransform, bound=5.0), "shapes": [(6,), (6,), (5,)]}
    zukos = GeneralCouplingTransform(30, 3, mask, hidden_features=[16], **spline)
    zukos.load_state_dict(ours.state_dict())
    context, y = torch.randn(20, 3), torch.randn(20, 30) * 3
    with torch.no_grad():
        x = ours.invert(y, context)
        torch.testing.assert_close(x, zukos(context).inv(y), rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(ours(context).inv(y), x, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(ours(context)(x), y, rtol=1e-3, atol=1e-3)
        assert (x - y).abs().max() > 0.1
        again = SplineCouplingTransform(30, 3, mask, 6, 5.0, hidden_features=[16])
        again.load_state_dict(ours.state_dict())
        for (name, a), b in zip(ours.named_parameters(), again.parameters(), strict=True):
            assert torch.equal(a, b), name


def test_grid_coupling_gives_each_cell_parameters_from_its_own_neighbourhood() -> None:
    """With the fully connected network silenced, changing one given cell moves the transformed
    cells within two cells of it on its own layer's grid (two 3 x 3 convolutions), and no
    other: the cells are laid out on the right grids, in the dataset's order."""
    from fastshower.detector import CALORIMETER
    from fastshower.models.grid_coupling import GridCouplingTransform, checkerboard_mask
    from fastshower.models.spline_coupling import SplineCouplingTransform

    torch.manual_seed(0)
    mask = checkerboard_mask()
    grid = GridCouplingTransform(504, 2, mask, 4, 5.0, hidden_features=[8])
    plain = SplineCouplingTransform(504, 2, mask, 4, 5.0, hidden_features=[8])
    context, x = torch.randn(1, 2), torch.randn(1, 504)
    plain.hyper.load_state_dict(grid.hyper.state_dict())
    with torch.no_grad():  # untrained, the grid coupling is the plain one
        torch.testing.assert_close(grid(context)(x), plain(context)(x), rtol=0, atol=0)
        last = grid.hyper[-1]
        last.weight.zero_()
        last.bias.normal_()
        for network in grid.grids:
            torch.nn.init.normal_(network[-1].weight)
        layer = CALORIMETER.layers[1]  # 12 x 12, cells 288-431
        ix, iy = 5, 7
        cell = 288 + ix * layer.n_y + iy
        assert mask[cell]
        moved = x.clone()
        moved[0, cell] += 1.0
        changed = (grid(context)(moved) != grid(context)(x))[0]
    near = torch.zeros(504, dtype=torch.bool)
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            near[288 + (ix + dx) * layer.n_y + iy + dy] = True
    near[cell] = False  # the given cell itself passes through: y = x there
    expected = near & ~mask
    assert changed[cell]  # itself, by 1
    changed[cell] = False
    assert torch.equal(changed, expected)
    assert expected.sum() == 12  # the checkerboard's other colour in a 5 x 5 square


def test_grid_networks_see_the_mask_and_context_as_constant_planes() -> None:
    """The grid networks skip convolving the mask and the context planes (they are constant
    over showers and over the grid); what they give must be the network applied to all planes,
    at the grid's borders too (zero padding)."""
    from fastshower.detector import CALORIMETER
    from fastshower.models.grid_coupling import GridCouplingTransform, grid_masks

    torch.manual_seed(1)
    mask = grid_masks([torch.rand(504) < 0.5])[0]
    grid = GridCouplingTransform(504, 3, mask, 4, 5.0, hidden_features=[8])
    for network in grid.grids:
        torch.nn.init.normal_(network[-1].weight)  # not the zero start
    given, context = torch.randn(5, int(mask.sum())), torch.randn(5, 3)
    with torch.no_grad():
        fast = grid._grid_parameters(given, context).transpose(1, 2)  # (N, cells, parameters)
        cells = torch.zeros(5, 504)
        cells[:, mask] = given
        out, start = [], 0
        for network, layer in zip(grid.grids, CALORIMETER.layers, strict=True):
            stop, shape = start + layer.n_cells, (5, 1, *layer.shape)
            planes = [
                cells[:, start:stop].reshape(shape),
                mask[start:stop].float().reshape(1, 1, *layer.shape).expand(shape),
                context[:, :, None, None].expand(5, 3, *layer.shape),
            ]
            out.append(network(torch.cat(planes, 1)).flatten(2).transpose(1, 2))
            start = stop
        reference = torch.cat(out, 1)[:, ~mask]
    assert fast.abs().max() > 0.1
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)


def test_a_dense_calo_flow_loads_into_a_grid_one_as_itself() -> None:
    """The grid's convolutions start at zero, so a trained dense model is a grid model's warm
    start: given its state (masks included), the grid model is the same density. This failed
    while two couplings shared one mask tensor (the checkerboard), each loading over the
    other's."""
    from fastshower.models.calo_flow import CaloFlowGenerator

    torch.manual_seed(0)
    small = {"particles": ["e+", "pi+"], "transforms": 6, "hidden": 16, "energy_hidden": 8}
    dense = CaloFlowGenerator(**small).eval()
    grid = CaloFlowGenerator(**small, coupling="grid").eval()
    missing, unexpected = grid.load_state_dict(dense.state_dict(), strict=False)
    assert not unexpected and all("grids" in k for k in missing)
    x, condition = torch.randn(8, dense.space.dim), torch.tensor([[20.0, 211, 0, 0]] * 8)
    with torch.no_grad():
        torch.testing.assert_close(grid(x, condition, True), dense(x, condition, True))
    for coupling in grid.cell_flow.transform.transforms:  # the indices follow the loaded masks
        assert torch.equal(coupling._transformed, (~coupling.mask).nonzero().squeeze(1))


def test_space_settings_refuse_what_no_space_has() -> None:
    with pytest.raises(ValueError, match="layer_energies must be one of"):
        ShowerSpaceSettings(layer_energies="layer")
    with pytest.raises(ValueError, match="noise_mev"):
        ShowerSpaceSettings(noise_mev=0.0)
    config = {"particles": ["e+"], "hidden": 64, "layer_hits": True, "cell_floor": 1e-4}
    assert ShowerSpaceSettings.of(config) == ShowerSpaceSettings(layer_hits=True, cell_floor=1e-4)
