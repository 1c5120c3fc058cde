"""The look every fastshower figure shares: mplhep's ROOT style, applied per figure.

Figures are ``matplotlib.figure.Figure`` objects, never pyplot state: saving renders with Agg
whatever backend the caller uses, no window opens on a headless machine, and a figure is freed
as soon as its function returns. The style is applied inside a context for each plot, so
importing a plotting module changes no global setting.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib.style
import mplhep
from matplotlib.figure import Figure

__all__ = ["DPI", "REFERENCE_COLOUR", "save", "style"]

REFERENCE_COLOUR = "black"
"""The reference (Geant4, Pythia) is drawn in black; generated samples get colours."""
DPI = 150
_STYLE_OVERRIDES = {
    # ROOT style is made for one 10x10 inch panel at 26 pt; these figures have several panels.
    "font.size": 15,
    "legend.frameon": False,
    "savefig.dpi": DPI,
}


def style() -> AbstractContextManager[None]:
    """The mplhep ROOT look, for the duration of one plot only."""
    return matplotlib.style.context([mplhep.style.ROOT, _STYLE_OVERRIDES])


def save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    return path
