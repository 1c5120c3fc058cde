"""Geant4's physics data, offline: the real data sets when present, built tables otherwise.

``geant4_pybind`` checks its data sets on import and, when they are missing, asks on stdin or
tries to download them, neither of which works here. ``configure()`` must therefore run before
the import: it decides where the data comes from and sets Geant4's environment variables.

- Real data: a ``GEANT4_DATA_DIR`` holding the official data sets, or ``G4*DATA`` variables
  that point at them. Then Geant4 runs its reference physics list, FTFP_BERT, untouched.
- Otherwise: the tables the physics reads for the elements of the CaloGAN geometry (H, Ar, Pb)
  are built once, in Geant4's own file formats, into a cache folder, from evaluated data
  (``xraylib``) or published formulas (``physics_tables``), and FTFP_BERT runs on them.

Every dataset file records which of the two produced it (``describe()``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["ELEMENTS", "TABLES_VERSION", "PhysicsData", "cache_dir", "configure"]

ELEMENTS = (1, 18, 82)
"""Z of every element in the geometry: H ("Galactic" vacuum), Ar, Pb."""
TABLES_VERSION = "2"
"""Bump when the built tables change, so old caches are rebuilt rather than reused."""
_MARKER = "fastshower-tables.json"

# Data set -> (environment variable, folder name in Geant4 11.4's GEANT4_DATA_DIR layout).
DATASETS: dict[str, tuple[str, str]] = {
    "G4EMLOW": ("G4LEDATA", "G4EMLOW8.8"),
    "G4ENSDFSTATE": ("G4ENSDFSTATEDATA", "G4ENSDFSTATE3.0"),
    "G4PARTICLEXS": ("G4PARTICLEXSDATA", "G4PARTICLEXS4.2"),
    "PhotonEvaporation": ("G4LEVELGAMMADATA", "PhotonEvaporation6.1.2"),
}
"""The data sets FTFP_BERT reads for e+/-, photons and pions in this geometry."""


@dataclass(frozen=True)
class PhysicsData:
    """Where Geant4's physics data comes from, and the physics list that runs on it."""

    source: str  # "geant4" (official data sets) or "fastshower-tables"
    paths: dict[str, str]

    def describe(self) -> dict[str, str]:
        """Provenance attributes for dataset files."""
        info = {
            "physics_list": "FTFP_BERT",
            "em_physics": "G4EmStandardPhysics (option 0)",
            "physics_data": self.source,
        }
        if self.source == "fastshower-tables":
            info["physics_data"] = f"fastshower-tables v{TABLES_VERSION} ({_xraylib_version()})"
            info["physics_data_doc"] = "docs/physics.md: evaluated data from xraylib, formulas"
        else:
            info["physics_data_paths"] = json.dumps(self.paths, sort_keys=True)
        return info

    def physics_list(self, g4: Any) -> Any:
        """FTFP_BERT: Geant4's reference list; its standard EM physics is option 0."""
        physics = g4.FTFP_BERT()
        physics.SetVerboseLevel(0)
        return physics


def cache_dir() -> Path:
    """Where built tables live: ``$FASTSHOWER_CACHE`` or ``~/.cache/fastshower``."""
    root = os.environ.get("FASTSHOWER_CACHE") or Path.home() / ".cache" / "fastshower"
    return Path(root) / f"geant4-tables-v{TABLES_VERSION}"


@cache
def configure() -> PhysicsData:
    """Choose the data source and set Geant4's environment; idempotent, cheap after the first call.

    Raises ``RuntimeError`` when some real data sets are given but others are missing: mixing
    real and built tables would make a sample whose physics no provenance could describe.
    """
    real = _real_datasets()
    if real is not None:
        for name, (variable, _folder) in DATASETS.items():
            os.environ[variable] = real[name]
        return PhysicsData("geant4", real)
    root = _ensure_tables(cache_dir())
    os.environ["GEANT4_DATA_DIR"] = str(root)  # stops geant4_pybind's download prompt
    paths = {}
    for name, (variable, folder) in DATASETS.items():
        os.environ[variable] = str(root / folder)
        paths[name] = str(root / folder)
    return PhysicsData("fastshower-tables", paths)


def _real_datasets() -> dict[str, str] | None:
    """Paths of the official data sets, if the environment names them; None if it names none."""
    found: dict[str, str] = {}
    data_dir = os.environ.get("GEANT4_DATA_DIR")
    if data_dir and _built_here(Path(data_dir)):
        data_dir = None
    for name, (variable, folder) in DATASETS.items():
        given = os.environ.get(variable)
        if given and not _built_here(Path(given).parent):
            found[name] = given
        elif data_dir and (Path(data_dir) / folder).is_dir():
            found[name] = str(Path(data_dir) / folder)
    if not found:
        return None
    missing = [f"{name} (${DATASETS[name][0]})" for name in DATASETS if name not in found]
    broken = [p for p in found.values() if not Path(p).is_dir()]
    if missing or broken:
        raise RuntimeError(
            "incomplete Geant4 data: "
            + (f"missing {', '.join(missing)}" if missing else f"not folders: {', '.join(broken)}")
            + ". Give all official data sets (GEANT4_DATA_DIR) or none (fastshower then builds"
            " its own tables)"
        )
    return found


def _built_here(root: Path) -> bool:
    """Whether ``root`` holds tables built by ``configure`` (which exports their paths, so that
    processes it starts, such as Dask workers, inherit them): they are not official data."""
    return (root / _MARKER).exists()


def _ensure_tables(root: Path) -> Path:
    """Build the tables once; concurrent processes race safely (build aside, then rename)."""
    if (root / _MARKER).exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=root.name + ".", dir=root.parent))
    try:
        from fastshower.simulate.g4tables import write_tables

        manifest = write_tables(staging, ELEMENTS, DATASETS)
        manifest["tables_version"] = TABLES_VERSION
        (staging / _MARKER).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        try:
            os.rename(staging, root)
        except OSError:  # another process finished first: use theirs
            if not (root / _MARKER).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _xraylib_version() -> str:
    try:
        import xraylib

        return f"xraylib {xraylib.__version__}"
    except ImportError:  # pragma: no cover - xraylib is a dependency of the sim extra
        return "xraylib missing"
