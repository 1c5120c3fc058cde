"""The documentation site builds in strict mode: ``mkdocs build --strict``, as a user runs it.

Strict mode fails on every warning: a nav entry or a ``page.md#anchor`` that does not exist, an
absolute link, a page left out of the nav, a docstring mkdocstrings cannot render, a command
mkdocs-click cannot document. MkDocs logs a relative link whose target is not among the
documentation files (or is no file at all, ``flows`` for ``flows.md``) at one level whether it
points inside ``docs/`` or outside it (``../studies/x.sh``, ``../README.md``, which the site does
not contain), so ``mkdocs.yml`` logs both at ``info`` and this test tells them apart: a link to a
missing page inside ``docs/`` fails it, a link that leaves ``docs/`` is listed in its output
(``pytest -rP``).
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180

# The two messages of a relative link that mkdocs.yml logs at `info` (`not_found`,
# `unrecognized_links`).
_UNRESOLVED = re.compile(
    r"Doc file '(?P<page>[^']+)' contains (?:a link '(?P<link>[^']+)', but the target"
    r".* is not found among documentation files"
    r"|an unrecognized relative link '(?P<unrecognized>[^']+)', it was left as is)"
)


def _line_of(page: str, link: str) -> int | None:
    """The first line of ``docs/<page>`` that holds ``(link)``, for a readable report."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8").splitlines()
    return next((n for n, line in enumerate(text, 1) if f"({link}" in line), None)


def test_docs_build_strict(tmp_path: Path) -> None:
    reason = 'needs the docs extra (pip install -e ".[docs]")'
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                   "mkdocs_click"):
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

    inside, outside = [], []
    for match in _UNRESOLVED.finditer(log):
        page, link = match["page"], match["link"] or match["unrecognized"]
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), link.split("#")[0]))
        entry = f"docs/{page}:{_line_of(page, link)}: {link}"
        (outside if target.startswith("../") else inside).append(entry)
    if outside:
        print("links that leave docs/ (not part of the site):", *outside, sep="\n  ")
    assert not inside, "links to pages missing from docs/:\n" + "\n".join(inside)

    for page in ("index", "cli", "api"):
        assert (site / ("index.html" if page == "index" else f"{page}/index.html")).is_file()
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("simulate-calo", "train-calo-flow", "generate", "evaluate", "convert"):
        assert f'id="fastshower-{command}"' in cli, f"fastshower {command} missing from cli.md"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("fastshower.io.read_showers", "fastshower.generate", "fastshower.bench"):
        assert f'id="{name}"' in api, f"{name} missing from api.md"
