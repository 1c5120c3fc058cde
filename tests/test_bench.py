"""``fastshower bench --quick``: the smoke run CI makes (figures printed, none asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fastshower.bench import _time_backend


def test_quick_bench_writes_table_json_and_plot(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastshower.cli", "bench", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("method") and "Geant4" in done.stdout
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["geant4"]["ms_per_shower"] > 0
    models = {r["model"] for r in result["results"]}
    from fastshower.pretrained import available

    assert models == {"calogan (architecture)", *available()}  # LAGAN: the shipped one
    assert {r["batch"] for r in result["results"]} == {1, 4}
    assert all(r["ms_per_shower"] > 0 and r["speedup_vs_geant4"] > 0 for r in result["results"])
    in_process = [r for r in result["results"] if "processes" not in r["backend"]]
    from fastshower._cpus import usable_cpus

    if usable_cpus() > 1:  # one single-threaded process per core, as generate --workers runs
        on_workers = [r for r in result["results"] if "processes" in r["backend"]]
        assert {r["model"] for r in on_workers} == models
        assert all(r["peak_memory_mb"] is None for r in on_workers)  # not this process's
    if sys.platform == "linux":  # peak resident memory: at least torch and the model, below all
        import os

        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
        assert all(100 < r["peak_memory_mb"] < total_mb for r in in_process)
    assert (tmp_path / "bench.png").stat().st_size > 1000


def test_a_backend_that_cannot_run_a_model_is_reported_and_a_large_batch_just_ends_it() -> None:
    layer = torch.nn.Linear(3, 2)

    def wrong_width(batch: int):  # a backend that cannot run this model at all
        return lambda: layer(torch.zeros(batch, 4))

    with pytest.warns(RuntimeWarning, match="mat1 and mat2"):
        assert _time_backend("m", "b", wrong_width, (1, 4), 1, 100.0) == []

    def fails_above_one(batch: int):  # as running out of memory at a large batch does
        return lambda: layer(torch.zeros(batch, 3 if batch == 1 else 4))

    rows = _time_backend("m", "b", fails_above_one, (1, 4), 1, 100.0)  # no warning: errors fail
    assert [r["batch"] for r in rows] == [1]
