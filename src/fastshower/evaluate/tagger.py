"""What jet images are for: telling W jets from QCD jets, and whether generated jets serve.

A generated jet sample is useful to an analysis if a tagger behaves on it as on the simulation.
Two checks, as the jet-image literature uses images (de Oliveira et al., arXiv:1511.05190):

- **trained on the reference, applied to both**: a tagger learns W against QCD on half of the
  reference jets and is tested on the other half and on the candidate's jets. Where the
  candidate's AUC differs from the reference's, the generator has not reproduced what tells a
  W from a QCD jet (or has, too well: a higher AUC);
- **trained on the candidate, applied to the reference**: a tagger learns from half of the
  generated jets and is tested on the held-out reference jets, beside the one trained on the
  reference. What is lost here is what a physicist loses training on generated jets.

Two taggers each time: a small convolutional network on the log-scaled pixels (the images' own
tagger) and boosted trees on the jet mass and tau_21 computed from the image (the physicist's
baseline). Both sides are cut to the same numbers of jets per class, the train halves to the
smaller one's, the test halves likewise, so the AUCs are comparable; every AUC carries its
Hanley-McNeil error and its number of jets per class. The candidate's ``signal`` is the class
its generator was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastshower.evaluate.classifier import auc_error, image_features

__all__ = ["MIN_JETS_PER_CLASS", "TaggerConfig", "TaggerResult", "compare_taggers"]

MIN_JETS_PER_CLASS = 40
"""Fewest jets per class and sample: 20 to train on, 20 to test on."""
TAGGERS = ("pixels", "mass and tau_21")


@dataclass(frozen=True)
class TaggerConfig:
    """How the taggers are trained (the network early-stopped on a fifth of its training jets)."""

    epochs: int = 30
    patience: int = 5
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.epochs, self.patience, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs, patience, batch size and learning rate must be > 0: {self}")


@dataclass
class TaggerResult:
    """One tagger (``features``), trained on one sample's jets, tested on held-out jets."""

    features: str
    """``pixels`` (the network) or ``mass and tau_21`` (the trees)."""
    trained_on: str
    """``reference`` or ``candidate``."""
    n_train_per_class: int
    n_test_per_class: int
    auc: dict[str, tuple[float, float]]
    """Test sample (``reference``, ``candidate``) -> (AUC, its error)."""
    roc: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Test sample -> (W efficiency, QCD efficiency) along the ROC curve."""

    def summary(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "trained_on": self.trained_on,
            "n_train_per_class": self.n_train_per_class,
            "n_test_per_class": self.n_test_per_class,
            "auc": {k: {"value": v, "uncertainty": e} for k, (v, e) in self.auc.items()},
        }


def compare_taggers(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    observables: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
    config: TaggerConfig | None = None,
) -> list[TaggerResult]:
    """Both taggers trained on the reference and on the candidate (module docstring).

    ``reference`` and ``candidate``: jet-image arrays (``image``, ``signal``) holding both
    classes; ``observables``: each one's ``image_observables`` (``mass``, ``tau_21``). Raises
    ValueError when a sample has fewer than ``MIN_JETS_PER_CLASS`` jets of a class."""
    config = config or TaggerConfig()
    rng = np.random.default_rng(config.seed)
    halves = {}
    for name, arrays in (("reference", reference), ("candidate", candidate)):
        labels = np.asarray(arrays["signal"]).reshape(-1).astype(np.int64)
        counts = [int((labels == c).sum()) for c in (0, 1)]
        if min(counts) < MIN_JETS_PER_CLASS:
            raise ValueError(
                f"the {name} holds {counts[1]} W and {counts[0]} QCD jets; a tagger needs "
                f"{MIN_JETS_PER_CLASS} of each"
            )
        halves[name] = _halves(labels, rng)
    n_train = min(len(h[0][c]) for h in halves.values() for c in (0, 1))
    n_test = min(len(h[1][c]) for h in halves.values() for c in (0, 1))
    samples = {"reference": reference, "candidate": candidate}
    features: dict[str, Callable[[str], np.ndarray]] = {
        "pixels": lambda name: image_features(samples[name]["image"]),
        "mass and tau_21": lambda name: _mass_tau21(observables[name == "candidate"]),
    }
    results = []
    for tagger in TAGGERS:
        x = {name: features[tagger](name) for name in samples}
        tests = {name: _rows(halves[name][1], n_test) for name in samples}
        for trained_on, tested_on in (
            ("reference", ("reference", "candidate")),
            ("candidate", ("reference",)),
        ):
            train = _rows(halves[trained_on][0], n_train)
            score = _fit(tagger, x[trained_on][train[0]], train[1], config)
            result = TaggerResult(tagger, trained_on, n_train, n_test, {})
            for name in tested_on:
                rows, labels = tests[name]
                result.auc[name], result.roc[name] = _auc(labels, score(x[name][rows]))
            results.append(result)
    return results


def _halves(
    labels: np.ndarray, rng: np.random.Generator
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per class, a random half of the jets to train on and the other half to test on."""
    train, test = {}, {}
    for c in (0, 1):
        rows = rng.permutation(np.flatnonzero(labels == c))
        train[c], test[c] = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    return train, test


