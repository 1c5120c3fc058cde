"""The classifier test: can a neural network tell generated showers (or jet images) from the
reference? AUC 0.5 means it cannot, 1.0 that it always can.

The protocol is CaloFlow's and the CaloChallenge's (Krause, Shih, arXiv:2106.05285; the
CaloChallenge ``evaluate.py``): the reference is labelled 1 and the candidate 0, both samples are
cut to the same size, shuffled and split into train / validation / test; a fully connected
network (3 x 512 ReLU by default) is trained with binary cross-entropy and Adam; the epoch with
the lowest validation loss is kept; its scores on the held-out test split give the AUC, and,
after isotonic calibration fitted on the validation split, the Jensen-Shannon divergence
JSD = (ln 2 - BCE) / ln 2.

Features, as CaloFlow: every cell, log-scaled, plus log10 of the incident energy and of each
layer's energy. The ``normalized`` variant gives each cell as its share of its layer's energy,
so the network must find differences in shapes rather than in layer energies (which it still
gets separately). ``high_level_features`` are the shower-shape observables instead (the
CaloChallenge's "high-level" classifier), far more sensitive on samples of a few thousand
showers, where the cell-level network overfits the cells' noise before it learns the energy
sums. Jet images: the 625 log-scaled pixels. Features are standardised with the training
split's mean and spread.

Everything is seeded (splits, initial weights, batch order): the same inputs and seed give the
same AUC on the same machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fastshower.detector import CALORIMETER

__all__ = [
    "MIN_EVENTS",
    "ClassifierConfig",
    "ClassifierResult",
    "auc",
    "classifier_test",
    "high_level_features",
    "image_features",
    "isotonic_fit",
    "shower_features",
]

MIN_EVENTS = 100
"""Fewest events per sample: below it the test split (20%) holds too few events for an AUC whose
statistical error (about 0.1 for 20 + 20 events) would mean anything."""
_LOG_FLOOR_MEV = 1e-3  # cells below 1 keV are empty as far as the classifier is concerned
_LOG_FLOOR_GEV = 1e-3


@dataclass(frozen=True)
class ClassifierConfig:
    """How the classifier is built and trained (CaloFlow's values by default)."""

    hidden: tuple[int, ...] = (512, 512, 512)
    epochs: int = 30
    batch_size: int = 1000
    learning_rate: float = 2e-4
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Train, validation and test shares."""
    dropout: float = 0.0
    """Dropout after every hidden layer (the CaloChallenge classifier's option)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"epochs, batch_size and hidden sizes must be positive: {self}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if len(self.split) != 3 or min(self.split) <= 0 or not math.isclose(sum(self.split), 1):
            raise ValueError(f"split must be three positive shares summing to 1, got {self.split}")


@dataclass
class ClassifierResult:
    """What the test found. Scores are the network's outputs on the test split."""

    auc: float
    auc_uncertainty: float
    """Standard error of the AUC from the test-split sizes (Hanley and McNeil 1982)."""
    jsd: float
    best_epoch: int
    n_train: int
    n_validation: int
    n_test: int
    seconds: float
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    reference_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def summary(self) -> dict[str, Any]:
        """The numbers, without the score arrays (for metrics.json)."""
        out = asdict(self)
        out.pop("reference_scores")
        out.pop("candidate_scores")
        return out


def shower_features(showers: Mapping[str, np.ndarray], normalized: bool = False) -> np.ndarray:
    """(N, n_cells + 1 + n_layers) classifier inputs for showers in the dataset layout."""
    cells, layer_energy = [], []
    for layer in CALORIMETER.layers:
        if layer.key not in showers:
            raise ValueError(f"showers have no {layer.key!r}; the classifier needs every layer")
        values = np.asarray(showers[layer.key], dtype=np.float64)
        if values.shape[1:] != layer.shape:
            raise ValueError(
                f"{layer.key} has shape {values.shape}; expected (N, {layer.n_x}, {layer.n_y})"
            )
        flat = values.reshape(len(values), -1)
        total = flat.sum(axis=1, keepdims=True)
        layer_energy.append(total)
        if normalized:
            cells.append(np.divide(flat, total, out=np.zeros_like(flat), where=total > 0))
        else:
            cells.append(np.log10(np.clip(flat, 0, None) + _LOG_FLOOR_MEV))
    incident = np.asarray(showers["energy"], dtype=np.float64).reshape(-1, 1)
    features = np.concatenate(
        [
            *cells,
            np.log10(incident + _LOG_FLOOR_GEV),
            np.log10(np.clip(np.concatenate(layer_energy, axis=1), 0, None) + _LOG_FLOOR_MEV),
        ],
        axis=1,
    )
    _check_finite(features, "shower")
    return features


def high_level_features(showers: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, n_observables) the shower-shape observables (``observables.calo``), energies in log10:
    the CaloChallenge's "high-level" classifier. On small samples it sees what the cell-level
    network misses: on 2 x 4500 e+ showers, layer 1 scaled by 1.1 gives AUC 0.53 from the cells
    and 1.00 from these (``benchmarks/classifier_speed.py``)."""
    from fastshower.observables.calo import OBSERVABLES, shower_observables

    columns = []
    for name, values in shower_observables(showers).items():
        unit = OBSERVABLES[name].unit
        floor = _LOG_FLOOR_GEV if unit == "GeV" else _LOG_FLOOR_MEV
        columns.append(np.log10(values + floor) if unit in ("MeV", "GeV") else values)
    features = np.column_stack(columns)
    _check_finite(features, "shower")
    return features


def image_features(images: np.ndarray) -> np.ndarray:
    """(N, n_pixels) log-scaled pixels; negative pixels (LAGAN's rotation) count as empty."""
    images = np.asarray(images, dtype=np.float64)
    flat = images.reshape(len(images), -1)
    features = np.log10(np.clip(flat, 0, None) + _LOG_FLOOR_GEV)
    _check_finite(features, "image")
    return features


def classifier_test(
    reference: np.ndarray, candidate: np.ndarray, config: ClassifierConfig | None = None
) -> ClassifierResult:
    """Train a classifier to tell ``reference`` (label 1) from ``candidate`` (label 0) features
    and report its AUC and JSD on held-out events. Both are cut to the smaller one's size."""
    import torch

    config = config or ClassifierConfig()
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.ndim != 2 or candidate.ndim != 2 or reference.shape[1] != candidate.shape[1]:
        raise ValueError(
            f"features must be (N, d) arrays of the same d; got {reference.shape} and "
            f"{candidate.shape} (different detectors or layouts?)"
        )
    n = min(len(reference), len(candidate))
    if n < MIN_EVENTS:
        raise ValueError(
            f"the classifier test needs at least {MIN_EVENTS} events per sample; got "
            f"{len(reference)} reference and {len(candidate)} candidate events"
        )
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    x = np.concatenate([reference[rng.permutation(len(reference))[:n]],
                        candidate[rng.permutation(len(candidate))[:n]]])  # fmt: skip
    y = np.concatenate([np.ones(n), np.zeros(n)])
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    n_train = round(config.split[0] * 2 * n)
    n_val = round(config.split[1] * 2 * n)
    parts = {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val),
             "test": slice(n_train + n_val, 2 * n)}  # fmt: skip
    mean, std = x[parts["train"]].mean(axis=0), x[parts["train"]].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    tensors = {
        k: (torch.as_tensor(x[s], dtype=torch.float32), torch.as_tensor(y[s], dtype=torch.float32))
        for k, s in parts.items()
    }
    model = _network(x.shape[1], config.hidden, config.dropout)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best = (math.inf, 0, None)
    train_loss, val_loss = [], []
    x_train, y_train = tensors["train"]
    for epoch in range(1, config.epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x_train), generator=generator).split(config.batch_size):
            optimiser.zero_grad()
            loss = loss_fn(model(x_train[batch]).squeeze(1), y_train[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        train_loss.append(total / len(x_train))
        val_loss.append(_loss(model, *tensors["val"], loss_fn))
        if val_loss[-1] < best[0]:
            best = (val_loss[-1], epoch, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])

    val_scores = _scores(model, tensors["val"][0])
    test_scores = _scores(model, tensors["test"][0])
    y_val, y_test = y[parts["val"]], y[parts["test"]]
    calibrated = isotonic_fit(val_scores, y_val)(test_scores)
    eps = 1e-7
    p = np.clip(calibrated, eps, 1 - eps)
    bce = -np.mean(y_test * np.log(p) + (1 - y_test) * np.log(1 - p))
    value = auc(test_scores[y_test == 1], test_scores[y_test == 0])
    n1, n0 = int((y_test == 1).sum()), int((y_test == 0).sum())
    return ClassifierResult(
        auc=value,
        auc_uncertainty=_auc_error(value, n1, n0),
        jsd=float((math.log(2) - bce) / math.log(2)),
        best_epoch=best[1],
        n_train=n_train,
        n_validation=n_val,
        n_test=n1 + n0,
        seconds=time.perf_counter() - start,
        train_loss=train_loss,
        validation_loss=val_loss,
        reference_scores=test_scores[y_test == 1],
        candidate_scores=test_scores[y_test == 0],
    )


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count half), from ranks (Mann-Whitney)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("the AUC needs at least one event of each class")
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]  # average ranks over ties
    n1, n0 = len(positive), len(negative)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def isotonic_fit(scores: np.ndarray, labels: np.ndarray) -> Any:
    """The non-decreasing step function of ``scores`` closest to ``labels`` (pool adjacent
    violators); returns a function that maps new scores by interpolating between its steps."""
    order = np.argsort(scores, kind="mergesort")
    x, y = np.asarray(scores, float)[order], np.asarray(labels, float)[order]
    blocks: list[list[float]] = []  # [value, weight, first score, last score]
    for xi, yi in zip(x, y, strict=True):
        blocks.append([yi, 1.0, xi, xi])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (v1, w1, first, _), (v2, w2, _, last) = blocks[-2], blocks[-1]
            blocks[-2:] = [[(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, first, last]]
    knots = np.array([edge for b in blocks for edge in (b[2], b[3])])
    levels = np.array([b[0] for b in blocks for _ in (0, 1)])
    return lambda s: np.interp(np.asarray(s, float), knots, levels)


def _auc_error(a: float, n1: int, n0: int) -> float:
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return float(math.sqrt(max(var, 0.0)))


def _network(n_inputs: int, hidden: tuple[int, ...], dropout: float) -> Any:
    import torch

    layers: list[torch.nn.Module] = []
    width = n_inputs
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def _loss(model: Any, x: Any, y: Any, loss_fn: Any) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(x).squeeze(1), y))


def _scores(model: Any, x: Any) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(x).squeeze(1)).numpy().astype(np.float64)


def _check_finite(features: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(features)
    if bad.any():
        event = int(np.argmax(bad.any(axis=1)))
        raise ValueError(f"{what} {event} gives non-finite classifier inputs (NaN or inf cells?)")
