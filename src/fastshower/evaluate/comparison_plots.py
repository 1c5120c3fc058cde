"""Reference-versus-candidate plots: the figures of ``fastshower evaluate``'s report.

Every figure compares one reference sample (Geant4, Pythia: drawn in black, a grey-filled
histogram under a black step) with one or more candidate samples (generators: coloured steps,
one colour per candidate in every figure), and most panels carry a ratio panel (candidate /
reference) below. Histograms are ``hist.Hist`` objects normalised to the fraction of each
sample's events, with their statistical errors, drawn with ``mplhep.histplot``; their bins span
the reference's range (less its extreme 0.5% on either side), so a candidate that leaks out of
it shows up as a missing fraction.

Inputs are plain mappings: observables as ``name -> 1-D array`` (``shower_observables``,
``image_observables``), showers and jets in the dataset layout of ``fastshower.io``, classifier
results as ``fastshower.evaluate.classifier.ClassifierResult``. Candidates are mappings
``label -> data``; ``colours`` maps the same labels to colours (``candidate_colours``).
Figures are ``matplotlib.figure.Figure`` objects, never pyplot state, in the house style of
``fastshower.evaluate.figures``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hist
import matplotlib
import mplhep
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.colors import LogNorm, SymLogNorm
from matplotlib.figure import Figure

from fastshower.detector import CALORIMETER
from fastshower.evaluate.figures import REFERENCE_COLOUR, save, style
from fastshower.evaluate.metrics import profile, profile_edges
from fastshower.observables.jets import IMAGE_GRID

__all__ = [
    "CANDIDATE_COLOURS",
    "JET_CLASSES",
    "candidate_colours",
    "jet_class_observables",
    "plot_amplification",
    "plot_average_jet_image_comparison",
    "plot_average_shower_comparison",
    "plot_classifier_comparison",
    "plot_jet_observable_comparison",
    "plot_learning_curves",
    "plot_observable_comparison",
    "plot_profile_comparison",
    "plot_tagger_rocs",
]

CANDIDATE_COLOURS = (
    "tab:red",
    "tab:blue",
    "tab:green",
    "tab:orange",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
)
"""Colours of the candidates, in order (the reference is ``REFERENCE_COLOUR``)."""

JET_CLASSES = {1: "W jets", 0: "QCD jets"}
"""Value of the ``signal`` key -> name of the class."""

_REFERENCE_FILL = "0.85"
_RATIO_LIMITS = (0.0, 2.0)
_TAIL = 0.005  # histogram ranges leave out this fraction of the reference on either side
_RATIO_HEIGHT = 0.33  # of the main panel's
_RATIO_GAP = 0.03
_LOG_DECADES = 6  # colour range of average showers and images
_RATIO_DECADE = 1  # average-shower ratio colours span 10^-1 to 10^1


def _style() -> contextlib.AbstractContextManager[Any]:
    """The house style without minor ticks: these figures have up to some 70 small panels,
    where minor ticks add clutter and double the drawing time."""
    stack = contextlib.ExitStack()
    stack.enter_context(style())
    stack.enter_context(
        matplotlib.rc_context({"xtick.minor.visible": False, "ytick.minor.visible": False})
    )
    return stack


def candidate_colours(labels: Sequence[str]) -> dict[str, str]:
    """One colour per candidate label, in order (cycling after ``len(CANDIDATE_COLOURS)``)."""
    return {label: CANDIDATE_COLOURS[i % len(CANDIDATE_COLOURS)] for i, label in enumerate(labels)}


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _colours(labels: Sequence[str], colours: Mapping[str, str] | None) -> dict[str, str]:
    default = candidate_colours(labels)
    return {label: (colours or {}).get(label, default[label]) for label in labels}


# ---------------------------------------------------------------------------------------------
# histograms of observables


def _reference_axis(values: np.ndarray) -> hist.axis.Regular:
    """About sqrt(N) bins (10 to 50) over the reference's range, less its most extreme
    ``_TAIL`` on either side (a few far outliers would squeeze the bulk into a few bins); a
    narrow range around a constant reference."""
    n_bins = int(np.clip(round(np.sqrt(len(values))), 10, 50))
    low, high = float(values.min()), float(values.max())
    lo, hi = (float(q) for q in np.quantile(values, [_TAIL, 1.0 - _TAIL]))
    pad = 0.05 * (hi - lo)
    lo, hi = max(low, lo - pad), min(high, hi + pad)
    if hi <= lo:
        lo, hi = low, high
    if hi <= lo:
        half = max(0.05 * abs(lo), 0.5)
        lo, hi = lo - half, hi + half
    return hist.axis.Regular(n_bins, lo, np.nextafter(hi, np.inf))  # the maximum stays inside


def _normalised(values: np.ndarray, axis: hist.axis.Regular) -> hist.Hist:
    """Fractions of all events per bin (entries outside the axis count in the total)."""
    h = hist.Hist(axis, storage=hist.storage.Weight())
    h.fill(values, weight=np.full(len(values), 1.0 / max(len(values), 1)))
    return h


def _ratio(candidate: hist.Hist, reference: hist.Hist) -> tuple[np.ndarray, np.ndarray]:
    """candidate / reference per bin and its error (both samples' errors); NaN where the
    reference bin is empty."""
    c, r = candidate.values(), reference.values()
    var_c, var_r = candidate.variances(), reference.variances()
    if var_c is None or var_r is None:  # not Weight storage (_normalised's): what sqrt would raise
        raise TypeError("the histograms need a storage with variances")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r > 0, c / r, np.nan)
        rel_c = np.where(c > 0, np.sqrt(var_c) / c, 0.0)
        rel_r = np.where(r > 0, np.sqrt(var_r) / r, 0.0)
    return ratio, np.abs(ratio) * np.hypot(rel_c, rel_r)


def _draw_reference(ax: Axes, h: hist.Hist, label: str) -> None:
    mplhep.histplot(h, ax=ax, histtype="fill", color=_REFERENCE_FILL, flow="none")
    _draw_step(ax, h, REFERENCE_COLOUR, label)


def _draw_step(ax: Axes, h: hist.Hist, colour: str, label: str) -> None:
    """A step histogram with error bars: how every sample is drawn."""
    mplhep.histplot(h, ax=ax, histtype="step", yerr=True, color=colour, flow="none", label=label)


def _draw_ratio_points(
    ax: Axes,
    centres: np.ndarray,
    ratio: np.ndarray,
    error: np.ndarray,
    colour: str,
    half_widths: np.ndarray | None = None,
) -> None:
    ok = np.isfinite(ratio)
    xerr = None if half_widths is None else half_widths[ok]
    ax.errorbar(
        centres[ok], ratio[ok], yerr=error[ok], xerr=xerr, fmt="o", ms=3, lw=1, color=colour
    )


def _style_ratio_axis(ax: Axes, xlabel: str, limits: tuple[float, float] = _RATIO_LIMITS) -> None:
    ax.axhline(1.0, color=REFERENCE_COLOUR, lw=1, ls="--")
    lo, hi = limits
    ax.set_ylim(lo, hi)
    ax.set_yticks([lo + (hi - lo) / 4, (lo + hi) / 2, hi - (hi - lo) / 4])  # clear of the edges
    ax.set_ylabel("Cand./ref.", fontsize="small")
    ax.set_xlabel(xlabel)


def _panel_pair(fig: Figure, cell: Any) -> tuple[Axes, Axes]:
    """A main panel and a ratio panel a third its height just below it, sharing x, in one grid
    cell. The ratio panel is an inset of the main one, so the layout keeps the two together
    (as separate subplots, constrained layout would leave room between them for the tick
    labels at their edges)."""
    main = fig.add_subplot(cell)
    ratio = main.inset_axes((0.0, -_RATIO_HEIGHT - _RATIO_GAP, 1.0, _RATIO_HEIGHT), sharex=main)
    main.tick_params(labelbottom=False)
    return main, ratio


def _grid(fig: Figure, n_panels: int, n_cols: int) -> list[Any]:
    n_cols = max(1, min(n_cols, n_panels))
    n_rows = -(-n_panels // n_cols)
    grid = fig.add_gridspec(n_rows, n_cols)
    return [grid[k // n_cols, k % n_cols] for k in range(n_panels)]


def plot_observable_comparison(
    reference: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, np.ndarray]],
    keys: Sequence[str],
    path: str | os.PathLike[str],
    *,
    axis_labels: Mapping[str, str] | None = None,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
    n_cols: int = 3,
    title: str | None = None,
    ylabel: str = "Fraction of events",
) -> Path:
    """Normalised distributions of ``keys``, one panel each with a ratio panel below.

    Bins span the reference's range, less its extreme 0.5% on either side (about sqrt(N) bins,
    10 to 50); entries outside count in the fractions but are not drawn. A candidate lacking a
    key (or with no value) is left out of that panel, and a key the reference lacks is skipped.
    """
    keys = [k for k in keys if k in reference and len(reference[k])]
    if not keys:
        raise ValueError("none of the requested observables is in the reference")
    colour_of = _colours(list(candidates), colours)
    axis_labels = axis_labels or {}
    with _style():
        n = min(n_cols, len(keys))
        fig = Figure(figsize=(5.8 * n, 5.6 * -(-len(keys) // n)), layout="constrained")
        for cell, key in zip(_grid(fig, len(keys), n_cols), keys, strict=True):
            main, ratio_ax = _panel_pair(fig, cell)
            ref_values = np.asarray(reference[key], dtype=np.float64).reshape(-1)
            axis = _reference_axis(ref_values)
            ref_h = _normalised(ref_values, axis)
            _draw_reference(main, ref_h, f"{reference_label} ({len(ref_values)})")
            for label, sample in candidates.items():
                if key not in sample or not len(sample[key]):
                    continue
                values = np.asarray(sample[key], dtype=np.float64).reshape(-1)
                h = _normalised(values, axis)
                _draw_step(main, h, colour_of[label], f"{label} ({len(values)})")
                ratio, error = _ratio(h, ref_h)
                _draw_ratio_points(ratio_ax, axis.centers, ratio, error, colour_of[label])
            main.set_xlabel("")  # mplhep names it after the hist axis; the ratio axis has it
            main.set_ylabel(ylabel, fontsize="small")
            main.set_ylim(0, main.get_ylim()[1] * 1.35)  # room for the legend
            main.set_xlim(axis.edges[0], axis.edges[-1])
            main.legend(loc="upper right", fontsize="x-small")
            _style_ratio_axis(ratio_ax, axis_labels.get(key, key))
        if title:
            fig.suptitle(title)
        return save(fig, path)


# ---------------------------------------------------------------------------------------------
# profiles against the incident energy


def plot_profile_comparison(
    reference: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, np.ndarray]],
    keys: Sequence[str],
    path: str | os.PathLike[str],
    *,
    x_key: str = "incident_energy",
    x_label: str = "Incident energy [GeV]",
    axis_labels: Mapping[str, str] | None = None,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
    n_cols: int = 3,
    title: str | None = None,
    difference: bool = False,
) -> Path:
    """Mean of each observable (± its standard error) in bins of ``x_key`` (the incident
    energy), with the ratio of the means (candidate / reference) below, or with ``difference``
    the difference candidate - reference beside a grey band of the reference's own error (for
    observables around 0, such as a centroid against the incidence point).

    Bins (about sqrt(N), at most 20) span the reference's ``x_key`` range; bins with fewer than
    two events of a sample show no point for it.
    """
    keys = [k for k in keys if k in reference]
    if not keys or x_key not in reference:
        raise ValueError(f"the reference needs {x_key!r} and at least one of {list(keys)}")
    colour_of = _colours(list(candidates), colours)
    axis_labels = axis_labels or {}
    edges = profile_edges(reference[x_key])
    centres, half_widths = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    with _style():
        n = min(n_cols, len(keys))
        fig = Figure(figsize=(5.8 * n, 5.6 * -(-len(keys) // n)), layout="constrained")
        for cell, key in zip(_grid(fig, len(keys), n_cols), keys, strict=True):
            main, ratio_ax = _panel_pair(fig, cell)
            samples = {reference_label: reference, **candidates}
            profiles = {}
            for label, sample in samples.items():
                if key not in sample or x_key not in sample:
                    continue
                x = np.asarray(sample[x_key], dtype=np.float64).reshape(-1)
                profiles[label] = profile(x, sample[key], edges)
            ref_mean, ref_error = profiles[reference_label]
            main.errorbar(
                centres,
                ref_mean,
                yerr=ref_error,
                xerr=half_widths,
                fmt="s",
                ms=6,
                color=REFERENCE_COLOUR,
                label=reference_label,
            )
            for k, label in enumerate(candidates):
                if label not in profiles:
                    continue
                # side by side in the bin, right of the reference, so that the errors stay visible
                x = centres + 0.6 * half_widths * (k + 1) / len(candidates)
                mean, error = profiles[label]
                main.errorbar(
                    x, mean, yerr=error, fmt="o", ms=5, color=colour_of[label], label=label
                )
                if difference:
                    _draw_ratio_points(
                        ratio_ax, x, mean - ref_mean, np.hypot(error, ref_error), colour_of[label]
                    )
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(ref_mean != 0, mean / ref_mean, np.nan)
                    error = np.abs(ratio) * np.hypot(error / mean, ref_error / ref_mean)
                _draw_ratio_points(ratio_ax, x, ratio, error, colour_of[label])
            main.set_title(_capitalised(axis_labels.get(key, key)), fontsize="small")
            main.set_ylabel("Mean per bin ± s.e.", fontsize="small")
            main.set_xlim(edges[0], edges[-1])
            main.legend(loc="best", fontsize="x-small")
            if difference:
                ratio_ax.fill_between(
                    centres, -ref_error, ref_error, step="mid", color="0.85", lw=0
                )
                ratio_ax.axhline(0.0, color=REFERENCE_COLOUR, lw=1, ls="--")
                ratio_ax.set_ylabel("Cand. - ref.", fontsize="small")
                ratio_ax.set_xlabel(x_label)
            else:
                _style_ratio_axis(ratio_ax, x_label, (0.5, 1.5))  # means vary less than bins do
        if title:
            fig.suptitle(title)
        return save(fig, path)


# ---------------------------------------------------------------------------------------------
# average showers


def plot_average_shower_comparison(
    reference: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
) -> Path:
    """Mean cell energy of every layer (one column per layer) for the reference and each
    candidate (one row each, one shared log colour scale in MeV), then one row per candidate
    with the ratio of its mean cells to the reference's (log scale 1/10 to 10, white = equal;
    cells empty in either sample are left out).

    As ``plots.plot_average_shower``: panels in mm over the same 480 mm square, equal aspect.
    """
    samples = {reference_label: reference, **candidates}
    colour_of = {reference_label: REFERENCE_COLOUR, **_colours(list(candidates), colours)}
    means = {
        label: [np.asarray(s[layer.key], np.float64).mean(axis=0) for layer in CALORIMETER.layers]
        for label, s in samples.items()
    }
    positive = np.concatenate([m[m > 0] for ms in means.values() for m in ms])
    vmax = float(positive.max()) if positive.size else 1.0
    vmin = max(float(positive.min()), vmax * 10.0**-_LOG_DECADES) if positive.size else vmax / 10
    energy_norm = LogNorm(vmin=vmin, vmax=vmax)
    ratio_norm = LogNorm(vmin=10.0**-_RATIO_DECADE, vmax=10.0**_RATIO_DECADE)
    energy_cmap = colormaps["viridis"].with_extremes(bad="white")
    ratio_cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    n_layers = len(CALORIMETER.layers)
    rows = [(label, False) for label in samples] + [(label, True) for label in candidates]
    with _style():
        fig = Figure(figsize=(5.2 * n_layers + 2.2, 4.9 * len(rows)), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), n_layers, sharex=True, sharey=True))
        energy_mesh: QuadMesh | None = None
        ratio_mesh: QuadMesh | None = None  # stays None without candidates: no ratio rows
        for row, (label, is_ratio) in zip(axes, rows, strict=True):
            for ax, layer, mean in zip(row, CALORIMETER.layers, means[label], strict=True):
                if is_ratio:
                    ref = means[reference_label][layer.index]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        shown = np.ma.masked_invalid(
                            np.where((ref > 0) & (mean > 0), mean / ref, np.nan)
                        )
                    norm, cmap = ratio_norm, ratio_cmap
                    what = f"{label} / reference"
                else:
                    shown = np.ma.masked_less_equal(mean, 0)
                    norm, cmap = energy_norm, energy_cmap
                    what = f"{label}: mean {mean.sum() / 1000:.3g} GeV"
                mesh = ax.pcolormesh(
                    layer.x_edges_mm, layer.y_edges_mm, shown.T, norm=norm, cmap=cmap
                )
                if is_ratio:
                    ratio_mesh = mesh
                else:
                    energy_mesh = mesh
                ax.set_aspect("equal")
                ax.set_title(
                    f"Layer {layer.index} — {what}", fontsize="x-small", color=colour_of[label]
                )
            row[0].set_ylabel("y [mm]")
        for ax in axes[-1]:
            ax.set_xlabel("x [mm]")
        n_plain = len(samples)
        if energy_mesh is not None:  # always: the reference's row
            fig.colorbar(
                energy_mesh,
                ax=axes[:n_plain].ravel().tolist(),
                extend="min",
                shrink=0.9,
                label="Mean cell energy [MeV]",
            )
        if ratio_mesh is not None:
            fig.colorbar(
                ratio_mesh,
                ax=axes[n_plain:].ravel().tolist(),
                extend="both",
                shrink=0.9,
                label="Candidate / reference",
            )
        counts = ", ".join(
            f"{label}: {len(s[CALORIMETER.layers[0].key])}" for label, s in samples.items()
        )
        fig.suptitle(f"Average showers ({counts} showers)", fontsize="medium")
        return save(fig, path)


# ---------------------------------------------------------------------------------------------
# classifier


def plot_classifier_comparison(
    results: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
    n_cols: int = 3,
) -> Path:
    """For each candidate (a ``ClassifierResult``), the classifier's scores on the test split
    for the reference (black) and the candidate (its colour); a last panel with every
    candidate's ROC curve and AUC. Identical samples give overlapping scores around 0.5 and an
    ROC curve on the diagonal."""
    if not results:
        raise ValueError("no classifier results to plot")
    colour_of = _colours(list(results), colours)
    score_axis = hist.axis.Regular(25, 0.0, 1.0 + 1e-9)
    n_panels = len(results) + 1
    with _style():
        n = min(n_cols, n_panels)
        fig = Figure(figsize=(5.8 * n, 5.2 * -(-n_panels // n)), layout="constrained")
        cells = _grid(fig, n_panels, n_cols)
        for cell, (label, result) in zip(cells, results.items(), strict=False):
            ax = fig.add_subplot(cell)
            ref_h = _normalised(np.asarray(result.reference_scores), score_axis)
            _draw_reference(ax, ref_h, f"{reference_label} ({len(result.reference_scores)})")
            h = _normalised(np.asarray(result.candidate_scores), score_axis)
            _draw_step(ax, h, colour_of[label], f"{label} ({len(result.candidate_scores)})")
            ax.set_xlabel("Classifier score (1 = reference-like)", fontsize="small")
            ax.set_ylabel("Fraction of test events", fontsize="small")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
            ax.set_title(
                f"{label}: AUC {result.auc:.3f} ± {result.auc_uncertainty:.3f}",
                fontsize="small",
                color=colour_of[label],
            )
            ax.legend(loc="upper left", fontsize="x-small")
        roc = fig.add_subplot(cells[-1])
        roc.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="no separation (AUC 0.5)")
        for label, result in results.items():
            fpr, tpr = _roc(result.reference_scores, result.candidate_scores)
            roc.plot(fpr, tpr, color=colour_of[label], lw=2, label=f"{label}: AUC {result.auc:.3f}")
        roc.set(xlim=(0, 1), ylim=(0, 1.02), aspect="equal")
        roc.set_xlabel("Candidate events passing the cut", fontsize="small")
        roc.set_ylabel("Reference events passing the cut", fontsize="small")
        roc.set_title("ROC curves (test split)", fontsize="small")
        roc.legend(loc="lower right", fontsize="x-small")
        if title:
            fig.suptitle(title)
        return save(fig, path)


def _roc(reference_scores: np.ndarray, candidate_scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """(candidate efficiency, reference efficiency) of a cut ``score >= t``; the reference is
    the positive class, as in the classifier test."""
    from sklearn.metrics import roc_curve

    labels = np.r_[np.ones(len(reference_scores)), np.zeros(len(candidate_scores))]
    fpr, tpr, _ = roc_curve(labels, np.r_[reference_scores, candidate_scores])
    return fpr, tpr


def plot_learning_curves(
    curves: Mapping[str, Mapping[str, Sequence[Any]]],
    path: str | os.PathLike[str],
    *,
    titles: Mapping[str, str],
    colours: Mapping[str, str] | None = None,
    unit: str = "events",
) -> Path:
    """One panel per classifier variant: each candidate's AUC against the number of events per
    class (``Judgement`` lists, smallest N first), the network as a dashed line, the boosted
    trees dotted, the verdict as points with their errors. An AUC still rising at the largest N
    says the judge has not saturated: more events would separate the samples further."""
    labels = list(curves)
    variants = list(next(iter(curves.values())))
    colour_of = _colours(labels, colours)
    with _style():
        fig = Figure(figsize=(5.6 * len(variants), 4.6), layout="constrained")
        axes = fig.subplots(1, len(variants), squeeze=False)[0]
        for ax, variant in zip(axes, variants, strict=True):
            ax.axhline(0.5, color="0.5", ls="--", lw=1)
            for label in labels:
                points = curves[label][variant]
                n = [p.n_per_class for p in points]
                colour = colour_of[label]
                ax.plot(n, [p.network.auc for p in points], color=colour, ls="--", lw=1)
                if all(p.trees is not None for p in points):
                    ax.plot(n, [p.trees.auc for p in points], color=colour, ls=":", lw=1)
                ax.errorbar(
                    n,
                    [p.verdict.auc for p in points],
                    yerr=[p.verdict.auc_uncertainty for p in points],
                    color=colour,
                    marker="o",
                    ls="-",
                    lw=1.5,
                    capsize=2,
                    label=label,
                )
            ax.set_xscale("log")
            ax.set_ylim(0.4, 1.02)
            ax.set_xlabel(f"{_capitalised(unit)} per class", fontsize="small")
            ax.set_ylabel("AUC (held-out events)", fontsize="small")
            ax.set_title(titles.get(variant, variant), fontsize="small")
        axes[0].legend(loc="upper left", fontsize="x-small")
        fig.suptitle("Learning curves: verdict (points), network (dashed), boosted trees (dotted)")
        return save(fig, path)


def plot_position_aucs(
    aucs: Mapping[str, Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]]],
    overall: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike[str],
    *,
    titles: Mapping[str, str],
    colours: Mapping[str, str] | None = None,
) -> Path:
    """The classifier test in bins of the incidence point: one row per classifier variant, one
    column per axis (x, y); each candidate's AUC per bin (``position.binned_aucs``) with its
    error, and its AUC on all held-out events (``overall``: label -> variant -> AUC) dashed."""
    labels = list(aucs)
    variants = list(next(iter(aucs.values())))
    axes_names = list(next(iter(next(iter(aucs.values())).values())))
    colour_of = _colours(labels, colours)
    with _style():
        fig = Figure(figsize=(5.6 * len(axes_names), 4.2 * len(variants)), layout="constrained")
        grid = fig.subplots(len(variants), len(axes_names), squeeze=False)
        for row, variant in zip(grid, variants, strict=True):
            for ax, axis in zip(row, axes_names, strict=True):
                ax.axhline(0.5, color="0.5", ls=":", lw=1)
                for k, label in enumerate(labels):
                    bins = aucs[label][variant][axis]
                    low = np.array([b["low_mm"] for b in bins])
                    high = np.array([b["high_mm"] for b in bins])
                    shift = 0.25 * (high - low) * (k + 1) / (len(labels) + 1)
                    ax.errorbar(
                        0.5 * (low + high) + shift - 0.125 * (high - low),
                        [b["auc"] for b in bins],
                        yerr=[b["auc_uncertainty"] for b in bins],
                        color=colour_of[label],
                        marker="o",
                        ls="none",
                        capsize=2,
                        label=label,
                    )
                    ax.axhline(overall[label][variant], color=colour_of[label], ls="--", lw=1)
                ax.set_ylim(0.4, 1.02)
                ax.set_xlabel(f"Incidence point {axis} [mm]", fontsize="small")
                ax.set_ylabel("AUC (held-out events)", fontsize="small")
                ax.set_title(titles.get(variant, variant), fontsize="small")
        grid[0][0].legend(loc="upper left", fontsize="x-small")
        fig.suptitle("Classifier test in bins of the incidence point")
        return save(fig, path)


# ---------------------------------------------------------------------------------------------
# jet images


def _class_means(arrays: Mapping[str, np.ndarray]) -> dict[int, np.ndarray | None]:
    images = np.asarray(arrays["image"], dtype=np.float64)
    signal = np.asarray(arrays["signal"]).reshape(-1)
    return {
        c: images[signal == c].mean(axis=0) if np.any(signal == c) else None for c in JET_CLASSES
    }


def plot_average_jet_image_comparison(
    reference: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
) -> Path:
    """One row per sample (reference first): the average image of W jets and of QCD jets
    (``signal`` 1 and 0; pixel pT, one shared log colour scale) and their difference W − QCD
    (symmetric log scale: red where W jets put more pT, blue where QCD jets do)."""
    samples = {reference_label: reference, **candidates}
    colour_of = {reference_label: REFERENCE_COLOUR, **_colours(list(candidates), colours)}
    means = {label: _class_means(s) for label, s in samples.items()}
    tops = [m.max() for ms in means.values() for m in ms.values() if m is not None and m.size]
    top = max([t for t in tops if t > 0], default=1.0)
    norm = LogNorm(vmin=top * 10.0**-_LOG_DECADES, vmax=top)
    diff_norm = SymLogNorm(linthresh=top * 1e-3, vmin=-top, vmax=top, base=10)
    cmap = colormaps["viridis"].with_extremes(bad="white")
    h = IMAGE_GRID.half_width
    extent = (-h, h, -h, h)
    with _style():
        fig = Figure(figsize=(19, 5.4 * len(samples)), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(samples), 3, sharex=True, sharey=True))
        mesh = diff_mesh = None
        for row, (label, class_means) in zip(axes, means.items(), strict=True):
            for ax, (c, name) in zip(row[:2], JET_CLASSES.items(), strict=True):
                mean = class_means[c]
                if mean is None:
                    ax.text(0, 0, f"no {name}", ha="center", va="center")
                    continue
                shown = np.ma.masked_less_equal(mean, 0)
                mesh = ax.imshow(shown, extent=extent, norm=norm, cmap=cmap)
                ax.set_title(f"{label}: {name}", fontsize="x-small", color=colour_of[label])
            w, qcd = class_means[1], class_means[0]
            if w is not None and qcd is not None:
                diff_mesh = row[2].imshow(w - qcd, extent=extent, norm=diff_norm, cmap="RdBu_r")
            else:
                row[2].text(0, 0, "needs both classes", ha="center", va="center")
            row[2].set_title(f"{label}: W − QCD", fontsize="x-small", color=colour_of[label])
            row[0].set_ylabel(r"$y$ (rotated $\phi$)")
        for ax in axes[-1]:
            ax.set_xlabel(r"$x$ (rotated $\eta$)")
        if mesh is not None:
            fig.colorbar(
                mesh,
                ax=axes[:, :2].ravel().tolist(),
                location="left",
                shrink=0.8,
                label=r"Average pixel $p_T$ [GeV]",
            )
        if diff_mesh is not None:
            fig.colorbar(
                diff_mesh,
                ax=axes[:, 2].tolist(),
                shrink=0.8,
                label=r"W − QCD average pixel $p_T$ [GeV]",
            )
        return save(fig, path)


_JET_OBSERVABLES = (
    ("image_mass", "Jet mass from the image [GeV]"),
    ("image_tau_21", r"$\tau_{21}$ from the image"),
    ("jet_mass", "Trimmed jet mass (stored) [GeV]"),
    ("tau_21", r"$\tau_{21}$ (stored)"),
)


def jet_class_observables(
    arrays: Mapping[str, np.ndarray], image_observables: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Mass and tau_21 per class, keyed ``"<observable> <class>"``: from the images
    (``image_observables``' ``mass`` and ``tau_21``, as ``image_mass`` and ``image_tau_21``) and
    the stored ``jet_mass`` and ``tau_21`` where ``arrays`` has them."""
    signal = np.asarray(arrays["signal"]).reshape(-1)
    columns = {"image_mass": image_observables["mass"], "image_tau_21": image_observables["tau_21"]}
    columns.update({k: arrays[k] for k in ("jet_mass", "tau_21") if k in arrays})
    return {
        f"{key} {name}": np.asarray(values, dtype=np.float64).reshape(-1)[signal == c]
        for c, name in JET_CLASSES.items()
        for key, values in columns.items()
    }