def _rows(by_class: Mapping[int, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of each class and their labels (1 = W)."""
    rows = np.concatenate([by_class[0][:n], by_class[1][:n]])
    return rows, np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])


def _mass_tau21(observables: Mapping[str, np.ndarray]) -> np.ndarray:
    columns = [np.asarray(observables[k], dtype=np.float64).reshape(-1) for k in ("mass", "tau_21")]
    return np.nan_to_num(np.column_stack(columns), nan=-1.0).astype(np.float32)


def _auc(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[tuple[float, float], tuple[np.ndarray, np.ndarray]]:
    from sklearn.metrics import roc_auc_score, roc_curve

    value = float(roc_auc_score(labels, scores))
    n1 = int(labels.sum())
    qcd_efficiency, w_efficiency, _ = roc_curve(labels, scores)
    return (value, auc_error(value, n1, len(labels) - n1)), (w_efficiency, qcd_efficiency)


def _fit(
    tagger: str, x: np.ndarray, y: np.ndarray, config: TaggerConfig
) -> Callable[[np.ndarray], np.ndarray]:
    """Train ``tagger`` on ``x`` (labels ``y``); return its score function."""
    if tagger == "mass and tau_21":
        from sklearn.ensemble import HistGradientBoostingClassifier

        trees = HistGradientBoostingClassifier(
            early_stopping=True, validation_fraction=0.2, random_state=config.seed
        ).fit(x, y)
        return lambda rows: trees.predict_proba(rows)[:, 1]
    return _fit_network(x, y, config)


def _network() -> Any:
    """Two convolutions with pooling (25 -> 12 -> 6 pixels a side), then one hidden layer."""
    from torch import nn

    return nn.Sequential(
        nn.Unflatten(1, (1, 25, 25)),
        nn.Conv2d(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 6 * 6, 64),
        nn.ReLU(),
        nn.Linear(64, 1),
    )


def _fit_network(
    x: np.ndarray, y: np.ndarray, config: TaggerConfig
) -> Callable[[np.ndarray], np.ndarray]:
    """The network, early-stopped on a fifth of the training jets (the best epoch kept)."""
    import torch

    from fastshower.training.classifier_fit import fit_classifier

    mean, std = float(x.mean()), float(x.std()) or 1.0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(config.seed))
    n_val = max(len(x) // 5, 1)
    xs = torch.from_numpy((x - mean) / std)
    ys = torch.from_numpy(y.astype(np.float32))
    val, train = order[:n_val], order[n_val:]
    torch.manual_seed(config.seed)
    model = _network()
    fit_classifier(
        model,
        (xs[train], ys[train], None),
        (xs[val], ys[val], None),
        epochs=config.epochs,
        patience=config.patience,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
    )

    def score(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            inputs = torch.from_numpy((rows - mean) / std)
            return torch.cat([model(part) for part in inputs.split(4096)]).squeeze(1).numpy()

    return score
