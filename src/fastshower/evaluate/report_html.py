"""The evaluation report's page: ``report.html``, self-contained (images as base64 ``data:``
URIs, inline style, no JavaScript), from what ``report`` computed."""

from __future__ import annotations

import base64
import html
import itertools
import json
from collections.abc import Mapping
from typing import Any

from matplotlib.colors import to_hex

from fastshower import __version__
from fastshower.evaluate.figures import REFERENCE_COLOUR
from fastshower.evaluate.report_model import (
    HIGHLIGHTS,
    VARIANT_NAMES,
    ReportFigure,
    Results,
    Sample,
    is_simulation,
    json_safe,
)
from fastshower.io import SHOWER_SCHEMA, Schema

__all__ = ["html_page"]


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1300px; padding: 0 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.35em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.1em; }
.meta { color: #555; font-size: 0.95em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.93em; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px;
          vertical-align: -0.1em; margin-right: 0.4em; border: 1px solid #0003; }
.small { color: #555; font-size: 0.85em; }
figure { margin: 1.2em 0 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.92em; max-width: 70em; margin-top: 0.4em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
details { margin: 0.5em 0; }
ul.prov { margin: 0; padding-left: 1.1em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{to_hex(colour)}"></span>'


def _pm(value: float, error: float, digits: int = 3) -> str:
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _short(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _highlights(provenance: Mapping[str, Any]) -> str:
    if not provenance:
        return '<span class="small">no provenance (a published file)</span>'
    items = [
        f"<li>{_e(key)}: {_e(_short(provenance[key]))}</li>"
        for key in HIGHLIGHTS
        if key in provenance
    ]
    return f'<ul class="prov">{"".join(items)}</ul>' if items else "—"


def _summary_table(
    ref: Sample, cands: list[Sample], results: Results, metrics: Mapping[str, Any]
) -> str:
    variants = list(next(iter(results.classifiers.values())))
    groups = list(dict.fromkeys(g for by_group in results.distances.values() for g in by_group))
    unit = "showers" if ref.arrays.get("image") is None else "jets"
    head = ["Sample", "Events used"]
    head += [f"AUC, {VARIANT_NAMES[v]}" for v in variants]
    head += [f"FPD / KPD{'' if g == 'all' else f', {g}'}" for g in groups]
    head += ["Provenance"]
    rows = []
    ref_json = metrics["reference"]
    rows.append(
        "<tr>"
        f"<td>{_swatch(REFERENCE_COLOUR)}<b>{_e(ref.label)}</b>"
        f'<br><span class="small">{_e(ref.where)}</span></td>'
        f'<td class="num">{ref_json["n_events_used"]} of {ref.n_file}</td>'
        + "<td>—</td>" * (len(variants) + len(groups))
        + f"<td>{''.join(_highlights(p) for p in ref.provenances)}</td></tr>"
    )
    for cand, cand_json in zip(cands, metrics["candidates"], strict=True):
        floor = " (simulation: the floor)" if is_simulation(cand) else ""
        cells = [
            f"<td>{_swatch(cand.colour)}<b>{_e(cand.label)}</b>{_e(floor)}"
            f'<br><span class="small">{_e(cand.where)}</span></td>',
            f'<td class="num">{cand_json["n_events_used"]} of {cand.n_file}'
            f"{_weight_note(cand)}</td>",
        ]
        for variant in variants:
            judgement = results.classifiers[cand.label][variant][-1]
            r = judgement.verdict
            others = [x for x in (judgement.network, judgement.trees) if x is not None]
            detail = "; ".join(f"{x.method} {_pm(x.auc, x.auc_uncertainty)}" for x in others)
            cells.append(
                f'<td class="num"><b>{_pm(r.auc, r.auc_uncertainty)}</b> '
                f'<span class="small">at {judgement.n_per_class:,} {unit} per class</span><br>'
                f'<span class="small">verdict: {_e(r.method)}; {_e(detail)}</span></td>'
            )
        for group in groups:
            found = results.distances[cand.label].get(group)
            if found and found["keys"]:
                fpd_pm: tuple[float, float] = found["fpd"]  # (value, uncertainty)
                kpd_pm: tuple[float, float] = found["kpd"]
                tails = found["beyond_reference"]["any"]
                cells.append(
                    f'<td class="num">FPD {_pm(*fpd_pm, digits=4)}<br>'
                    f'KPD {_pm(*kpd_pm, digits=5)}<br><span class="small">'
                    f"{len(found['fpd_observables'])} observables; "
                    f"{tails:.2%} beyond the reference's range</span></td>"
                )
            else:
                cells.append("<td>—</td>")
        cells.append(f"<td>{_highlights(cand.provenances[0])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _weight_note(sample: Sample) -> str:
    if sample.weights is None:
        return ""
    return (
        f'<br><span class="small">weighted: worth {sample.effective_events:,.0f} unweighted '
        "events (effective size)</span>"
    )


def _learning_curve_table(cands: list[Sample], results: Results, unit: str) -> str:
    """The learning curves in numbers: the verdict's AUC at each N, per candidate and variant."""
    variants = list(next(iter(results.classifiers.values())))
    head = f"<th>Sample</th><th>{_e(unit.capitalize())} per class</th>" + "".join(
        f"<th>AUC, {_e(VARIANT_NAMES[v])}</th>" for v in variants
    )
    rows = []
    for cand in cands:
        curves = results.classifiers[cand.label]
        for i, point in enumerate(curves[variants[0]]):
            cells = [
                f"<td>{_swatch(cand.colour)}{_e(cand.label)}</td>",
                f'<td class="num">{point.n_per_class:,}</td>',
            ]
            for variant in variants:
                verdict = curves[variant][i].verdict
                cells.append(
                    f'<td class="num">{_pm(verdict.auc, verdict.auc_uncertainty)} '
                    f'<span class="small">({_e(verdict.method)})</span></td>'
                )
            rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _tagger_table(cands: list[Sample], results: Results) -> str:
    """The W/QCD taggers' AUCs: trained on each side, tested on held-out jets of each."""
    if not results.taggers:
        return ""
    head = (
        "<th>Candidate</th><th>Tagger</th><th>Jets per class (train / test)</th>"
        "<th>Trained on the reference: tested on the reference</th><th>on the candidate</th>"
        "<th>Trained on the candidate: tested on the reference</th>"
    )
    rows = []
    for cand in cands:
        by_side = {(r.features, r.trained_on): r for r in results.taggers.get(cand.label, [])}
        for tagger in dict.fromkeys(features for features, _ in by_side):
            on_ref, on_cand = by_side[tagger, "reference"], by_side[tagger, "candidate"]
            cells = [
                f"<td>{_swatch(cand.colour)}{_e(cand.label)}</td>",
                f"<td>{_e(tagger)}</td>",
                f'<td class="num">{on_ref.n_train_per_class:,} / {on_ref.n_test_per_class:,}</td>',
                f'<td class="num">{_pm(*on_ref.auc["reference"])}</td>',
                f'<td class="num">{_pm(*on_ref.auc["candidate"])}</td>',
                f'<td class="num">{_pm(*on_cand.auc["reference"])}</td>',
            ]
            rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>W/QCD taggers in numbers</h2>"
        '<p class="small">AUC of telling W from QCD jets (not of telling the samples apart). '
        "A generated sample that serves an analysis gives the reference's AUC in every column."
        f"</p><table><tr>{head}</tr>{''.join(rows)}</table>"
    )


def _position_table(cands: list[Sample], results: Results) -> str:
    """The classifier test in bins of the incidence point, and how far each candidate's
    centroid and width profiles are from the reference's."""
    if not results.position:
        return ""
    tables = []
    for axis, edges in results.position["edges"].items():
        head = "<th>Sample</th><th>Classifier on</th>" + "".join(
            f"<th>{axis} {lo:.0f} to {hi:.0f} mm</th>" for lo, hi in itertools.pairwise(edges)
        )
        rows = []
        for cand in cands:
            for variant, by_axis in results.position[cand.label]["aucs"].items():
                cells = "".join(
                    f'<td class="num">{_pm(b["auc"], b["auc_uncertainty"])}</td>'
                    for b in by_axis[axis]
                )
                rows.append(
                    f"<tr><td>{_swatch(cand.colour)}{_e(cand.label)}</td>"
                    f"<td>{_e(VARIANT_NAMES[variant])}</td>{cells}</tr>"
                )
        tables.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    rows = []
    for cand in cands:
        for axis, found in results.position[cand.label]["profiles"].items():
            for key, agreement in found.items():
                rows.append(
                    f"<tr><td>{_swatch(cand.colour)}{_e(cand.label)}</td>"
                    f"<td>{_e(results.axis_labels.get(key, key))} against {axis}</td>"
                    f'<td class="num">{agreement["bins_within_reference_error"]} of '
                    f"{agreement['bins']}</td>"
                    f'<td class="num">{agreement["largest_pull"]:.2f}</td>'
                    f'<td class="num">{agreement["chi2_per_bin"]:.2f}</td></tr>'
                )
    profiles = (
        "<table><tr><th>Sample</th><th>Profile</th><th>Bins within the reference's error</th>"
        "<th>Largest |difference| / reference's error</th><th>χ² per bin</th></tr>"
        f"{''.join(rows)}</table>"
    )
    return (
        "<h2>By incidence point in numbers</h2>"
        '<p class="small">The verdict\'s AUC on the held-out events of each bin (the classifier '
        "trained on every position), then each profile's agreement: in how many bins the "
        "candidate's mean lies within the reference's standard error of its own mean, and "
        "χ² per bin with both samples' errors (about 1 where they agree; two samples of the "
        "same physics and size agree within the reference's error in about half the bins)."
        "</p>"
        f"{''.join(tables)}{profiles}"
    )


def _amplification_table(cands: list[Sample], results: Results) -> str:
    """Each candidate's worth in reference events, per observable."""
    if not results.amplification:
        return ""
    observables = list(
        dict.fromkeys(a.observable for found in results.amplification.values() for a in found)
    )
    head = "<th>Observable</th>" + "".join(
        f"<th>{_swatch(c.colour)}{_e(c.label)}</th>" for c in cands
    )
    rows = []
    for observable in observables:
        cells = [f"<td>{_e(observable)}</td>"]
        for cand in cands:
            match = [
                a for a in results.amplification.get(cand.label, []) if a.observable == observable
            ]
            if not match:
                cells.append("<td>—</td>")
                continue
            a = match[0]
            worth = (
                f"{a.equivalent_events:,.0f}"
                if a.equivalent_events is not None
                else f"more than resolved (&gt; {1 / a.floor * a.slope:,.0f})"
            )
            of = f'<span class="small">of {a.n_candidate:,} events</span>'
            cells.append(f'<td class="num">{worth} {of}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>Amplification in numbers</h2>"
        '<p class="small">How many reference events each candidate is worth, per observable '
        "(its shares in 50 quantile bins; about 20 % precision). A candidate worth more events "
        "than its generator was trained on amplifies its training data.</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    )


def _distance_tables(cands: list[Sample], results: Results) -> str:
    parts = []
    groups = list(dict.fromkeys(g for by_group in results.distances.values() for g in by_group))
    for group in groups:
        found = {c.label: results.distances[c.label].get(group) for c in cands}
        keys = list(dict.fromkeys(k for f in found.values() if f and f["keys"] for k in f["keys"]))
        if not keys:
            continue
        head = "<th>Observable</th>" + "".join(
            f"<th>{_swatch(c.colour)}{_e(c.label)}: W1</th><th>separation</th>" for c in cands
        )
        rows = []
        for key in keys:
            cells = [f"<td>{_e(results.axis_labels.get(key, key))}</td>"]
            for cand in cands:
                f = found[cand.label]
                if f and key in f["wasserstein_1"]:
                    value, error = f["wasserstein_1"][key]
                    cells.append(f'<td class="num">{value:.4g} ± {error:.2g}</td>')
                    cells.append(f'<td class="num">{f["separation"][key]:.4f}</td>')
                else:
                    cells.append("<td>—</td><td>—</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        excluded = sorted({k for f in found.values() if f for k in f["excluded_constant"]})
        note = (
            f'<p class="small">Left out (constant in the reference): {_e(", ".join(excluded))}</p>'
            if excluded
            else ""
        )
        peaks = [
            f"{_e(c.label)} {100 * f['mass_peak_share']['candidate']['value']:.1f} ± "
            f"{100 * f['mass_peak_share']['candidate']['uncertainty']:.1f} %"
            for c in cands
            if (f := found[c.label]) and "mass_peak_share" in f
        ]
        if peaks:
            share = next(
                f["mass_peak_share"] for f in found.values() if f and "mass_peak_share" in f
            )
            low, high = share["window_gev"]
            note += (
                f'<p class="small">Jets with {low:g} &lt; m &lt; {high:g} GeV (the W peak): '
                f"reference {100 * share['reference']['value']:.1f} ± "
                f"{100 * share['reference']['uncertainty']:.1f} %, {', '.join(peaks)}</p>"
            )
        title = "" if group == "all" else f"<h3>{_e(group)}</h3>"
        parts.append(f"{title}<table><tr>{head}</tr>{''.join(rows)}</table>{note}")
    return "".join(parts) or "<p>No observable could be compared.</p>"


def _figure_html(figure: ReportFigure) -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    return (
        f"<figure><h3>{_e(figure.title)}</h3>"
        f'<img src="data:image/png;base64,{data}" alt="{_e(figure.title)}">'
        f"<figcaption>{_e(figure.caption)}</figcaption></figure>"
    )


def html_page(
    schema: Schema,
    ref: Sample,
    cands: list[Sample],
    results: Results,
    metrics: Mapping[str, Any],
) -> str:
    kind = "showers" if schema is SHOWER_SCHEMA else "jet images"
    config = metrics["classifier_config"]
    sections: dict[str, list[str]] = {}
    for figure in results.figures:
        sections.setdefault(figure.section, []).append(_figure_html(figure))
    body = "".join(f"<h2>{_e(section)}</h2>{''.join(items)}" for section, items in sections.items())
    provenance = "".join(
        f"<details><summary>{_swatch(s.colour)}{_e(s.label)} — {_e(path)}</summary>"
        f"<pre>{_e(json.dumps(json_safe(provenance), indent=2))}</pre></details>"
        for s in (ref, *cands)
        for path, provenance in zip(s.paths, s.provenances, strict=True)
    )
    hidden = "×".join(str(h) for h in config["hidden"])
    unit = "showers" if schema is SHOWER_SCHEMA else "jets"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fastshower evaluation: {_e(", ".join(c.label for c in cands))}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Evaluation of {len(cands)} candidate sample{"s" if len(cands) > 1 else ""} of {kind}</h1>
<p class="meta">Reference: <b>{_e(" + ".join(p.name for p in ref.paths))}</b> ({_e(ref.where)}).
Written {_e(metrics["created_utc"])} by fastshower {_e(__version__)} in {metrics["seconds"]:.0f} s;
seed {metrics["seed"]}; every number is also in <code>metrics.json</code>.</p>
<h2>Summary</h2>
{_summary_table(ref, cands, results, metrics)}
<p class="small">AUC: area under the ROC curve of a classifier trained to tell the candidate from
the reference, on held-out events (20 % of them; 60 % train, 20 % validate): 0.5 means it cannot
tell them apart, 1.0 that it always can; the uncertainty is the statistical one of the test split.
Two classifiers see the same events: a fully connected {hidden} {_e(config["activation"])}
network (at most {config["epochs"]} epochs, stopped {config["patience"]} epochs after its best
validation loss) and boosted decision trees; the verdict, in bold, is the one that separates the
validation events better. An AUC holds for its number of events: with more, a classifier sees
more (the learning curves below). FPD and KPD: JetNet's Fréchet and kernel physics distances on
the physics observables, as the CaloChallenge computes them, 0 for identical distributions;
"beyond the reference's range": the share of events with an observable more than three of the
reference's standard deviations beyond its smallest or largest value (tails it never makes). A
candidate made by the simulation itself is the floor: what two samples of the same physics
give. A weighted candidate (refined: <code>fastshower generate --refine</code>) enters the
classifier test with its weights; its plots and distances show as many events drawn from it
with probabilities proportional to their weights.</p>
{body}
{_tagger_table(cands, results)}
{_amplification_table(cands, results)}
{_position_table(cands, results)}
<h2>Learning curves in numbers</h2>
{_learning_curve_table(cands, results, unit)}
<h2>Distances per observable</h2>
<p class="small">W1: Wasserstein-1 distance in the observable's unit (bootstrap uncertainty).
Separation: 0.5 Σ (h<sub>1</sub> − h<sub>2</sub>)² / (h<sub>1</sub> + h<sub>2</sub>) of the
normalised histograms, 0 for identical and 1 for disjoint distributions.</p>
{_distance_tables(cands, results)}
<h2>Provenance</h2>
{provenance}
</body>
</html>
"""