def plot_jet_observable_comparison(
    reference: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    reference_label: str = "Reference",
    colours: Mapping[str, str] | None = None,
) -> Path:
    """Jet mass and tau_21 of W jets (top row) and QCD jets (bottom row), from the images and as
    stored, with ratio panels; samples are ``jet_class_observables`` mappings."""
    keys, labels = [], {}
    for name in JET_CLASSES.values():
        for key, label in _JET_OBSERVABLES:
            if f"{key} {name}" in reference and len(reference[f"{key} {name}"]) > 0:
                keys.append(f"{key} {name}")
                labels[f"{key} {name}"] = f"{label}, {name}"
    return plot_observable_comparison(
        reference,
        candidates,
        keys,
        path,
        axis_labels=labels,
        reference_label=reference_label,
        colours=colours,
        n_cols=len(_JET_OBSERVABLES),
        ylabel="Fraction of the class's jets",
    )


def plot_tagger_rocs(
    results: Mapping[str, Sequence[Any]],
    path: str | os.PathLike[str],
    *,
    colours: Mapping[str, str] | None = None,
) -> Path:
    """The W/QCD taggers' ROC curves as the field draws them: QCD rejection (1 / its
    efficiency, log scale) against W efficiency; one panel per tagger. ``results``: candidate
    label -> its ``TaggerResult`` list. Black: trained and tested on the reference; solid in the
    candidate's colour: trained on the reference, tested on the candidate; dashed: trained on
    the candidate, tested on the reference. A generator that serves lies on the black line."""
    labels = list(results)
    colour_of = _colours(labels, colours)
    taggers = list(dict.fromkeys(r.features for rs in results.values() for r in rs))
    with _style():
        fig = Figure(figsize=(6.2 * len(taggers), 5.4), layout="constrained")
        axes = fig.subplots(1, len(taggers), squeeze=False)[0]
        for ax, tagger in zip(axes, taggers, strict=True):
            drawn_reference = False
            for label in labels:
                for r in (r for r in results[label] if r.features == tagger):
                    for tested, (w_eff, qcd_eff) in r.roc.items():
                        auc = r.auc[tested][0]
                        keep = qcd_eff > 0
                        if r.trained_on == "reference" and tested == "reference":
                            if drawn_reference:
                                continue
                            drawn_reference = True
                            style_kw = {"color": REFERENCE_COLOUR, "ls": "-"}
                            text = f"reference → reference: AUC {auc:.3f}"
                        elif r.trained_on == "reference":
                            style_kw = {"color": colour_of[label], "ls": "-"}
                            text = f"reference → {label}: AUC {auc:.3f}"
                        else:
                            style_kw = {"color": colour_of[label], "ls": "--"}
                            text = f"{label} → reference: AUC {auc:.3f}"
                        ax.plot(w_eff[keep], 1 / qcd_eff[keep], lw=2, label=text, **style_kw)
            ax.set_yscale("log")
            ax.set_xlim(0, 1)
            ax.set_xlabel("W jet efficiency", fontsize="small")
            ax.set_ylabel("QCD jet rejection (1 / efficiency)", fontsize="small")
            ax.set_title(f"Tagger on {tagger} (trained → tested)", fontsize="small")
            ax.legend(loc="lower left", fontsize="x-small")
        return save(fig, path)


