"""Training a refiner (``models.refiner``): generated events against reference events.

Both samples are cut to the same size (the smaller one's), so the classifier's odds are the
density ratio; a seeded share of each is held out, on which the network is early-stopped and
its scores calibrated (isotonic regression). The reference must be events no judge will use:
training showers, never the test set, or the refined sample would be judged on what it was
refined to.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fastshower.io import dataset_info, read_dataset, schema_of
from fastshower.modelfile import save_model
from fastshower.models.refiner import (
    FEATURE_SETS,
    REFINER,
    Refiner,
    effective_sample_size,
    refiner_features,
)
from fastshower.training.classifier_fit import fit_classifier
from fastshower.training.data import file_sha256

__all__ = ["RefinerTraining", "train_refiner"]


@dataclass(frozen=True)
class RefinerTraining:
    """How a refiner is trained."""

    features: str = "high-level"
    hidden: tuple[int, ...] = (256, 256, 256)
    epochs: int = 50
    patience: int = 5
    """Stop after this many epochs without a lower validation loss; the best epoch is kept."""
    batch_size: int = 512
    learning_rate: float = 1e-3
    validation: float = 0.3
    """Share of each sample held out for early stopping and calibration."""
    clip: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {self.features!r}")
        if min(self.epochs, self.patience, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs, patience, batch size and learning rate must be > 0: {self}")
        if not 0 < self.validation < 1 or self.clip <= 1:
            raise ValueError(f"need 0 < validation < 1 and clip > 1: {self}")


def train_refiner(
    generated: str | os.PathLike[str],
    reference: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: RefinerTraining | None = None,
) -> dict[str, Any]:
    """Train a refiner of the ``generated`` sample towards the ``reference`` files (pooled),
    save it in the folder ``out`` and return what it measured on the held-out events: the
    classifier's AUC and the effective sample size of the held-out generated events' weights,
    as a share of their number."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score

    config = config or RefinerTraining()
    paths = [Path(generated), *(Path(r) for r in reference)]
    infos = [dataset_info(p) for p in paths]  # DatasetError (a ValueError) for a bad file
    schemas = {schema_of(info) for info in infos}
    if len(schemas) > 1:
        raise ValueError(
            f"the generated and reference files hold different data: {[s.name for s in schemas]}"
        )
    (schema,) = schemas
    gen = read_dataset(paths[0], schema).arrays
    refs = [read_dataset(p, schema).arrays for p in paths[1:]]
    ref = {k: np.concatenate([r[k] for r in refs]) for k in refs[0] if all(k in r for r in refs)}
    x_gen, x_ref = (refiner_features(a, config.features) for a in (gen, ref))
    n = min(len(x_gen), len(x_ref))
    rng = np.random.default_rng(config.seed)
    gen_rows = rng.permutation(len(x_gen))[:n]
    x = {"generated": x_gen[gen_rows], "reference": x_ref[rng.permutation(len(x_ref))[:n]]}
    n_val = max(round(config.validation * n), 1)
    if n - n_val < 10:
        raise ValueError(f"{n} events per sample: a refiner needs at least {n_val + 10}")
    train_x = np.concatenate([x["reference"][n_val:], x["generated"][n_val:]])
    train_y = np.r_[np.ones(n - n_val), np.zeros(n - n_val)].astype(np.float32)
    val_x = np.concatenate([x["reference"][:n_val], x["generated"][:n_val]])
    val_y = np.r_[np.ones(n_val), np.zeros(n_val)].astype(np.float32)

    refiner = Refiner(config.features, train_x.shape[1], config.hidden, clip=config.clip)
    refiner.mean.copy_(torch.from_numpy(train_x.mean(axis=0)))
    std = torch.from_numpy(train_x.std(axis=0))
    refiner.std.copy_(torch.where(std > 0, std, 1.0))  # a constant input stays 0
    best_epoch = fit_classifier(
        refiner,
        (torch.from_numpy(train_x), torch.from_numpy(train_y), None),
        (torch.from_numpy(val_x), torch.from_numpy(val_y), None),
        epochs=config.epochs,
        patience=config.patience,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
    ).best_epoch

    with torch.no_grad():
        scores = torch.sigmoid(refiner(torch.from_numpy(val_x))).numpy().astype(np.float64)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, val_y)
    table_x, table_y = isotonic.X_thresholds_, isotonic.y_thresholds_
    if len(table_x) < 2:  # one step: a classifier that gives every event the same score
        table_x, table_y = np.array([0.0, 1.0]), np.repeat(table_y, 2)
    calibrated = Refiner(
        config.features, train_x.shape[1], config.hidden, len(table_x), clip=config.clip
    )
    state = refiner.state_dict()
    state["calibration_x"] = torch.from_numpy(table_x.astype(np.float32))
    state["calibration_y"] = torch.from_numpy(table_y.astype(np.float32))
    calibrated.load_state_dict(state)

    # as a generated sample gets them: scaled per condition (``Refiner.weights``)
    weights = calibrated.weights({k: v[gen_rows[:n_val]] for k, v in gen.items()})
    measured = {
        "validation_auc": float(roc_auc_score(val_y, scores)),
        "n_per_class": n,
        "n_validation_per_class": n_val,
        "best_epoch": best_epoch,
        "effective_sample_fraction": effective_sample_size(weights) / n_val,
    }
    provenance = {
        "generated": paths[0].name,
        "generated_sha256": file_sha256(paths[0]),
        "reference": [p.name for p in paths[1:]],
        "reference_sha256": [file_sha256(p) for p in paths[1:]],
        "schema": schema.name,
        "train_config": asdict(config),
        **measured,
    }
    save_model(out, REFINER, calibrated, calibrated.config(), provenance)
    return measured
