"""Silencing the C++ generators' start-up chatter, which bypasses Python's ``sys.stdout``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["stdout_silenced"]


@contextlib.contextmanager
def stdout_silenced() -> Iterator[None]:
    """Send the process's stdout (file descriptor 1) to /dev/null for the block.

    Geant4's banners and tables (G4cout) and Pythia's init listings are written by C++ straight to
    descriptor 1; stderr, where both report warnings and errors, stays visible.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
