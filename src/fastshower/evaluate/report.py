"""The evaluation report: one reference sample against one or more candidates, in one page.

``evaluate(reference, candidates, out)`` (the ``fastshower evaluate`` command) reads the files,
checks that they can be compared, computes the physics observables, their distances
(``metrics.observable_distances``) and the classifier tests (``classifier.learning_curve``),
draws the comparison plots (``comparison_plots``) and writes into the folder ``out``:

- ``report.html`` (written by ``report_html``): a summary table (per candidate: the
  classifier verdict's AUC with its number of events, the network's and the trees', FPD and
  KPD, sample sizes, where the file came from; a simulated candidate marked as the floor), then
  the plots in sections (learning curves among them), the learning curves, taggers and
  amplification in numbers and the distance of every observable. Self-contained: the images
  are embedded as base64 ``data:`` URIs and the style is inline, so the one file can be mailed
  or attached as it is; no JavaScript;
- ``metrics.json``: every number of the page (AUCs with uncertainties, JSD, distances with
  uncertainties, sample sizes, each file's path and provenance), for scripts;
- ``figures/``: the same plots as PNG files, for slides and papers.

Showers (``SHOWER_SCHEMA``) get three classifier variants (cells, cells normalised to their
layer's energy, and the shower-shape observables with the cells' spectra), the observables of
``observables.calo`` and their profiles against the incident energy; jet images
(``JET_SCHEMA``) get the pixel classifier and the image observables of ``observables.jets``,
per class (``signal`` 1 = W, 0 = QCD), and, where both samples hold both classes, the W/QCD
taggers of ``tagger`` trained on each and tested on the other.

A weighted candidate (a ``weight`` key: ``fastshower generate --refine``) enters the classifier
test with its weights, every distance as a weighted distribution, and the plots as a weighted
resample of its own size; with ``amplification``, each candidate's worth in reference events is
measured per observable.

Each candidate gets one colour, the same in every plot and in the summary table; the reference
is black.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from fastshower import __version__
from fastshower.detector import CALORIMETER
from fastshower.evaluate import position
from fastshower.evaluate.amplification import AMPLIFICATION_BINS, Amplification, amplification
from fastshower.evaluate.classifier import (
    LEARNING_CURVE_SIZES,
    MIN_EVENTS,
    ClassifierConfig,
    Judgement,
    high_level_features,
    image_features,
    learning_curve,
    shower_features,
)
from fastshower.evaluate.comparison_plots import (
    JET_CLASSES,
    candidate_colours,
    jet_class_observables,
    plot_amplification,
    plot_average_jet_image_comparison,
    plot_average_shower_comparison,
    plot_classifier_comparison,
    plot_jet_observable_comparison,
    plot_learning_curves,
    plot_observable_comparison,
    plot_position_aucs,
    plot_profile_comparison,
    plot_tagger_rocs,
)
from fastshower.evaluate.figures import REFERENCE_COLOUR
from fastshower.evaluate.metrics import (
    beyond_reference,
    fpd,
    kpd,
    observable_distances,
    profile_edges,
)
from fastshower.evaluate.report_html import html_page
from fastshower.evaluate.report_model import (
    HIGHLIGHTS,
    VARIANT_NAMES,
    ReportFigure,
    Results,
    Sample,
    is_simulation,
    json_safe,
)
from fastshower.evaluate.tagger import (
    MIN_JETS_PER_CLASS,
    TaggerConfig,
    compare_taggers,
)
from fastshower.io import (
    JET_SCHEMA,
    SHOWER_SCHEMA,
    DatasetError,
    DatasetInfo,
    Schema,
    dataset_info,
    read_dataset,
    schema_of,
)
from fastshower.models.refiner import effective_sample_size
from fastshower.observables.calo import OBSERVABLES, incidence_points, shower_observables
from fastshower.observables.jets import image_observables, pixel_pt_fractions

__all__ = [
    "ENERGY_RANGE_TOLERANCE",
    "HIGHLIGHTS",
    "evaluate",
]

ENERGY_RANGE_TOLERANCE = 0.10
"""Warn when a candidate's lowest or highest incident energy differs from the reference's by
more than this fraction of the reference's range (of its energy, for a fixed energy). Of the
range, not of the lowest energy: the lowest of 100 energies uniform in 1-100 GeV moves by about
1 GeV from sample to sample, 100 % of 1 GeV, while a real mismatch (a model trained on 1-80 GeV,
a file at another fixed energy) moves an end by a large part of the range."""
W_PEAK_GEV = (75.0, 82.0)
"""The W mass peak: the share of jets whose image mass falls in it is quoted per class (the
LAGAN paper's W peak, which a generator that broadens it misses)."""
PIXEL_SPECTRUM = "pixel_pt_fraction"
"""The pixel intensity spectrum's key among the jet distances (not a column of FPD and KPD)."""


_SHOWER_GROUPS = {
    "Energies and depth": [
        *(f"energy_layer_{layer.index}" for layer in CALORIMETER.layers),
        "total_energy",
        "depth",
        "depth_width",
        *(f"fraction_layer_{layer.index}" for layer in CALORIMETER.layers),
    ],
    "Lateral shape": [
        f"{name}_layer_{layer.index}"
        for name in ("centroid_x", "centroid_y", "width_x", "width_y")
        for layer in CALORIMETER.layers
    ],
    "Cells": [
        f"{name}_layer_{layer.index}"
        for name in ("e_ratio", "sparsity", "isolated", "max_cell")
        for layer in CALORIMETER.layers
    ],
}
_PROFILE_KEYS = [
    *(f"energy_layer_{layer.index}" for layer in CALORIMETER.layers),
    "total_energy",
    "depth",
    "depth_width",
    "width_x_layer_1",
    "width_y_layer_1",
    "sparsity_layer_1",
]
_CLASSIFIER_NOTES = {
    "unnormalized": "every cell (log-scaled), log of the incident energy and of each layer's "
    "energy",
    "normalized": "every cell as its share of its layer's energy, plus the log energies: the "
    "network has to find differences in shower shapes",
    "high_level": "the shower-shape observables, energies in log10, and each layer's spectrum of "
    "cell energies (the CaloChallenge's high-level classifier: on a few thousand showers it "
    "sees what the cell-level networks miss)",
    "pixels": "every pixel (log-scaled)",
}


def _weighted(sample: Sample, seed: int) -> Sample:
    """A sample with a ``weight`` key: its events kept, with their weights, for the classifier
    test and the distances, and as many drawn from them with probabilities proportional to
    their weights (seeded) for the plots, which then need no weighted version of their own."""
    if "weight" not in sample.arrays:
        return replace(sample, events=sample.arrays)
    events = dict(sample.arrays)
    weights = np.asarray(events.pop("weight"), dtype=np.float64)
    if not weights.sum() > 0:
        raise DatasetError(f"{sample.where}: every event has weight 0")
    n = len(weights)
    drawn = np.random.default_rng(seed).choice(n, size=n, p=weights / weights.sum())
    return replace(
        sample,
        arrays={k: v[np.sort(drawn)] for k, v in events.items()},
        events=events,
        weights=weights,
    )


def evaluate(
    reference: Path | Sequence[Path],
    candidates: Sequence[Path],
    out: Path,
    *,
    config: ClassifierConfig | None = None,
    max_events: int | None = None,
    seed: int = 0,
    learning_curve_sizes: Sequence[int] = LEARNING_CURVE_SIZES,
    amplification: bool = False,
) -> Path:
    """Compare each candidate file with the reference file; write ``out/report.html``,
    ``out/metrics.json`` and ``out/figures/`` and return the path of the report.

    ``reference``: one file, or several pooled into one sample (W and QCD jets simulated
    apart, say, against a generator's mix of both).
    ``config``: the classifier (CaloFlow's 3 x 512 network and the boosted trees by default);
    its seed is replaced by ``seed``, which also seeds the bootstraps of the distances, so the
    same files and seed give the same numbers. ``max_events``: use only the first that many
    events of each file. ``learning_curve_sizes``: the events per class at which the classifier
    test is repeated below the full sample (empty: only the full sample). ``amplification``:
    also estimate how many reference events each candidate is worth, per observable
    (``evaluate.amplification``).

    Raises ``DatasetError`` (a ``ValueError``) for a missing or unreadable file, files of
    different kinds (showers and jet images) or layouts, an empty file or one with fewer than
    ``MIN_EVENTS`` events (after ``max_events``), before anything is computed or written; warns
    when the incident-energy ranges of shower samples differ by more than 10% of the
    reference's range.
    """
    start = time.perf_counter()
    references = [reference] if isinstance(reference, (str, os.PathLike)) else list(reference)
    if not references:
        raise ValueError("give at least one reference file")
    reference_paths = [Path(r).expanduser().resolve() for r in references]
    candidate_paths = [Path(c).expanduser().resolve() for c in candidates]
    if not candidate_paths:
        raise ValueError("give at least one candidate file to compare with the reference")
    if max_events is not None and max_events < MIN_EVENTS:
        raise ValueError(
            f"max_events={max_events}: the classifier test needs at least {MIN_EVENTS} events "
            "per sample"
        )
    config = replace(config or ClassifierConfig(), seed=seed)

    n_ref = len(reference_paths)
    schema, infos = _check_files([*reference_paths, *candidate_paths], n_ref, max_events)
    ref = _pooled(_read(infos[:n_ref], schema, max_events, REFERENCE_COLOUR))
    if "weight" in ref.arrays:
        raise DatasetError(f"{ref.where}: the reference is weighted; compare against real events")
    ref = replace(ref, events=ref.arrays)
    cands = [_weighted(c, seed) for c in _read(infos[n_ref:], schema, max_events)]
    if schema is SHOWER_SCHEMA:
        _check_energy_ranges(ref, cands)
        _check_position_ranges(ref, cands)

    out = Path(out).expanduser().resolve()
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    if schema is SHOWER_SCHEMA:
        results = _evaluate_showers(ref, cands, figures_dir, config, seed, learning_curve_sizes)
    else:
        results = _evaluate_jets(ref, cands, figures_dir, config, seed, learning_curve_sizes)
    if amplification:
        results.amplification = _amplify(schema, ref, cands, seed)
        results.figures.append(
            ReportFigure(
                "Amplification",
                "What each candidate is worth in reference events",
                plot_amplification(
                    results.amplification,
                    figures_dir / "amplification.png",
                    axis_labels=results.axis_labels,
                    colours={c.label: c.colour for c in cands},
                ),
                "Per observable, the error of its shares in 50 quantile bins against the truth "
                "(half of the reference): for n reference events from the other half (points) "
                "and its law (grey), and for each candidate (lines). Where a line meets the "
                "law is the candidate's worth in reference events.",
            )
        )

    metrics = _metrics(schema, ref, cands, results, config, max_events, seed)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    (out / "metrics.json").write_text(
        json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    report = out / "report.html"
    report.write_text(html_page(schema, ref, cands, results, metrics), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------------------------
# files


def _check_files(
    paths: list[Path], n_references: int, max_events: int | None
) -> tuple[Schema, list[DatasetInfo]]:
    """Schema of all files (the first ``n_references`` pooled into the reference) and their
    metadata, after checking that they can be compared."""
    infos = [dataset_info(path) for path in paths]
    schemas = [schema_of(info) for info in infos]
    ref_info, schema = infos[0], schemas[0]
    for info, other in zip(infos[1:], schemas[1:], strict=True):
        if other is not schema:
            raise DatasetError(
                f"{info.path} holds {other.name!r} data but the reference {ref_info.path} holds "
                f"{schema.name!r}; compare files of one kind"
            )
        for key in schema.keys:
            if key in info.keys and key in ref_info.keys:
                shape, ref_shape = info.keys[key][0], ref_info.keys[key][0]
                if shape != ref_shape:
                    raise DatasetError(
                        f"{info.path}: {key!r} has per-event shape {shape} but the reference's "
                        f"is {ref_shape}; the files come from different detectors or layouts"
                    )
    for info in infos:
        if info.n_events == 0:
            raise DatasetError(f"{info.path}: the file holds no events")
    for sample in [infos[:n_references], *([info] for info in infos[n_references:])]:
        used = sum(min(i.n_events, max_events or i.n_events) for i in sample)
        if used < MIN_EVENTS:
            where = " + ".join(str(i.path) for i in sample)
            raise DatasetError(
                f"{where} holds {sum(i.n_events for i in sample)} events; the classifier test "
                f"needs at least {MIN_EVENTS} per sample"
            )
    return schema, infos


def _labels(paths: Sequence[Path]) -> list[str]:
    """File names, made unique with [k] where two candidates share one."""
    names = [p.name for p in paths]
    return [f"{n} [{i + 1}]" if names.count(n) > 1 else n for i, n in enumerate(names)]


def _read(
    infos: list[DatasetInfo], schema: Schema, max_events: int | None, colour: str | None = None
) -> list[Sample]:
    """One sample per file, in ``colour`` or each in its own candidate colour."""
    labels = _labels([info.path for info in infos])
    colours = candidate_colours(labels)
    samples = []
    for info, label in zip(infos, labels, strict=True):
        stop = info.n_events if max_events is None else min(info.n_events, max_events)
        data = read_dataset(info.path, schema, stop=stop)
        samples.append(
            Sample(
                (info.path,),
                label,
                colour or colours[label],
                info.n_events,
                data.arrays,
                (data.provenance,),
            )
        )
    return samples


def _pooled(samples: list[Sample]) -> Sample:
    """The reference: its files' events one after the other, as one sample."""
    names = " + ".join(s.label for s in samples)
    return Sample(
        tuple(p for s in samples for p in s.paths),
        f"{names} (reference)",
        samples[0].colour,
        sum(s.n_file for s in samples),
        {
            k: np.concatenate([s.arrays[k] for s in samples])
            for k in samples[0].arrays
            if all(k in s.arrays for s in samples)  # an optional key only some files have
        },
        tuple(p for s in samples for p in s.provenances),
    )


def _check_energy_ranges(ref: Sample, cands: list[Sample]) -> None:
    lo, hi = _energy_range(ref)
    allowed = ENERGY_RANGE_TOLERANCE * ((hi - lo) if hi > lo else hi)
    for cand in cands:
        c_lo, c_hi = _energy_range(cand)
        if max(abs(c_lo - lo), abs(c_hi - hi)) > allowed:
            warnings.warn(
                f"{cand.where}: incident energies {c_lo:.4g}-{c_hi:.4g} GeV differ from the "
                f"reference's {lo:.4g}-{hi:.4g} GeV by more than {allowed:.3g} GeV "
                f"({ENERGY_RANGE_TOLERANCE:.0%} of its range): the showers differ for that "
                "reason alone",
                UserWarning,
                stacklevel=3,
            )


def _check_position_ranges(ref: Sample, cands: list[Sample]) -> None:
    """Warn where a candidate's incidence points span another square than the reference's (a
    model of the centre against showers entering anywhere): the classifiers, which see the
    incidence point, then tell the samples apart for that reason alone."""
    ref_points = incidence_points(ref.arrays)
    low, high = ref_points.min(axis=0), ref_points.max(axis=0)
    allowed = np.maximum(ENERGY_RANGE_TOLERANCE * (high - low), position.MIN_SPREAD_MM)
    for cand in cands:
        points = incidence_points(cand.arrays)
        c_low, c_high = points.min(axis=0), points.max(axis=0)
        if (np.abs(c_low - low) > allowed).any() or (np.abs(c_high - high) > allowed).any():
            warnings.warn(
                f"{cand.where}: incidence points x {c_low[0]:.3g} to {c_high[0]:.3g} mm, y "
                f"{c_low[1]:.3g} to {c_high[1]:.3g} mm; the reference's x {low[0]:.3g} to "
                f"{high[0]:.3g} mm, y {low[1]:.3g} to {high[1]:.3g} mm: the showers differ for "
                "that reason alone",
                UserWarning,
                stacklevel=3,
            )


def _energy_range(sample: Sample) -> tuple[float, float]:
    energy = np.asarray(sample.arrays["energy"], dtype=np.float64)
    return float(energy.min()), float(energy.max())


# ---------------------------------------------------------------------------------------------
# computations and plots


class _Common(TypedDict):
    """The keyword arguments every comparison plot of a report is given."""

    reference_label: str
    colours: dict[str, str]


def _distances(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    seed: int,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """``observable_distances``, FPD, KPD and the tails over the observables the reference does
    not hold constant (those cannot be standardised, e.g. the incident energy of a fixed-energy
    sample); ``weights``: a weighted candidate's, which every distance honours."""
    keys = [k for k in reference if k in candidate]
    constant = [k for k in keys if np.all(reference[k] == reference[k][0])]
    used = [k for k in keys if k not in constant]
    if not used or min(len(reference[used[0]]), len(candidate[used[0]])) < 2:
        return {
            "keys": [],
            "excluded_constant": constant,
            "n_reference": len(reference[keys[0]]),
            "n_candidate": len(candidate[keys[0]]),
        }
    ref_used = {k: reference[k] for k in used}
    cand_used = {k: candidate[k] for k in used}
    ref_features = np.column_stack(list(ref_used.values()))
    cand_features = np.column_stack(list(cand_used.values()))
    return {
        **observable_distances(ref_used, cand_used, seed=seed, weights=weights),
        "fpd": fpd(ref_features, cand_features, seed=seed, weights=weights),
        "kpd": kpd(ref_features, cand_features, seed=seed, weights=weights),
        "beyond_reference": beyond_reference(ref_used, cand_used, weights=weights),
        "fpd_observables": used,
        "excluded_constant": constant,
        "n_reference": len(reference[used[0]]),
        "n_candidate": len(candidate[used[0]]),
    }


def _classify(
    ref: Sample,
    cands: list[Sample],
    variants: Mapping[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]],
    config: ClassifierConfig,
    sizes: Sequence[int],
    tags: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None,
) -> dict[str, dict[str, list[Judgement]]]:
    """Every variant's learning curve per candidate; ``tags`` (of a sample's events) are
    handed to the classifier test to read its AUC in bins of them."""
    results: dict[str, dict[str, list[Judgement]]] = {c.label: {} for c in cands}
    for variant, features in variants.items():
        ref_features = features(ref.events)
        for cand in cands:
            results[cand.label][variant] = learning_curve(
                ref_features,
                features(cand.events),
                config,
                sizes,
                cand.weights,
                None if tags is None else (tags(ref.events), tags(cand.events)),
            )
    return results


def _classifier_figures(
    ref: Sample,
    cands: list[Sample],
    classifiers: dict[str, dict[str, list[Judgement]]],
    figures_dir: Path,
    unit: str,
) -> list[ReportFigure]:
    colours = {c.label: c.colour for c in cands}
    figures = [
        ReportFigure(
            "Classifier test",
            "Learning curves",
            plot_learning_curves(
                classifiers,
                figures_dir / "learning-curves.png",
                titles={v: f"Classifier on {VARIANT_NAMES[v]}" for v in VARIANT_NAMES},
                colours=colours,
                unit=unit,
            ),
            f"The classifier test repeated on growing subsamples ({unit} per class): the "
            "verdict (points, with the statistical error of its test split), the network "
            "(dashed) and the boosted trees (dotted). Where the AUC still rises at the largest "
            "N, more events would separate the samples further: the judge has not saturated "
            "and the AUC is a lower bound of how far apart the samples are.",
        )
    ]
    for variant in next(iter(classifiers.values())):
        results = {
            label: by_variant[variant][-1].verdict for label, by_variant in classifiers.items()
        }
        path = plot_classifier_comparison(
            results,
            figures_dir / f"classifier-{variant}.png",
            reference_label=ref.label,
            colours=colours,
            title=f"Classifier on {VARIANT_NAMES[variant]}",
        )
        figures.append(
            ReportFigure(
                "Classifier test",
                f"Classifier on {VARIANT_NAMES[variant]}",
                path,
                f"Inputs: {_CLASSIFIER_NOTES[variant]}. Scores of the verdict's classifier on the "
                "held-out test split "
                "(1 = looks like the reference) and the ROC curves. If the classifier cannot tell "
                "the samples apart, both score distributions peak at 0.5, the ROC curve follows "
                "the diagonal and the AUC is 0.5; an AUC of 1 means it always can.",
            )
        )
    return figures


def _evaluate_showers(
    ref: Sample,
    cands: list[Sample],
    figures_dir: Path,
    config: ClassifierConfig,
    seed: int,
    sizes: Sequence[int],
) -> Results:
    ref_obs = shower_observables(ref.arrays)
    cand_obs = {c.label: shower_observables(c.arrays) for c in cands}
    distances = {
        c.label: {
            "all": _distances(
                ref_obs,
                cand_obs[c.label] if c.weights is None else shower_observables(c.events),
                seed,
                c.weights,
            )
        }
        for c in cands
    }
    variants: dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {
        "unnormalized": partial(shower_features, normalized=False),
        "normalized": partial(shower_features, normalized=True),
        "high_level": high_level_features,
    }
    off_centre = position.spreads(incidence_points(ref.arrays))
    classifiers = _classify(
        ref, cands, variants, config, sizes, incidence_points if off_centre else None
    )

    axis_labels = {k: _capitalised(obs.axis_label) for k, obs in OBSERVABLES.items()}
    common: _Common = {
        "reference_label": ref.label,
        "colours": {c.label: c.colour for c in cands},
    }
    figures = [
        ReportFigure(
            "Average showers",
            "Average shower per layer",
            plot_average_shower_comparison(
                ref.arrays,
                {c.label: c.arrays for c in cands},
                figures_dir / "average-showers.png",
                **common,
            ),
            "Mean energy of every cell, seen from the beam, for the reference and each "
            "candidate (one shared log colour scale), then each candidate's mean cells divided "
            "by the reference's: white where they agree, red where the candidate puts more "
            "energy, blue where it puts less. Cells empty in either sample are left white.",
        )
    ]
    for n, (group, keys) in enumerate(_SHOWER_GROUPS.items()):
        path = plot_observable_comparison(
            ref_obs,
            cand_obs,
            keys,
            figures_dir / f"observables-{n + 1}.png",
            axis_labels=axis_labels,
            title=f"Shower observables: {group.lower()}",
            ylabel="Fraction of showers",
            **common,
        )
        figures.append(
            ReportFigure(
                "Shower observables",
                group,
                path,
                "Normalised distributions (fraction of each sample's showers per bin, with "
                "statistical errors; bins over the reference's range, less its extreme 0.5% on "
                "either side) and the ratio "
                "candidate / reference below each panel.",
            )
        )
    figures.append(
        ReportFigure(
            "Against the incident energy",
            "Profiles against the incident energy",
            plot_profile_comparison(
                ref_obs,
                cand_obs,
                _PROFILE_KEYS,
                figures_dir / "profiles-vs-incident-energy.png",
                axis_labels={k: obs.axis_label for k, obs in OBSERVABLES.items()},
                title="Means in bins of incident energy",
                **common,
            ),
            "Mean of each observable (± its standard error) in bins of the incident energy, and "
            "the ratio of the means candidate / reference. A fixed-energy sample has one bin.",
        )
    )
    figures += _classifier_figures(ref, cands, classifiers, figures_dir, "showers")
    results = Results(classifiers, distances, axis_labels, figures)
    if off_centre:
        _by_position(ref, ref_obs, cand_obs, results, figures_dir, common)
    return results


def _by_position(
    ref: Sample,
    ref_obs: dict[str, np.ndarray],
    cand_obs: dict[str, dict[str, np.ndarray]],
    results: Results,
    figures_dir: Path,
    common: _Common,
) -> None:
    """Profiles against the incidence point and the classifier test in position bins
    (``evaluate.position``), into ``results``."""
    edges = position.position_edges(incidence_points(ref.arrays))
    results.position = {"edges": edges}
    for label, obs in cand_obs.items():
        results.position[label] = {
            "aucs": {
                variant: position.binned_aucs(curve[-1].verdict, edges)
                for variant, curve in results.classifiers[label].items()
            },
            "profiles": {
                axis: position.profile_agreement(
                    ref_obs,
                    obs,
                    position.profile_keys(axis),
                    f"incidence_{axis}",
                    profile_edges(ref_obs[f"incidence_{axis}"]),
                )
                for axis in position.AXES
            },
        }
    for axis in position.AXES:
        results.figures.append(
            ReportFigure(
                "Against the incidence point",
                f"Centroids and widths against the incidence point's {axis}",
                plot_profile_comparison(
                    ref_obs,
                    cand_obs,
                    position.profile_keys(axis),
                    figures_dir / f"profiles-vs-incidence-{axis}.png",
                    x_key=f"incidence_{axis}",
                    x_label=f"Incidence point {axis} [mm]",
                    axis_labels=results.axis_labels,
                    title=f"Means in bins of the incidence point's {axis}",
                    difference=True,
                    **common,
                ),
                f"Each layer's {axis} centroid and width (mean ± its standard error) in bins of "
                f"where the particle entered, and the difference candidate − reference below, "
                "beside the reference's own error (grey). The centroid follows the particle in "
                "steps where the shower is narrower than the layer's cells.",
            )
        )
    results.figures.append(
        ReportFigure(
            "Against the incidence point",
            "Classifier test in bins of the incidence point",
            plot_position_aucs(
                {label: results.position[label]["aucs"] for label in cand_obs},
                {
                    label: {v: curve[-1].verdict.auc for v, curve in by_variant.items()}
                    for label, by_variant in results.classifiers.items()
                },
                figures_dir / "classifier-by-incidence-point.png",
                titles={v: f"Classifier on {VARIANT_NAMES[v]}" for v in VARIANT_NAMES},
                colours=common["colours"],
            ),
            "The verdict's AUC on the held-out events of each bin of the incidence point's x "
            "and y (the same classifier, trained on every position; it sees the incidence point "
            "among its inputs), with its statistical error; the dashed line is its AUC on all "
            "held-out events. A generator as good everywhere as on average stays on the line.",
        )
    )


def _evaluate_jets(
    ref: Sample,
    cands: list[Sample],
    figures_dir: Path,
    config: ClassifierConfig,
    seed: int,
    sizes: Sequence[int],
) -> Results:
    image_obs = {s.label: image_observables(s.arrays["image"]) for s in (ref, *cands)}
    distances: dict[str, dict[str, dict[str, Any]]] = {c.label: {} for c in cands}
    ref_signal = np.asarray(ref.arrays["signal"]).reshape(-1)
    for cand in cands:
        # a weighted candidate: its own events, with their weights
        events = cand.arrays if cand.weights is None else cand.events
        obs = image_obs[cand.label] if cand.weights is None else image_observables(events["image"])
        signal = np.asarray(events["signal"]).reshape(-1)
        for c, name in JET_CLASSES.items():
            rows = signal == c
            if (ref_signal == c).sum() >= 2 and rows.sum() >= 2:
                weights = None if cand.weights is None else cand.weights[rows]
                found = _distances(
                    {k: v[ref_signal == c] for k, v in image_obs[ref.label].items()},
                    {k: v[rows] for k, v in obs.items()},
                    seed,
                    weights,
                )
                found["mass_peak_share"] = {
                    "window_gev": list(W_PEAK_GEV),
                    "reference": _share_in(image_obs[ref.label]["mass"][ref_signal == c]),
                    "candidate": _share_in(obs["mass"][rows], weights),
                }
                distances[cand.label][name] = _with_pixel_spectrum(
                    found,
                    ref.arrays["image"][ref_signal == c],
                    events["image"][rows],
                    seed,
                    weights,
                )
    classifiers = _classify(
        ref, cands, {"pixels": lambda a: image_features(a["image"])}, config, sizes
    )

    axis_labels = {
        "pt": "Jet pT from the image [GeV]",
        "mass": "Jet mass from the image [GeV]",
        **{k: f"{k} from the image" for k in ("tau_1", "tau_2", "tau_3", "tau_21", "tau_32")},
        "delta_r": "ΔR of the two kt subjets",
        "n_pixels": "Hit pixels",
        PIXEL_SPECTRUM: "Pixel pT / jet pT, every hit pixel (not in FPD, KPD)",
    }
    common: _Common = {
        "reference_label": ref.label,
        "colours": {c.label: c.colour for c in cands},
    }
    class_obs = {s.label: jet_class_observables(s.arrays, image_obs[s.label]) for s in cands}
    figures = [
        ReportFigure(
            "Average jet images",
            "Average image per class",
            plot_average_jet_image_comparison(
                ref.arrays,
                {c.label: c.arrays for c in cands},
                figures_dir / "average-jet-images.png",
                **common,
            ),
            "Average pixel pT of W jets (signal = 1) and QCD jets (signal = 0) for each sample, "
            "and the difference W − QCD (red: W jets put more pT there).",
        ),
        ReportFigure(
            "Jet observables",
            "Jet mass and τ21 per class",
            plot_jet_observable_comparison(
                jet_class_observables(ref.arrays, image_obs[ref.label]),
                class_obs,
                figures_dir / "jet-mass-tau21.png",
                **common,
            ),
            "Mass and τ21 computed from the images' pixels (as for generated images) and as "
            "stored in the files, per class, with the ratio candidate / reference.",
        ),
    ]
    figures += _classifier_figures(ref, cands, classifiers, figures_dir, "jets")
    taggers = {
        cand.label: compare_taggers(
            ref.arrays,
            cand.arrays,
            (image_obs[ref.label], image_obs[cand.label]),
            TaggerConfig(seed=seed),
        )
        for cand in cands
        if _has_both_classes(ref) and _has_both_classes(cand)
    }
    if taggers:
        figures.append(
            ReportFigure(
                "W/QCD taggers",
                "Tagger ROC curves",
                plot_tagger_rocs(
                    taggers, figures_dir / "tagger-roc.png", colours=common["colours"]
                ),
                "What jet images are for: a network on the pixels and boosted trees on the "
                "image's mass and τ21, each trained to tell W from QCD jets on half of one "
                "sample and tested on held-out jets (trained → tested). A generator that serves "
                "an analysis gives the reference's curve.",
            )
        )
    return Results(classifiers, distances, axis_labels, figures, taggers)


def _share_in(mass: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """The (weighted) share of jets in the W peak and its binomial error (effective size)."""
    inside = ((mass >= W_PEAK_GEV[0]) & (mass <= W_PEAK_GEV[1])).astype(np.float64)
    share = float(np.average(inside, weights=weights))
    n = len(mass) if weights is None else effective_sample_size(weights)
    return {"value": share, "uncertainty": float(np.sqrt(share * (1 - share) / n))}


def _with_pixel_spectrum(
    found: dict[str, Any],
    reference: np.ndarray,
    candidate: np.ndarray,
    seed: int,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """``found`` with the pixel intensity spectrum's W1 and separation beside the per-jet
    observables' (pixels pooled over jets: not a column of FPD and KPD), from the reference's
    and the candidate's images (each hit pixel weighs as its jet)."""
    ref_pixels, cand_pixels = pixel_pt_fractions(reference), pixel_pt_fractions(candidate)
    if not found["keys"] or min(len(ref_pixels), len(cand_pixels)) < 2:
        return found
    if weights is not None:  # each hit pixel weighs as its jet, in the images' pixel order
        weights = np.repeat(weights, (np.asarray(candidate) > 0).reshape(len(candidate), -1).sum(1))
    spectrum = observable_distances(
        {PIXEL_SPECTRUM: ref_pixels}, {PIXEL_SPECTRUM: cand_pixels}, seed=seed, weights=weights
    )
    return {
        **found,
        "keys": [*found["keys"], PIXEL_SPECTRUM],
        "wasserstein_1": {**found["wasserstein_1"], **spectrum["wasserstein_1"]},
        "separation": {**found["separation"], **spectrum["separation"]},
    }


AMPLIFICATION_OBSERVABLES = {
    SHOWER_SCHEMA.name: (
        "total_energy",
        "fraction_layer_0",
        "fraction_layer_1",
        "depth",
        "width_x_layer_1",
        "sparsity_layer_0",
    ),
    JET_SCHEMA.name: ("mass", "tau_21", "pt"),
}
"""The observables whose worth ``evaluate(amplification=True)`` measures (jets: per class)."""


def _amplify(
    schema: Schema, ref: Sample, cands: list[Sample], seed: int
) -> dict[str, list[Amplification]]:
    """Each candidate's worth in reference events, from its events and weights (not the
    weighted resample the plots use, whose twins would count as information)."""
    keys = AMPLIFICATION_OBSERVABLES[schema.name]

    def observables(events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if schema is SHOWER_SCHEMA:
            return shower_observables(events)
        return image_observables(events["image"])

    def groups(events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Group name (appended to the observable's) -> its rows: all showers, or a jet class."""
        if schema is SHOWER_SCHEMA:
            return {"": np.ones(len(events["energy"]), bool)}
        signal = np.asarray(events["signal"]).reshape(-1)
        return {f", {name}": signal == c for c, name in JET_CLASSES.items()}

    ref_obs, ref_rows = observables(ref.events), groups(ref.events)
    found: dict[str, list[Amplification]] = {}
    for cand in cands:
        cand_obs = observables(cand.events)
        found[cand.label] = []
        for group, rows in groups(cand.events).items():
            if rows.sum() < 2 or ref_rows[group].sum() < 4 * AMPLIFICATION_BINS:
                continue
            weights = None if cand.weights is None else cand.weights[rows]
            found[cand.label] += [
                amplification(
                    f"{key}{group}",
                    ref_obs[key][ref_rows[group]],
                    cand_obs[key][rows],
                    weights=weights,
                    seed=seed,
                )
                for key in keys
            ]
    return found


def _has_both_classes(sample: Sample) -> bool:
    signal = np.asarray(sample.arrays["signal"]).reshape(-1)
    return min((signal == 0).sum(), (signal == 1).sum()) >= MIN_JETS_PER_CLASS


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------------------------
# metrics.json


def _value_error(pair: Sequence[float]) -> dict[str, float]:
    return {"value": float(pair[0]), "uncertainty": float(pair[1])}


def _distance_json(found: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n_reference": found["n_reference"],
        "n_candidate": found["n_candidate"],
        "observables": list(found["keys"]),
        "excluded_constant": list(found["excluded_constant"]),
    }
    if found["keys"]:
        out["fpd"] = _value_error(found["fpd"])
        out["kpd"] = _value_error(found["kpd"])
        out["frechet"] = _value_error(found["frechet"])
        out["wasserstein_1"] = {k: _value_error(v) for k, v in found["wasserstein_1"].items()}
        out["separation"] = {k: float(v) for k, v in found["separation"].items()}
        out["beyond_reference"] = found["beyond_reference"]
    if "mass_peak_share" in found:
        out["mass_peak_share"] = found["mass_peak_share"]
    return out


def _file_json(sample: Sample) -> dict[str, Any]:
    """A pooled reference lists its files' provenances; any other sample has one."""
    provenances = sample.provenances
    return {
        "path": sample.where,
        "label": sample.label,
        "colour": sample.colour,
        "n_events_file": sample.n_file,
        "n_events_used": len(next(iter(sample.arrays.values()))),
        "weighted": sample.weights is not None,
        "effective_events": round(sample.effective_events, 1),
        "provenance": provenances[0] if len(provenances) == 1 else list(provenances),
    }


def _metrics(
    schema: Schema,
    ref: Sample,
    cands: list[Sample],
    results: Results,
    config: ClassifierConfig,
    max_events: int | None,
    seed: int,
) -> dict[str, Any]:
    return {
        "fastshower_version": __version__,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schema": schema.name,
        "seed": seed,
        "max_events": max_events,
        "classifier_config": asdict(config),
        "reference": _file_json(ref),
        "candidates": [
            {
                **_file_json(cand),
                "simulation": is_simulation(cand),
                "classifier": {
                    variant: {
                        **curve[-1].summary(),
                        "learning_curve": [_curve_point(point) for point in curve],
                    }
                    for variant, curve in results.classifiers[cand.label].items()
                },
                "distances": {
                    group: _distance_json(found)
                    for group, found in results.distances[cand.label].items()
                },
                "taggers": [r.summary() for r in results.taggers.get(cand.label, [])],
                "amplification": [a.summary() for a in results.amplification.get(cand.label, [])],
                **({"by_position": results.position[cand.label]} if results.position else {}),
            }
            for cand in cands
        ],
        **({"position_bins_mm": results.position["edges"]} if results.position else {}),
    }


def _curve_point(point: Judgement) -> dict[str, Any]:
    return {
        "n_per_class": point.n_per_class,
        "verdict": point.verdict.method,
        "auc": point.verdict.auc,
        "auc_uncertainty": point.verdict.auc_uncertainty,
        "network_auc": point.network.auc,
        "trees_auc": None if point.trees is None else point.trees.auc,
    }
