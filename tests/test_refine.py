"""Refining generated samples by classifier weights, on real Geant4 showers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fastshower.cli import main
from fastshower.evaluate.report import AMPLIFICATION_OBSERVABLES
from fastshower.io import JET_SCHEMA, SHOWER_SCHEMA, read_showers, write_dataset, write_showers
from fastshower.modelfile import load_refiner
from fastshower.models.refiner import Refiner, condition_groups, effective_sample_size
from fastshower.training.refiner import RefinerTraining, train_refiner

pytestmark = pytest.mark.geant4


def layer_0_share(showers: dict[str, np.ndarray]) -> np.ndarray:
    layers = [showers[f"layer_{i}"].reshape(len(showers["energy"]), -1).sum(1) for i in range(3)]
    return layers[0] / np.sum(layers, axis=0)


def test_weights_bring_a_biased_sample_back(
    positrons: tuple[dict, dict], shower_files: list[Path], tmp_path: Path
) -> None:
    """A 'generator' that makes too many showers starting early (Geant4 positrons kept with a
    bias on their layer-0 share) is refined against other Geant4 positrons; on biased showers
    the refiner never saw, the weighted layer-0 share moves most of the way back to Geant4's."""
    reference, sample = positrons
    share = layer_0_share(sample)
    rng = np.random.default_rng(0)
    kept = (share > np.median(share)) | (rng.random(len(share)) < 0.2)
    biased = {k: v[kept] for k, v in sample.items()}
    n_train = 2 * len(biased["energy"]) // 3
    train = {k: v[:n_train] for k, v in biased.items()}
    held_out = {k: v[n_train:] for k, v in biased.items()}
    generated = write_showers(tmp_path / "biased.h5", train, {"seed": 2})
    real = write_showers(tmp_path / "geant4.h5", reference, {"seed": 1})

    config = RefinerTraining(hidden=(64, 64), epochs=40, patience=8, batch_size=32, clip=10.0)
    measured = train_refiner(generated, [real], tmp_path / "refiner", config)
    assert measured["validation_auc"] > 0.6  # it sees the bias
    refiner = load_refiner(tmp_path / "refiner").generator
    assert isinstance(refiner, Refiner)
    weights = refiner.weights(held_out)
    assert weights.shape == (len(held_out["energy"]),) and (weights >= 0).all()
    assert (weights <= 10.0).all() and effective_sample_size(weights) > 0.3 * len(weights)

    # weights average 1 at each condition: here one energy, then ten energy bins per particle
    np.testing.assert_allclose(weights.mean(), 1.0, rtol=1e-5)
    parts = [read_showers(path).arrays for path in shower_files]
    mixed = {k: np.concatenate([a[k] for a in parts]) for k in parts[0]}
    groups = condition_groups(mixed)
    assert len(groups) == 20 and sum(int(g.sum()) for g in groups) == len(mixed["energy"])
    spread = refiner.weights(mixed)
    for rows in groups:
        np.testing.assert_allclose(spread[rows].mean(), 1.0, rtol=1e-5)

    truth = layer_0_share(sample).mean()  # all of the second sample: no bias
    before = layer_0_share(held_out).mean()
    after = np.average(layer_0_share(held_out), weights=weights)
    assert abs(after - truth) < 0.5 * abs(before - truth), (truth, before, after)


