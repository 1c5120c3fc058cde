"""Jet-image plots with hist + mplhep, on arrays in the jet-image layout.

Samples are mappings ``label -> arrays`` as ``read_dataset(path, JET_SCHEMA).arrays`` returns
them (``image`` (N, 25, 25) pT in GeV, ``jet_mass``, ``tau_21``), so Pythia samples and
generated images go through the same code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import hist
import mplhep
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from fastshower.evaluate.figures import save, style
from fastshower.observables.jets import IMAGE_GRID

__all__ = ["plot_average_jet_images", "plot_jet_observables"]

_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple")
_LOG_DECADES = 5


def plot_average_jet_images(
    samples: Mapping[str, Mapping[str, np.ndarray]], path: str | os.PathLike[str]
) -> Path:
    """One panel per sample: the average image (pT per pixel, log colour scale)."""
    images = {label: np.asarray(s["image"], dtype=np.float64) for label, s in samples.items()}
    averages = {label: im.mean(axis=0) for label, im in images.items() if len(im)}
    if not averages:
        raise ValueError("no images to plot")
    top = max(a.max() for a in averages.values())
    norm = LogNorm(vmin=top / 10**_LOG_DECADES, vmax=top)
    h = IMAGE_GRID.half_width
    with style():
        fig = Figure(figsize=(6.5 * len(averages) + 1.5, 6.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(averages)))
        for ax, (label, average) in zip(axes, averages.items(), strict=True):
            shown = np.where(average > 0, average, np.nan)
            mesh = ax.imshow(shown, extent=(-h, h, -h, h), norm=norm, cmap=colormaps["viridis"])
            ax.set_title(f"{label} ({len(images[label])} jets)")
            ax.set_xlabel(r"$x$ (rotated $\eta$)")
            ax.set_ylabel(r"$y$ (rotated $\phi$)")
        fig.colorbar(mesh, ax=axes.tolist(), label=r"average pixel $p_T$ [GeV]")
        return save(fig, path)


def plot_jet_observables(
    samples: Mapping[str, Mapping[str, np.ndarray]], path: str | os.PathLike[str]
) -> Path:
    """Normalised distributions of jet mass and tau_21, one coloured step per sample."""
    panels = (
        ("jet_mass", hist.axis.Regular(30, 0.0, 150.0), r"Trimmed jet mass [GeV]"),
        ("tau_21", hist.axis.Regular(25, 0.0, 1.0), r"$\tau_{21}$"),
    )
    with style():
        fig = Figure(figsize=(13, 5.5), layout="constrained")
        axes = fig.subplots(1, len(panels))
        for ax, (key, axis, xlabel) in zip(axes, panels, strict=True):
            for colour, (label, arrays) in zip(_COLOURS, samples.items(), strict=False):
                values = np.asarray(arrays[key], dtype=np.float64)
                h = hist.Hist(axis, storage=hist.storage.Weight())
                h.fill(values, weight=np.full(len(values), 1.0 / max(len(values), 1)))
                mplhep.histplot(
                    h,
                    ax=ax,
                    histtype="step",
                    yerr=True,
                    color=colour,
                    flow="none",
                    label=f"{label} ({len(values)})",
                )
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Fraction of jets")
            ax.set_ylim(bottom=0)
        axes[0].legend(loc="upper right", fontsize="small")
        return save(fig, path)
