"""Test-session setup shared by every test file.

Geant4's tables are built (when the official data sets are not installed) into
``$FASTSHOWER_CACHE``. ``g4data.configure()`` reads that variable once per process (it is
cached), so it is set here, at import time, before any test imports ``fastshower.simulate``: the
tests then never read or write the user's ``~/.cache``. Subprocesses started by the tests (the
CLI, the step-by-step reference) inherit it and reuse the same tables. A value already set by the
caller is kept.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# One thread per process: the tests' networks are small, and two BLAS/OpenMP threads fighting
# other processes for two cores made a single forward pass 100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

if "FASTSHOWER_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="fastshower-test-cache-")
    os.environ["FASTSHOWER_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