def test_refine_generate_and_evaluate_weighted(
    positrons: tuple[dict, dict], tmp_path: Path
) -> None:
    """The command line: a refiner of the shipped calo-flow's 2 GeV positrons, a weighted
    sample generated with it, and a report that counts its effective size."""
    runner = CliRunner()
    real = write_showers(tmp_path / "geant4.h5", positrons[0], {"seed": 1})
    common = ["--model", "calo-flow", "--particle", "e+", "--energy", "2", "--no-progress"]
    result = runner.invoke(
        main,
        ["generate", *common, "--events", "300", "--seed", "3", "--out", str(tmp_path / "g.h5")],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        [
            "refine",
            "--generated",
            str(tmp_path / "g.h5"),
            "--reference",
            str(real),
            "--out",
            str(tmp_path / "refiner"),
            "--epochs",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out AUC" in result.output and "effective size" in result.output
    weighted = tmp_path / "weighted.h5"
    result = runner.invoke(
        main,
        [
            "generate",
            *common,
            "--events",
            "200",
            "--seed",
            "4",
            "--refine",
            str(tmp_path / "refiner"),
            "--out",
            str(weighted),
        ],
    )
    assert result.exit_code == 0, result.output
    data = read_showers(weighted)
    assert data["weight"].shape == (200,) and (data["weight"] >= 0).all()
    assert data.provenance["refiner"]["generated"] == "g.h5"

    out = tmp_path / "report"
    result = runner.invoke(
        main,
        [
            "evaluate",
            "--reference",
            str(write_showers(tmp_path / "b.h5", positrons[1], {"seed": 2})),
            "--candidate",
            str(weighted),
            "--no-learning-curve",
            "--amplification",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (candidate,) = json.loads((out / "metrics.json").read_text())["candidates"]
    assert candidate["weighted"] and 0 < candidate["effective_events"] <= 200
    worth = {a["observable"]: a for a in candidate["amplification"]}
    assert set(worth) == set(AMPLIFICATION_OBSERVABLES["showers"])
    assert all(a["n_candidate"] == 200 for a in worth.values())
    assert candidate["effective_events"] == pytest.approx(
        effective_sample_size(data["weight"]),
        abs=0.05,  # metrics.json keeps one decimal
    )

    # a refiner is not a generator, and refines only its own kind of sample
    result = runner.invoke(
        main,
        [
            "generate",
            "--model",
            str(tmp_path / "refiner"),
            "--class",
            "w",
            "--events",
            "5",
            "--out",
            str(tmp_path / "x.h5"),
        ],
    )
    assert result.exit_code == 2 and "unknown model 'refiner'" in result.output
    result = runner.invoke(
        main,
        [
            "generate",
            "--model",
            "lagan",
            "--class",
            "w",
            "--events",
            "5",
            "--refine",
            str(tmp_path / "refiner"),
            "--out",
            str(tmp_path / "x.h5"),
        ],
    )
    assert result.exit_code == 2 and "refines showers samples" in result.output
    assert not (tmp_path / "x.h5").exists()


def test_refine_and_evaluate_refuse_what_they_cannot_use(
    positrons: tuple[dict, dict], pythia_jets: tuple[dict, dict], tmp_path: Path
) -> None:
    """One-line errors, exit 2, nothing written: showers refined against jets, and a weighted
    sample given as the reference."""
    runner = CliRunner()
    showers = write_showers(tmp_path / "e.h5", positrons[0], {"seed": 1})
    jets = write_dataset(tmp_path / "w.h5", pythia_jets[0], JET_SCHEMA, {"seed": 1})
    out = tmp_path / "refiner"
    result = runner.invoke(
        main, ["refine", "--generated", str(showers), "--reference", str(jets), "--out", str(out)]
    )
    assert result.exit_code == 2 and "hold different data" in result.output
    assert not out.exists()
    result = runner.invoke(
        main,
        [
            "refine",
            "--generated",
            str(showers),
            "--reference",
            str(showers),
            "--features",
            "pixels",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2 and "a refiner on 'pixels' cannot weigh showers" in result.output
    assert not out.exists()

    weighted = {**positrons[1], "weight": np.ones(len(positrons[1]["energy"]), np.float32)}
    path = write_dataset(tmp_path / "weighted.h5", weighted, SHOWER_SCHEMA.with_weight(), {})
    result = runner.invoke(
        main,
        [
            "evaluate",
            "--reference",
            str(path),
            "--candidate",
            str(showers),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2 and "the reference is weighted" in result.output
    assert not (tmp_path / "r").exists()
