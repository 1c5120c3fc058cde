"""The documentation site builds in strict mode: ``mkdocs build --strict``, as a user runs it.

Strict mode fails on every warning: a link to a page or a ``page.md#anchor`` that does not
exist (or that leaves ``docs/``, which is all the site holds), an absolute link, a page left out
of the nav, a docstring mkdocstrings cannot render, a command mkdocs-click cannot document.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180


def test_docs_build_strict(tmp_path: Path) -> None:
    reason = 'needs the docs extra (pip install -e ".[docs]")'
    for module in (
        "mkdocs",
        "material",
        "mkdocstrings",
        "mkdocstrings_handlers.python",
        "mkdocs_click",
    ):
        pytest.importorskip(module, reason=reason)

    empty = tmp_path / "geant4-data"
    empty.mkdir()
    env = {
        **os.environ,
        # geant4_pybind asks on stdin for its data sets on import unless this is set; nothing in
        # the build imports it (mkdocstrings reads the source, mkdocs-click imports only the CLI).
        "GEANT4_DATA_DIR": str(empty),
        "NO_MKDOCS_2_WARNING": "1",  # mkdocs-material's banner about its successor
    }
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"

    for page in ("index", "cli", "api"):
        assert (site / ("index.html" if page == "index" else f"{page}/index.html")).is_file()
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("simulate-calo", "train-calo-flow", "generate", "evaluate", "convert"):
        assert f'id="fastshower-{command}"' in cli, f"fastshower {command} missing from cli.md"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("fastshower.io.read_showers", "fastshower.generate", "fastshower.bench"):
        assert f'id="{name}"' in api, f"{name} missing from api.md"