def plot_amplification(
    results: Mapping[str, Sequence[Any]],
    path: str | os.PathLike[str],
    *,
    axis_labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> Path:
    """One panel per observable: the error of simulated subsamples of n events against the
    truth (black points) and its law c (1/n + 1/m) (grey), and each candidate's error as a
    horizontal line in its colour, which meets the law at the candidate's worth in simulated
    events. ``results``: candidate label -> its ``Amplification`` list."""
    labels = list(results)
    colour_of = _colours(labels, colours)
    observables = list(dict.fromkeys(a.observable for rs in results.values() for a in rs))
    with _style():
        n_cols = min(3, len(observables))
        n_rows = -(-len(observables) // n_cols)
        fig = Figure(figsize=(5.8 * n_cols, 4.8 * n_rows), layout="constrained")
        axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
        for ax, observable in zip(axes, observables, strict=False):
            first = next(a for rs in results.values() for a in rs if a.observable == observable)
            sizes = np.asarray(first.sizes, dtype=np.float64)
            m = first.slope / first.floor
            grid = np.geomspace(sizes[0], max(sizes[-1], 10 * m), 100)
            ax.plot(
                grid, first.slope * (1 / grid + 1 / m), color="0.6", lw=1.5, label="c (1/n + 1/m)"
            )
            ax.plot(
                sizes,
                first.errors,
                "o",
                color=REFERENCE_COLOUR,
                label="n reference events",
            )
            for label in labels:
                for a in (a for a in results[label] if a.observable == observable):
                    worth = (
                        f"worth {a.equivalent_events:,.0f}"
                        if a.equivalent_events is not None
                        else "beyond the resolution"
                    )
                    ax.axhline(
                        a.candidate_error, color=colour_of[label], lw=2, label=f"{label}: {worth}"
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("Simulated events n", fontsize="small")
            ax.set_ylabel("Error of the binned shares", fontsize="small")
            ax.set_title((axis_labels or {}).get(observable, observable), fontsize="small")
            ax.legend(loc="upper right", fontsize="x-small")
        for ax in axes[len(observables) :]:
            ax.set_visible(False)
        return save(fig, path)
