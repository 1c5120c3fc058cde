"""Chunked, seeded, resumable production: the machinery, with fake physics.

``FakeJob`` fills the shower schema from a numpy RNG seeded by the chunk seed and writes that seed
into ``position`` (high and low 16 bits, exact in float32), so every event says which chunk made
it: a duplicated or missing chunk in the merged file is visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from fastshower.io import SHOWER_SCHEMA, Schema, read_showers
from fastshower.simulate.production import (
    ProductionError,
    chunk_seed,
    parts_dir,
    plan_chunks,
    produce,
)


@dataclass
class FakeJob:
    settings: dict[str, Any] = field(default_factory=lambda: {"particle": "gamma", "e": [1, 100]})
    schema: Schema = SHOWER_SCHEMA
    fail_seed: int | None = None
    """Raise, once, on the chunk with this seed (a marker file in ``log_dir`` says it did)."""
    log_dir: Path | None = None
    """In-process runs append each chunk seed they start to ``log_dir/calls``."""

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        if self.log_dir is not None:
            with open(self.log_dir / "calls", "a") as fh:
                fh.write(f"{seed}\n")
            marker = self.log_dir / "failed"
            if seed == self.fail_seed and not marker.exists():
                marker.touch()
                raise RuntimeError("simulated crash")
        rng = np.random.default_rng(seed)
        arrays = {
            f.key: rng.exponential(5.0, (n_events, *f.shape)).astype(np.float32)
            for f in self.schema.fields
            if f.unit == "MeV"
        }
        arrays["energy"] = rng.uniform(1, 100, (n_events, 1)).astype(np.float32)
        arrays["position"] = np.tile(np.float32([seed >> 16, seed & 0xFFFF]), (n_events, 1))
        arrays["particle"] = np.full(n_events, 22, dtype=np.int32)
        return arrays

    def provenance(self) -> dict[str, Any]:
        return {"generator": "fake", "physics": {"list": "none"}}


def seeds_in(path: Path) -> np.ndarray:
    position = read_showers(path)["position"].astype(np.int64)
    return (position[:, 0] << 16) | position[:, 1]


def expected_seeds(n_events: int, chunk_size: int, seed: int) -> np.ndarray:
    return np.concatenate([[c.seed] * c.n_events for c in plan_chunks(n_events, chunk_size, seed)])


def same_file(a: Path, b: Path) -> None:
    da, db = read_showers(a), read_showers(b)
    assert da.arrays.keys() == db.arrays.keys()
    for key in da.arrays:
        np.testing.assert_array_equal(da[key], db[key])


def test_chunk_plan() -> None:
    plan = plan_chunks(25, 10, seed=3)
    assert [(c.index, c.start, c.n_events) for c in plan] == [(0, 0, 10), (1, 10, 10), (2, 20, 5)]
    assert [c.seed for c in plan] == [chunk_seed(3, i) for i in range(3)]
    seeds = [chunk_seed(s, i) for s in range(20) for i in range(50)]
    assert len(set(seeds)) == len(seeds) and all(0 < s < 2**31 for s in seeds)
    assert chunk_seed(3, 1) == chunk_seed(3, 1)


def test_in_process_production(tmp_path: Path) -> None:
    out = produce(
        FakeJob(), tmp_path / "a.h5", 23, seed=5, chunk_size=10, workers=0, progress=False
    )
    assert out == tmp_path / "a.h5"
    data = read_showers(out)
    assert len(data) == 23
    np.testing.assert_array_equal(seeds_in(out), expected_seeds(23, 10, 5))
    prov = data.provenance
    assert (prov["seed"], prov["n_events"], prov["chunk_size"]) == (5, 23, 10)
    assert prov["settings"] == FakeJob().settings and prov["physics"] == {"list": "none"}
    assert prov["generator"] == "fake" and "SeedSequence" in prov["chunk_seeds"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]  # parts folder removed

    again = produce(
        FakeJob(), tmp_path / "b.h5", 23, seed=5, chunk_size=10, workers=0, progress=False
    )
    same_file(out, again)
    other = produce(
        FakeJob(), tmp_path / "c.h5", 23, seed=6, chunk_size=10, workers=0, progress=False
    )
    assert not np.array_equal(read_showers(other)["layer_1"], data["layer_1"])


def test_resume_after_a_crash(tmp_path: Path) -> None:
    n, size, seed = 45, 10, 11
    reference = produce(
        FakeJob(), tmp_path / "ref.h5", n, seed, chunk_size=size, workers=0, progress=False
    )
    plan = plan_chunks(n, size, seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    job = FakeJob(fail_seed=plan[3].seed, log_dir=logs)
    out = tmp_path / "out.h5"

    with pytest.raises(RuntimeError, match="simulated crash"):
        produce(job, out, n, seed, chunk_size=size, workers=0, progress=False)
    parts = parts_dir(out)
    assert not out.exists()
    assert sorted(p.name for p in parts.iterdir()) == [
        "chunk-000000.h5",
        "chunk-000001.h5",
        "chunk-000002.h5",
        "manifest.json",
    ]
    # a disk-full crash: a chunk cut short and a temporary file left behind
    damaged = parts / "chunk-000001.h5"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    (parts / ".chunk-000003.h5.123-abcd.tmp").write_bytes(b"partial")
    (tmp_path / ".out.h5.123-abcd.tmp").write_bytes(b"partial merge")

    produce(job, out, n, seed, chunk_size=size, workers=0, progress=False)

    same_file(out, reference)
    np.testing.assert_array_equal(seeds_in(out), expected_seeds(n, size, seed))
    calls = [int(s) for s in (logs / "calls").read_text().split()]
    # first run: chunks 0, 1, 2 and the crash on 3; second run: the damaged 1, then 3 and 4
    assert calls == [plan[i].seed for i in (0, 1, 2, 3, 1, 3, 4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "out.h5", "ref.h5"]


def test_finished_output_is_not_redone(tmp_path: Path) -> None:
    out = produce(FakeJob(), tmp_path / "a.h5", 12, seed=1, chunk_size=5, workers=0, progress=False)
    stamp = out.stat().st_mtime_ns
    logs = tmp_path / "logs"
    logs.mkdir()
    produce(FakeJob(log_dir=logs), out, 12, seed=1, chunk_size=5, workers=0, progress=False)
    assert out.stat().st_mtime_ns == stamp and not (logs / "calls").exists()

    with pytest.raises(
        ProductionError,
        match=r"a.h5 already exists with other settings \(seed: 1 there, 2 requested\)",
    ):
        produce(FakeJob(), out, 12, seed=2, chunk_size=5, workers=0, progress=False)


def test_mismatched_request_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "a.h5"
    crashing = FakeJob(fail_seed=chunk_seed(1, 1), log_dir=logs)
    with pytest.raises(RuntimeError):
        produce(crashing, out, 12, seed=1, chunk_size=5, workers=0, progress=False)

    gammas = FakeJob()
    electrons = FakeJob(settings={"particle": "e-", "e": [1, 100]})
    cases = [
        (electrons, 12, 1, 5, r"settings.particle: 'gamma' there, 'e-' requested"),
        (gammas, 12, 2, 5, r"seed: 1 there, 2 requested"),
        (gammas, 13, 1, 5, r"n_events: 12 there, 13 requested"),
        (gammas, 12, 1, 6, r"chunk_size: 5 there, 6 requested"),
    ]
    for job, n, seed, size, message in cases:
        with pytest.raises(ProductionError, match=message) as err:
            produce(job, out, n, seed, chunk_size=size, workers=0, progress=False)
        assert "unfinished production" in str(err.value) and "delete" in str(err.value)
    assert sorted(p.name for p in parts_dir(out).iterdir()) == ["chunk-000000.h5", "manifest.json"]

    produce(gammas, out, 12, seed=1, chunk_size=5, workers=0, progress=False)
    np.testing.assert_array_equal(seeds_in(out), expected_seeds(12, 5, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_events": 0}, r"n_events must be an integer >= 1, got 0"),
        ({"chunk_size": 0}, r"chunk_size must be an integer >= 1, got 0"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"n_events": 2.5}, r"n_events must be an integer >= 1, got 2.5"),
        ({"workers": -1}, r"workers must be >= 0"),
        ({"workers": 2, "scheduler": "tcp://localhost:8786"}, r"not both"),
        ({"out": "missing/a.h5"}, r"the output directory .*missing does not exist"),
        ({"out": "."}, r"is a directory"),
    ],
)
def test_bad_requests_fail_before_any_work(tmp_path: Path, kwargs: dict, message: str) -> None:
    request: dict[str, Any] = {
        "n_events": 10,
        "seed": 0,
        "chunk_size": 5,
        "workers": 0,
        "out": "a.h5",
    }
    request.update(kwargs)
    out = tmp_path / request.pop("out")
    with pytest.raises(ProductionError, match=message):
        produce(FakeJob(), out, progress=False, **request)
    assert list(tmp_path.iterdir()) == []


def test_bad_chunk_from_the_job_is_refused(tmp_path: Path) -> None:
    class ShortJob(FakeJob):
        def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
            return super().run_chunk(n_events - 1, seed)

    with pytest.raises(ValueError, match=r"chunk-000000.h5: only 4 of the 5 announced events"):
        produce(ShortJob(), tmp_path / "a.h5", 10, seed=0, chunk_size=5, workers=0, progress=False)
    assert os.listdir(parts_dir(tmp_path / "a.h5")) == ["manifest.json"]


def test_dask_workers_give_the_same_file(tmp_path: Path) -> None:
    """Two worker processes; one chunk fails once on its worker and is retried by dask."""
    n, size, seed = 30, 4, 9
    logs = tmp_path / "logs"
    logs.mkdir()
    job = FakeJob(fail_seed=chunk_seed(seed, 2), log_dir=logs)
    local = produce(
        FakeJob(), tmp_path / "local.h5", n, seed, chunk_size=size, workers=0, progress=False
    )
    dask = produce(job, tmp_path / "dask.h5", n, seed, chunk_size=size, workers=2, progress=False)
    same_file(local, dask)
    np.testing.assert_array_equal(seeds_in(dask), expected_seeds(n, size, seed))
    assert (logs / "failed").exists()
    with h5py.File(dask) as h5:
        assert h5.attrs["n_events"] == n


def test_local_workers_keep_freed_memory_as_a_plain_process_does() -> None:
    """Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which made a generator's
    batches 1.4-3x slower there than in this process; ours inherit this process's setting."""
    from fastshower.simulate.production import dask_client

    ours = os.environ.get("MALLOC_TRIM_THRESHOLD_")  # before: Dask's would be written here too
    with dask_client(1, None) as client:
        (value,) = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()
    assert value == ours
