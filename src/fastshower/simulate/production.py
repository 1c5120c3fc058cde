"""Seeded, chunked, resumable production of dataset files, fanned out on dask.distributed.

A request ``(job.settings, n_events, seed, chunk_size)`` is cut into chunks of ``chunk_size``
events; chunk ``i`` gets a seed derived from ``(seed, i)`` only, so the output depends on the
request and never on how many workers ran it, in which order, or how often it was interrupted.
(It does depend on ``chunk_size``: a different cut is a different sample.)

State lives next to the output, in ``<out>.parts/``: ``manifest.json`` (the request) and one
``chunk-000012.h5`` per finished chunk, each written atomically. A killed run loses at most the
chunks in flight; rerunning the same request skips finished chunks, and a different request is
refused instead of being mixed in. When every chunk exists they are merged, in order, into
``out`` (atomically) and the parts folder is removed.

Only the client touches the disk: workers return arrays, so a cluster needs no shared
filesystem. Two runs writing the same ``out`` at the same time are not supported.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from fastshower._cpus import usable_cpus
from fastshower.io import (
    DatasetError,
    Schema,
    data_digest,
    dataset_info,
    open_writer,
    read_dataset,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Chunk",
    "ProductionError",
    "ProductionJob",
    "check_digests",
    "chunk_seed",
    "dask_client",
    "parts_dir",
    "plan_chunks",
    "produce",
]

DEFAULT_CHUNK_SIZE = 500
"""Events per chunk: minutes of Geant4 per chunk, so a crash loses little and overhead is nil."""

CHUNK_SEED_RULE = "np.random.SeedSequence([seed, chunk]).generate_state(1)[0] % (2**31 - 1) + 1"
_REQUEST_FIELDS = ("schema", "settings", "n_events", "seed", "chunk_size")
_IN_FLIGHT_PER_WORKER = 2  # one running, one queued: workers never idle, memory stays bounded

log = logging.getLogger(__name__)


class ProductionError(ValueError):
    """A production request that cannot be carried out as asked."""


class ProductionJob(Protocol):
    """What ``produce`` runs. It is pickled and sent to the workers, so keep it small."""

    @property
    def settings(self) -> dict[str, Any]:
        """JSON-serialisable physics settings; a production only resumes with equal settings."""
        ...

    @property
    def schema(self) -> Schema: ...

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        """Simulate ``n_events`` events from ``seed`` (on a worker); arrays in ``schema``."""
        ...

    def provenance(self) -> dict[str, Any]:
        """File-level provenance (generator versions, physics list ...), called on the client."""
        ...


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    n_events: int
    seed: int


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index``: positive and below 2**31, since Geant4 seeds are C longs."""
    state = np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0]
    return int(state) % (2**31 - 1) + 1


def plan_chunks(n_events: int, chunk_size: int, seed: int) -> list[Chunk]:
    """The chunks of a request; the last one holds the remainder."""
    return [
        Chunk(i, start, min(chunk_size, n_events - start), chunk_seed(seed, i))
        for i, start in enumerate(range(0, n_events, chunk_size))
    ]


