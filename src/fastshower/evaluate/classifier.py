"""The classifier test: can a classifier tell generated showers (or jet images) from the
reference? AUC 0.5 means it cannot, 1.0 that it always can.

The protocol is CaloFlow's and the CaloChallenge's (Krause, Shih, arXiv:2106.05285; the
CaloChallenge ``evaluate.py``): the reference is labelled 1 and the candidate 0, both samples are
cut to the same size N (the smaller one's: every event of it is used), shuffled and split into
train / validation / test (60 / 20 / 20 %); a fully connected network is trained with binary
cross-entropy and Adam, the epoch with the lowest validation loss is kept (training stops after
``patience`` epochs without a better one); its scores on the held-out test split give the AUC,
and, after isotonic calibration fitted on the validation split, the Jensen-Shannon divergence
JSD = (ln 2 - BCE) / ln 2. Two networks are provided (``PROTOCOLS``): CaloFlow's 3 x 512 ReLU
and the CaloChallenge's 2 x 2048 LeakyReLU.

A second opinion, on the same features and the same split: gradient-boosted trees
(scikit-learn's ``HistGradientBoostingClassifier``, early-stopped on the validation split). Why:
on a few thousand events the networks memorise cells before they learn the differences, while
trees cut on one feature at a time and see them (two samples of the same Geant4 pions differ
only at 0.50 for both; a flow's pions, where trees see 0.94 on 20k showers, gave the network
0.60). ``judge`` runs both and calls the one that separates the validation split better the
verdict: its test AUC is the number to quote, so the judge is never weaker than either.

AUC, calibration and the ROC come from scikit-learn; the AUC's statistical error is Hanley and
McNeil's (1982) from the test split's sizes. A ``learning_curve`` repeats the judgement on
subsamples of N = 1k, 2k, 5k, ... events per class: where the AUC still rises with N, the judge
has not saturated, and an AUC means nothing without its N.

Features (``observables.features``), as CaloFlow: every cell, log-scaled, plus log10 of the
incident energy and of each layer's energy. The ``normalized`` variant gives each cell as its
share of its layer's energy, so the network must find differences in shapes.
``high_level_features`` are the shower-shape observables and each layer's cell-energy spectrum
instead (the CaloChallenge's "high-level" classifier, with the spectra its plots show). Jet
images: the 625 log-scaled pixels. Features are standardised with the training split's mean and
spread.

Everything is seeded (subsamples, splits, initial weights, batch order, trees): the same inputs
and seed give the same AUC on the same machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from fastshower.observables.features import (
    high_level_features,
    image_features,
    shower_features,
)

__all__ = [
    "LEARNING_CURVE_SIZES",
    "MIN_EVENTS",
    "PROTOCOLS",
    "ClassifierConfig",
    "ClassifierResult",
    "Judgement",
    "auc_error",
    "classifier_test",
    "high_level_features",
    "image_features",
    "judge",
    "learning_curve",
    "shower_features",
]

MIN_EVENTS = 100
"""Fewest events per sample: below it the test split (20%) holds too few events for an AUC whose
statistical error (about 0.1 for 20 + 20 events) would mean anything."""
LEARNING_CURVE_SIZES = (1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
"""Events per class at which ``learning_curve`` judges, as far as the samples go."""


@dataclass(frozen=True)
class ClassifierConfig:
    """How the network is built and trained (CaloFlow's 3 x 512 by default)."""

    hidden: tuple[int, ...] = (512, 512, 512)
    activation: Literal["relu", "leaky_relu"] = "relu"
    epochs: int = 50
    """At most this many epochs ..."""
    patience: int = 10
    """... and stop after this many without a lower validation loss (early stopping)."""
    batch_size: int = 1000
    learning_rate: float = 2e-4
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Train, validation and test shares."""
    dropout: float = 0.0
    """Dropout after every hidden layer (the CaloChallenge classifier's option)."""
    trees: bool = True
    """Also train the boosted trees (the second opinion) on the same split."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"epochs, batch_size and hidden sizes must be positive: {self}")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {self.patience}")
        if self.activation not in ("relu", "leaky_relu"):
            raise ValueError(f"activation must be relu or leaky_relu, got {self.activation!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if len(self.split) != 3 or min(self.split) <= 0 or not math.isclose(sum(self.split), 1):
            raise ValueError(f"split must be three positive shares summing to 1, got {self.split}")


PROTOCOLS: dict[str, ClassifierConfig] = {
    "caloflow": ClassifierConfig(),
    "calochallenge": ClassifierConfig(hidden=(2048, 2048), activation="leaky_relu"),
}
"""The published networks: CaloFlow's (arXiv:2106.05285) and the CaloChallenge's."""


@dataclass
class ClassifierResult:
    """What one classifier found. Scores are its outputs on the test split."""

    method: str
    """``network`` or ``boosted trees``."""
    auc: float
    auc_uncertainty: float
    """Standard error of the AUC from the test-split sizes (Hanley and McNeil 1982)."""
    validation_auc: float
    jsd: float
    best_epoch: int
    """The kept epoch (network) or the number of trees."""
    n_per_class: int
    n_train: int
    n_validation: int
    n_test: int
    seconds: float
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    reference_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """A weighted candidate's test-split weights (empty: unweighted)."""
    reference_tags: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate_tags: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The test split's ``tags`` (``judge``), beside its scores (empty: none given)."""

    def summary(self) -> dict[str, Any]:
        """The numbers, without the per-event arrays (for metrics.json)."""
        out = asdict(self)
        for key in ("scores", "weights", "tags"):
            out.pop(f"reference_{key}", None)
            out.pop(f"candidate_{key}", None)
        return out

    def auc_where(self, reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
        """The AUC (and its error) on the test events selected by the two boolean masks (of
        ``reference_scores`` and ``candidate_scores``): the same classifier, judged in a corner
        of the phase space, such as a bin of incidence points."""
        from sklearn.metrics import roc_auc_score

        n1, n0 = int(reference.sum()), int(candidate.sum())
        if n1 == 0 or n0 == 0:
            return math.nan, math.nan
        weights = self.candidate_weights[candidate] if len(self.candidate_weights) else None
        value = float(
            roc_auc_score(
                np.r_[np.ones(n1), np.zeros(n0)],
                np.r_[self.reference_scores[reference], self.candidate_scores[candidate]],
                sample_weight=None if weights is None else np.r_[np.ones(n1), weights],
            )
        )
        if weights is not None:  # a weighted candidate counts as its effective size
            from fastshower.models.refiner import effective_sample_size

            n0 = max(round(effective_sample_size(weights)), 1)
        return value, auc_error(value, n1, n0)


@dataclass
class Judgement:
    """The network and the boosted trees on the same events; the verdict is the one that
    separates the validation split better (chosen before its test AUC is looked at)."""

    network: ClassifierResult
    trees: ClassifierResult | None

    @property
    def n_per_class(self) -> int:
        return self.network.n_per_class

    @property
    def verdict(self) -> ClassifierResult:
        if self.trees is not None and self.trees.validation_auc > self.network.validation_auc:
            return self.trees
        return self.network

    def summary(self) -> dict[str, Any]:
        return {
            "n_per_class": self.n_per_class,
            "verdict": self.verdict.method,
            "auc": self.verdict.auc,
            "auc_uncertainty": self.verdict.auc_uncertainty,
            "network": self.network.summary(),
            "trees": None if self.trees is None else self.trees.summary(),
        }


# ---------------------------------------------------------------------------------------------
# the tests


def judge(
    reference: np.ndarray,
    candidate: np.ndarray,
    config: ClassifierConfig | None = None,
    *,
    n_per_class: int | None = None,
    candidate_weights: np.ndarray | None = None,
    tags: tuple[np.ndarray, np.ndarray] | None = None,
) -> Judgement:
    """Train the network (and, unless ``config.trees`` is off, the boosted trees) to tell
    ``reference`` (label 1) from ``candidate`` (label 0) features, on ``n_per_class`` events of
    each (default: all of the smaller sample), and report both on held-out events.
    ``candidate_weights``: a weighted candidate's event weights, which both classifiers train
    and are scored with (its AUC's error counts its effective sample size). ``tags``: a value,
    or a row of values, per event of each sample (the incidence point, say), returned beside the
    test scores so that the AUC can be read in bins of it (``ClassifierResult.auc_where``)."""
    config = config or ClassifierConfig()
    split = _Split.make(reference, candidate, config, n_per_class, candidate_weights, tags)
    network = _train_network(split, config)
    trees = _train_trees(split, config) if config.trees else None
    return Judgement(network, trees)


def classifier_test(
    reference: np.ndarray, candidate: np.ndarray, config: ClassifierConfig | None = None
) -> ClassifierResult:
    """The network alone (``judge`` without the trees)."""
    config = config or ClassifierConfig()
    return _train_network(_Split.make(reference, candidate, config, None), config)


def learning_curve(
    reference: np.ndarray,
    candidate: np.ndarray,
    config: ClassifierConfig | None = None,
    sizes: Sequence[int] = LEARNING_CURVE_SIZES,
    candidate_weights: np.ndarray | None = None,
    tags: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Judgement]:
    """``judge`` at each size (events per class) below the smaller sample's, then on all of it:
    the last judgement is the full one."""
    n = _check_inputs(reference, candidate)
    points = sorted({s for s in sizes if MIN_EVENTS <= s < n} | {n})
    return [
        judge(
            reference,
            candidate,
            config,
            n_per_class=size,
            candidate_weights=candidate_weights,
            tags=tags,
        )
        for size in points
    ]


@dataclass
class _Split:
    """Standardised float32 features and labels of the train, validation and test splits."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    n_per_class: int
    w: dict[str, np.ndarray] = field(default_factory=dict)
    """Event weights (a weighted candidate's; the reference's are 1); empty: unweighted."""
    test_tags: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def make(
        cls,
        reference: np.ndarray,
        candidate: np.ndarray,
        config: ClassifierConfig,
        n_per_class: int | None,
        candidate_weights: np.ndarray | None = None,
        tags: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> _Split:
        n = _check_inputs(reference, candidate)
        if n_per_class is not None:
            if not MIN_EVENTS <= n_per_class <= n:
                raise ValueError(f"n_per_class must be in {MIN_EVENTS}-{n}, got {n_per_class}")
            n = n_per_class
        rng = np.random.default_rng(config.seed)
        ref_rows = np.sort(rng.permutation(len(reference))[:n])
        cand_rows = np.sort(rng.permutation(len(candidate))[:n])
        x = np.concatenate(
            [np.asarray(reference)[ref_rows], np.asarray(candidate)[cand_rows]]
        ).astype(np.float32)
        y = np.concatenate([np.ones(n, np.float32), np.zeros(n, np.float32)])
        order = rng.permutation(2 * n)
        x, y = x[order], y[order]
        w = None
        if candidate_weights is not None:
            chosen = np.asarray(candidate_weights, dtype=np.float64)[cand_rows]
            if not chosen.sum() > 0:
                raise ValueError("the candidate's weights are all 0")
            w = np.concatenate([np.ones(n), chosen * n / chosen.sum()])[order]
        test_tags = np.zeros(0)
        if tags is not None:
            ref_tags, cand_tags = (np.asarray(t, dtype=np.float64) for t in tags)
            if len(ref_tags) != len(reference) or len(cand_tags) != len(candidate):
                raise ValueError("tags need one value per event of each sample")
            test_tags = np.concatenate([ref_tags[ref_rows], cand_tags[cand_rows]])[order]
        n_train = round(config.split[0] * 2 * n)
        n_val = round(config.split[1] * 2 * n)
        rows = {
            "train": slice(0, n_train),
            "val": slice(n_train, n_train + n_val),
            "test": slice(n_train + n_val, 2 * n),
        }
        mean = x[rows["train"]].mean(axis=0)
        std = x[rows["train"]].std(axis=0)
        x -= mean
        x /= np.where(std > 0, std, 1.0)
        return cls(
            {k: x[s] for k, s in rows.items()},
            {k: y[s] for k, s in rows.items()},
            n,
            {} if w is None else {k: w[s].astype(np.float32) for k, s in rows.items()},
            test_tags[rows["test"]] if len(test_tags) else test_tags,
        )

    def weights(self, part: str) -> np.ndarray | None:
        """The event weights of ``part`` (train, val, test), or None when unweighted."""
        return self.w.get(part)

    def result(
        self,
        method: str,
        val_scores: np.ndarray,
        test_scores: np.ndarray,
        *,
        best_epoch: int,
        seconds: float,
        train_loss: list[float],
        validation_loss: list[float],
    ) -> ClassifierResult:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.metrics import log_loss, roc_auc_score

        y_val, y_test = self.y["val"], self.y["test"]
        w_val, w_test = self.weights("val"), self.weights("test")
        calibrate = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        calibrated = calibrate.fit(val_scores, y_val, sample_weight=w_val).predict(test_scores)
        bce = log_loss(
            y_test, np.clip(calibrated, 1e-7, 1 - 1e-7), labels=[0, 1], sample_weight=w_test
        )
        value = float(roc_auc_score(y_test, test_scores, sample_weight=w_test))
        n1 = int(y_test.sum())
        n0 = len(y_test) - n1
        if w_test is not None:  # a weighted candidate counts as its effective size
            from fastshower.models.refiner import effective_sample_size

            n0 = max(round(effective_sample_size(w_test[y_test == 0])), 1)
        return ClassifierResult(
            method=method,
            auc=value,
            auc_uncertainty=auc_error(value, n1, n0),
            validation_auc=float(roc_auc_score(y_val, val_scores, sample_weight=w_val)),
            jsd=float((math.log(2) - bce) / math.log(2)),
            best_epoch=best_epoch,
            n_per_class=self.n_per_class,
            n_train=len(self.y["train"]),
            n_validation=len(y_val),
            n_test=n1 + n0,
            seconds=seconds,
            train_loss=train_loss,
            validation_loss=validation_loss,
            reference_scores=test_scores[y_test == 1],
            candidate_scores=test_scores[y_test == 0],
            candidate_weights=np.zeros(0) if w_test is None else w_test[y_test == 0],
            reference_tags=self.test_tags[y_test == 1] if len(self.test_tags) else self.test_tags,
            candidate_tags=self.test_tags[y_test == 0] if len(self.test_tags) else self.test_tags,
        )


def _train_network(split: _Split, config: ClassifierConfig) -> ClassifierResult:
    import torch

    from fastshower.training.classifier_fit import fit_classifier

    start = time.perf_counter()

    def tensors(part: str) -> tuple[Any, Any, Any]:
        w = split.weights(part)
        return (
            torch.from_numpy(split.x[part]),
            torch.from_numpy(split.y[part]),
            None if w is None else torch.from_numpy(w),
        )

    torch.manual_seed(config.seed)
    model = _network(split.x["train"].shape[1], config)
    fitted = fit_classifier(
        model,
        tensors("train"),
        tensors("val"),
        epochs=config.epochs,
        patience=config.patience,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
    )
    return split.result(
        "network",
        _scores(model, tensors("val")[0]),
        _scores(model, tensors("test")[0]),
        best_epoch=fitted.best_epoch,
        seconds=time.perf_counter() - start,
        train_loss=fitted.train_loss,
        validation_loss=fitted.validation_loss,
    )


def _train_trees(split: _Split, config: ClassifierConfig) -> ClassifierResult:
    """Boosted trees, early-stopped on the validation split (at most 1000 trees)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    start = time.perf_counter()
    trees = HistGradientBoostingClassifier(
        max_iter=1000, early_stopping=True, n_iter_no_change=20, random_state=config.seed
    )
    trees.fit(
        split.x["train"],
        split.y["train"],
        sample_weight=split.weights("train"),
        X_val=split.x["val"],
        y_val=split.y["val"],
        sample_weight_val=split.weights("val"),
    )
    return split.result(
        "boosted trees",
        trees.predict_proba(split.x["val"])[:, 1],
        trees.predict_proba(split.x["test"])[:, 1],
        best_epoch=int(trees.n_iter_),
        seconds=time.perf_counter() - start,
        train_loss=[-float(s) for s in trees.train_score_],
        validation_loss=[-float(s) for s in trees.validation_score_],
    )


def _check_inputs(reference: np.ndarray, candidate: np.ndarray) -> int:
    """The number of events per class a test can use; refuses inputs it cannot compare."""
    shape_r, shape_c = np.shape(reference), np.shape(candidate)
    if len(shape_r) != 2 or len(shape_c) != 2 or shape_r[1] != shape_c[1]:
        raise ValueError(
            f"features must be (N, d) arrays of the same d; got {shape_r} and {shape_c} "
            "(different detectors or layouts?)"
        )
    n = min(shape_r[0], shape_c[0])
    if n < MIN_EVENTS:
        raise ValueError(
            f"the classifier test needs at least {MIN_EVENTS} events per sample; got "
            f"{shape_r[0]} reference and {shape_c[0]} candidate events"
        )
    return n


def auc_error(a: float, n1: int, n0: int) -> float:
    """The standard error of AUC ``a`` on ``n1`` positive and ``n0`` negative events (Hanley
    and McNeil 1982)."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return float(math.sqrt(max(var, 0.0)))


def _network(n_inputs: int, config: ClassifierConfig) -> Any:
    import torch

    layers: list[torch.nn.Module] = []
    width = n_inputs
    for h in config.hidden:
        activation = torch.nn.ReLU() if config.activation == "relu" else torch.nn.LeakyReLU(0.2)
        layers += [torch.nn.Linear(width, h), activation]
        if config.dropout > 0:
            layers.append(torch.nn.Dropout(config.dropout))
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def _scores(model: Any, x: Any) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(x).squeeze(1)).numpy().astype(np.float64)
