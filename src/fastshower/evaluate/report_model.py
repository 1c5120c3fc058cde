"""What an evaluation report is made of: the samples compared, the figures drawn and the
results computed. Shared by the computations (``report``) and the page (``report_html``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastshower.evaluate.amplification import Amplification
from fastshower.evaluate.classifier import Judgement
from fastshower.evaluate.tagger import TaggerResult
from fastshower.models.refiner import effective_sample_size

__all__ = [
    "HIGHLIGHTS",
    "VARIANT_NAMES",
    "ReportFigure",
    "Results",
    "Sample",
    "is_simulation",
    "json_safe",
]

HIGHLIGHTS = (
    "generator",
    "model",
    "checkpoint",
    "particle_name",
    "energy_spectrum",
    "process",
    "n_events",
    "seed",
    "created_utc",
    "fastshower_version",
)
"""Provenance entries shown in the summary table, where a file has them (all are in the page's
provenance section and in metrics.json)."""


VARIANT_NAMES = {
    "unnormalized": "unnormalized cells",
    "normalized": "cells normalized per layer",
    "high_level": "shower observables and cell spectra",
    "pixels": "pixels",
}
"""Classifier variant -> its name in the page."""


@dataclass
class Sample:
    """One sample: a candidate file, or the reference, which may pool several files."""

    paths: tuple[Path, ...]
    label: str
    colour: str
    n_file: int
    arrays: dict[str, np.ndarray]
    """The events the plots and distances see: a weighted sample's weighted resample."""
    provenances: tuple[dict[str, Any], ...]
    events: dict[str, np.ndarray] = field(default_factory=dict)
    """The file's events, which the classifier test sees with ``weights``."""
    weights: np.ndarray | None = None

    @property
    def where(self) -> str:
        return " + ".join(str(p) for p in self.paths)

    @property
    def effective_events(self) -> float:
        """(sum w)^2 / sum w^2: the weighted sample's worth in unweighted events."""
        if self.weights is None:
            return float(len(next(iter(self.arrays.values()))))
        return effective_sample_size(self.weights)


@dataclass
class ReportFigure:
    section: str
    title: str
    path: Path
    caption: str


@dataclass
class Results:
    classifiers: dict[str, dict[str, list[Judgement]]]
    """candidate label -> variant -> learning curve; its last point is on every event."""
    distances: dict[str, dict[str, dict[str, Any]]]
    """candidate label -> group ("all", or a jet class) -> distances."""
    axis_labels: dict[str, str]
    figures: list[ReportFigure]
    taggers: dict[str, list[TaggerResult]] = field(default_factory=dict)
    """candidate label -> the W/QCD taggers (jets of both classes only)."""
    amplification: dict[str, list[Amplification]] = field(default_factory=dict)
    """candidate label -> its worth in reference events, per observable (when asked for)."""
    position: dict[str, Any] = field(default_factory=dict)
    """Where the reference's incidence points spread (``evaluate.position``): ``edges`` (mm per
    axis), and per candidate label its ``aucs`` (variant -> axis -> bins) and ``profiles``."""


def is_simulation(sample: Sample) -> bool:
    """A candidate made by Geant4 or Pythia rather than by a model: the floor, the AUC and
    distances of two samples of the same physics."""
    return not {"model", "model_config"} & set(sample.provenances[0])


def json_safe(value: Any) -> Any:
    """Plain JSON types; non-finite floats become null."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