def parts_dir(out: str | os.PathLike[str]) -> Path:
    """Where the chunks of ``out`` are kept until the merge."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def check_digests(
    listing: str | os.PathLike[str], data: str | os.PathLike[str]
) -> list[tuple[str, str]]:
    """Each file a listing names, checked against its data digest (``io.data_digest``):
    ``(name, status)`` with status ``OK``, ``FAILED`` (other events than the listed ones),
    ``in production`` (only its ``parts_dir`` exists) or ``not made``.

    The listing is ``sha256sum``'s format, ``<digest>  <name>`` per line (``#`` starts a
    comment), with names relative to ``data``: how a recreated reference set is checked against
    the one the documented figures were measured on, wherever it lives. A line that is not of
    that form raises ``DatasetError``, before any file is read."""
    listing = Path(listing)
    if not listing.is_file():
        raise DatasetError(f"{listing}: no such file")
    entries = []
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        digest, _, name = line.split("#", 1)[0].strip().partition("  ")
        if not digest:
            continue
        if not re.fullmatch("[0-9a-f]{64}", digest) or not name.strip():
            raise DatasetError(f"{listing}:{number}: expected '<sha256>  <file name>'")
        entries.append((digest, name.strip()))
    results = []
    for digest, name in entries:
        path = Path(data) / name
        if path.exists():
            status = "OK" if data_digest(path) == digest else "FAILED"
        elif parts_dir(path).is_dir():
            status = "in production"
        else:
            status = "not made"
        results.append((name, status))
    return results


def produce(
    job: ProductionJob,
    out: str | os.PathLike[str],
    n_events: int,
    seed: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> Path:
    """Produce ``n_events`` events of ``job`` into ``out``, resuming an interrupted run.

    ``scheduler`` is the address of a running dask scheduler; without one a local cluster of
    ``workers`` single-threaded processes is started (default: one per CPU). ``workers=0``
    runs every chunk in this process without dask: for debugging and fast tests. A script that
    starts a local cluster needs the ``if __name__ == "__main__":`` guard (workers are spawned).
    """
    out = Path(out)
    request = _request(job, n_events, seed, chunk_size)
    if workers is not None and (isinstance(workers, bool) or int(workers) < 0):
        raise ProductionError(f"workers must be >= 0 (0: in-process, no dask), got {workers}")
    if scheduler is not None and workers is not None:
        raise ProductionError("give a scheduler address or a number of local workers, not both")
    _check_output(out)
    parts = parts_dir(out)
    if out.exists():
        _check_finished(out, request)
        log.info("%s is already complete", out)
        shutil.rmtree(parts, ignore_errors=True)
        return out

    _open_parts(parts, request)
    _remove_stale_temporaries(out, parts)
    provenance = job.provenance()  # before the work: a failure here should cost nothing
    plan = plan_chunks(n_events, chunk_size, seed)
    todo = [c for c in plan if not _chunk_ok(parts, c, request, job.schema)]
    done_events = n_events - sum(c.n_events for c in todo)
    with contextlib.ExitStack() as stack:
        if workers == 0 or not todo:
            results = _in_process(job, todo)
        else:
            results = _on_dask(stack.enter_context(dask_client(workers, scheduler)), job, todo)
        bar = tqdm(
            total=n_events, initial=done_events, unit="events", desc=out.name, disable=not progress
        )  # started once the cluster is up, so the rate and ETA are the simulation's
        with bar:
            for chunk, arrays in results:
                _write_chunk(parts, chunk, arrays, job.schema, request)
                bar.update(chunk.n_events)

    _merge(out, parts, plan, job.schema, {**provenance, **request, "chunk_seeds": CHUNK_SEED_RULE})
    shutil.rmtree(parts)
    return out


def _request(job: ProductionJob, n_events: int, seed: int, chunk_size: int) -> dict[str, Any]:
    """The request as plain JSON values: what the manifest and the final file record."""
    for name, value, low in (
        ("n_events", n_events, 1),
        ("chunk_size", chunk_size, 1),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ProductionError(f"{name} must be an integer >= {low}, got {value!r}")
    try:
        settings = json.loads(json.dumps(job.settings, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ProductionError(f"job settings must be JSON-serialisable: {exc}") from exc
    return {
        "schema": job.schema.name,
        "settings": settings,
        "n_events": int(n_events),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
    }


def _check_output(out: Path) -> None:
    """Fail before any work if the output cannot be written (one clear error, nothing left)."""
    directory = out.parent
    if not directory.is_dir():
        raise ProductionError(f"{out}: the output directory {directory} does not exist")
    if out.is_dir():
        raise ProductionError(f"{out} is a directory; give a file name for the output")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ProductionError(f"{out}: cannot write in {directory}: {exc}") from exc


def _differences(
    found: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    missing = object()
    diffs = []
    for key in sorted(set(found) | set(wanted), key=str):
        a, b = found.get(key, missing), wanted.get(key, missing)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            there = "missing" if a is missing else repr(a)
            asked = "missing" if b is missing else repr(b)
            diffs.append(f"{prefix}{key}: {there} there, {asked} requested")
    return diffs


def _check_finished(out: Path, request: Mapping[str, Any]) -> None:
    try:
        provenance = dataset_info(out).provenance
    except DatasetError as exc:
        raise ProductionError(f"{out} exists but cannot be read ({exc}); delete it") from exc
    found = {key: provenance.get(key) for key in _REQUEST_FIELDS}
    if diffs := _differences(found, request):
        raise ProductionError(
            f"{out} already exists with other settings ({'; '.join(diffs)}); "
            "pick another output file or delete it"
        )


def _open_parts(parts: Path, request: Mapping[str, Any]) -> None:
    """Create the parts folder, or check that the one there belongs to this request."""
    manifest = parts / "manifest.json"
    parts.mkdir(exist_ok=True)
    if manifest.exists():
        try:
            found = json.loads(manifest.read_text())
        except ValueError as exc:
            raise ProductionError(f"{manifest} is unreadable ({exc}); delete {parts}") from exc
        if diffs := _differences({k: found.get(k) for k in _REQUEST_FIELDS}, request):
            raise ProductionError(
                f"{parts} holds an unfinished production with other settings "
                f"({'; '.join(diffs)}); pick another output file or delete {parts} to start over"
            )
    else:
        tmp = parts / ".manifest.json.tmp"
        tmp.write_text(json.dumps(request, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, manifest)


def _remove_stale_temporaries(out: Path, parts: Path) -> None:
    """Temporary files of a run killed mid-write (chunks, or the merged file)."""
    stale = [*parts.glob(".*.tmp"), *out.parent.glob(f".{glob.escape(out.name)}.*.tmp")]
    for path in stale:
        path.unlink()


def _chunk_path(parts: Path, chunk: Chunk) -> Path:
    return parts / f"chunk-{chunk.index:06d}.h5"


def _chunk_ok(parts: Path, chunk: Chunk, request: Mapping[str, Any], schema: Schema) -> bool:
    """Whether a finished chunk is on disk and sound; a damaged one is deleted, to be redone."""
    path = _chunk_path(parts, chunk)
    if not path.exists():
        return False
    try:
        data = read_dataset(path, schema)
        prov = data.provenance
        sound = (
            len(data) == chunk.n_events
            and prov.get("chunk") == chunk.index
            and prov.get("chunk_seed") == chunk.seed
            and prov.get("settings") == request["settings"]
        )
    except DatasetError as exc:
        log.warning("redoing chunk %d: %s", chunk.index, exc)
        sound = False
    if not sound:
        path.unlink()
    return sound


def _write_chunk(
    parts: Path,
    chunk: Chunk,
    arrays: Mapping[str, np.ndarray],
    schema: Schema,
    request: Mapping[str, Any],
) -> None:
    provenance = {
        "chunk": chunk.index,
        "chunk_start": chunk.start,
        "chunk_seed": chunk.seed,
        "seed": request["seed"],
        "settings": request["settings"],
    }
    with open_writer(_chunk_path(parts, chunk), schema, chunk.n_events, provenance) as writer:
        writer.write(arrays)


def _run_chunk(job: ProductionJob, n_events: int, seed: int) -> dict[str, np.ndarray]:
    return {key: np.asarray(value) for key, value in job.run_chunk(n_events, seed).items()}


def _in_process(
    job: ProductionJob, todo: Iterable[Chunk]
) -> Iterator[tuple[Chunk, dict[str, np.ndarray]]]:
    for chunk in todo:
        yield chunk, _run_chunk(job, chunk.n_events, chunk.seed)


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A client of ``scheduler``, or of a local cluster; both closed on errors and Ctrl-C.

    The local workers keep glibc's default of when to hand freed memory back to the system
    (or the environment's own ``MALLOC_TRIM_THRESHOLD_``), not Dask's 64 kB: with that, every
    batch a generator makes touches its megabytes of fresh pages again, and ``calo-flow``
    sampled 2-3x slower in a worker than in a plain process (``jet-rnn`` and ``lagan`` 1.4x)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
        LocalCluster(
            n_workers=workers or usable_cpus(),
            threads_per_worker=1,
            processes=True,
            # No dashboard, and its HTTP server (which the scheduler starts even without one)
            # on a free port rather than 8787: concurrent productions neither clash nor warn.
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _on_dask(
    client: Any, job: ProductionJob, todo: Iterable[Chunk]
) -> Iterator[tuple[Chunk, dict[str, np.ndarray]]]:
    """Chunks as they finish, with a few per worker in flight so memory stays bounded.

    ``retries`` re-runs a chunk whose worker died; it does not change the chunk's seed.
    """
    from distributed import as_completed

    queue = iter(todo)
    running: dict[str, Chunk] = {}
    finished = as_completed()

    def refill() -> None:  # asks every time: workers may join or leave a running cluster
        slots = _IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
        for chunk in islice(queue, max(0, slots - len(running))):
            future = client.submit(
                _run_chunk, job, chunk.n_events, chunk.seed, pure=False, retries=2
            )
            running[future.key] = chunk
            finished.add(future)

    refill()
    for future in finished:
        chunk, arrays = running.pop(future.key), future.result()
        future.release()
        refill()  # before handing the chunk over, so workers stay busy while it is written
        yield chunk, arrays


def _merge(
    out: Path, parts: Path, plan: list[Chunk], schema: Schema, provenance: Mapping[str, Any]
) -> None:
    """Stream the chunks, in order, into ``out``: one chunk in memory at a time."""
    n_events = sum(c.n_events for c in plan)
    with open_writer(out, schema, n_events, provenance) as writer:
        for chunk in plan:
            writer.write(read_dataset(_chunk_path(parts, chunk), schema).arrays)
