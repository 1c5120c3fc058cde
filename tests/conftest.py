"""Setup shared by every test file.

Geant4's tables are built (when the official data sets are not installed) into
``$FASTSHOWER_CACHE``. ``g4data.configure()`` reads that variable once per process (it is
cached), so it is set here, at import time, before any test imports ``fastshower.simulate``: the
tests then never read or write the user's ``~/.cache``. Subprocesses started by the tests (the
CLI, the step-by-step reference) inherit it and reuse the same tables. A value already set by the
caller is kept.
"""

from __future__ import annotations

import atexit
import json
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


# ---------------------------------------------------------------------------------------------
# markers: a test that needs an extra says so, and is skipped with the reason where it is missing

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

_EXTRAS = {
    "geant4": (("geant4_pybind",), "needs the sim extra (geant4-pybind)"),
    "pythia": (("pythia8mc", "fastjet"), "needs the jets extra (pythia8mc, fastjet)"),
    "onnx": (("onnx", "onnxruntime", "onnxscript"), "needs the onnx extra"),
}


def pytest_configure(config: pytest.Config) -> None:
    for name, (_, reason) in _EXTRAS.items():
        config.addinivalue_line("markers", f"{name}: {reason}")
    config.addinivalue_line("markers", "slow: takes more than half a minute on 2 cores")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {
        name: reason
        for name, (modules, reason) in _EXTRAS.items()
        if any(importlib.util.find_spec(m) is None for m in modules)
    }
    for item in items:
        for name, reason in missing.items():
            if name in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------
# real events, made once per test run


@pytest.fixture(scope="session")
def positrons() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Two independent Geant4 samples of 300 positrons at 2 GeV (seeds 1 and 2): cheap showers
    (about a tenth of a second each) with every layer hit."""
    from fastshower.simulate.calo import CaloSettings, simulate_showers

    settings = CaloSettings("e+", (2.0, 2.0))
    return simulate_showers(settings, 300, seed=1), simulate_showers(settings, 300, seed=2)


@pytest.fixture(scope="session")
def off_centre_positrons() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Two independent Geant4 samples of 600 positrons at 2 GeV (seeds 3 and 4) entering
    uniformly in +-50 mm around the centre: across layer-1 cell boundaries (x, y = 0 and
    +-40 mm) and many layer-0 strips. About ten seconds each."""
    from fastshower.simulate.calo import CaloSettings, simulate_showers

    settings = CaloSettings("e+", (2.0, 2.0), position_spread_mm=50.0)
    return simulate_showers(settings, 600, seed=3), simulate_showers(settings, 600, seed=4)


@pytest.fixture(scope="session")
def shower_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """48 positrons (seed 5) and 48 pi+ (seed 6) at 2-5 GeV, one file each: what the shower
    models train on in the tests (two particles, a spread of energies)."""
    from fastshower.io import write_showers
    from fastshower.simulate.calo import CaloSettings, simulate_showers

    folder = tmp_path_factory.mktemp("showers")
    files = []
    for particle, seed in (("e+", 5), ("pi+", 6)):
        showers = simulate_showers(CaloSettings(particle, (2.0, 5.0)), 48, seed=seed)
        files.append(write_showers(folder / f"{particle}.h5", showers, {"seed": seed}))
    return files


@pytest.fixture(scope="session")
def pythia_jets() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """60 W jets (seed 1) and 60 QCD jets (seed 2), the LAGAN recipe's selection: about four
    seconds per class."""
    from fastshower.simulate.jets import JetSettings, simulate_jets

    return simulate_jets(JetSettings("w"), 60, seed=1), simulate_jets(
        JetSettings("qcd"), 60, seed=2
    )


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state: torch's and numpy's global generators are
    seeded, so a draw a test does not seed itself is still the same from run to run."""
    import torch

    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def pythia_jet_tensors(
    pythia_jets: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 120 Pythia jets as the jet models take them: images (GeV) and class labels."""
    images = np.concatenate([jets["image"] for jets in pythia_jets])
    labels = np.concatenate([jets["signal"].astype(np.int64) for jets in pythia_jets])
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.fixture
def train_on_pythia_jets(
    pythia_jets: tuple[dict[str, np.ndarray], dict[str, np.ndarray]], tmp_path: Path
) -> Any:
    """``fastshower train FAMILY OPTIONS`` on the 120 Pythia jets (a W file and a QCD file), as a
    user runs it; returns the training's history and ``generate(jet_class)``, 50 jets of that
    class from its last epoch (``fastshower generate --class``), read back."""
    from click.testing import CliRunner

    from fastshower.cli import main
    from fastshower.io import JET_SCHEMA, read_dataset, write_dataset

    runner = CliRunner()

    def train(family: str, options: list[str]) -> tuple[list[dict[str, Any]], Any]:
        files = []
        for jets, name in zip(pythia_jets, ("w", "qcd"), strict=True):
            path = write_dataset(tmp_path / f"{name}.h5", jets, JET_SCHEMA, {})
            files += ["--data", str(path)]
        model = tmp_path / "m"
        command = ["train", family, "--out", str(model), *options, "--no-progress", *files]
        done = runner.invoke(main, command)
        assert done.exit_code == 0, done.output

        def generate(jet_class: str) -> Any:
            out = tmp_path / f"generated-{jet_class}.h5"
            args = ["--model", str(model / "last"), "--class", jet_class, "--events", "50"]
            done = runner.invoke(main, ["generate", *args, "--out", str(out), "--no-progress"])
            assert done.exit_code == 0, done.output
            return read_dataset(out, JET_SCHEMA)

        return json.loads((model / "history.json").read_text()), generate

    return train
