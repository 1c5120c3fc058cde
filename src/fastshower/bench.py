"""Generation time per shower against batch size, side by side with Geant4 in the same run.

``fastshower bench`` times, on this machine:

- **Geant4**: e+ showers uniform in 1-100 GeV on one core (its honest speed: C++-side scoring),
  CPU time per shower, after a warm-up event;
- **each generator** (model folders given, else the shipped trained models and the published
  architectures with fresh weights: timing does not depend on the values of the weights): the
  generator's forward pass only, in ``torch.inference_mode``, on inputs made beforehand, for
  every batch size; on the CPU with all threads and with one, as one single-threaded process
  per core generating a batch each at once (what ``fastshower generate --workers N`` does),
  through onnxruntime (float, and int8-quantized) when the ``onnx`` extra is installed, and on
  the GPU when there is one (fp32 and fp16, clocks synchronised). Warm-up, then the median of
  repeats, with the spread (half the range).

Output: a table in the seeds' form (method, hardware, batch, ms/shower, speed-up over Geant4,
peak memory while generating), ``bench.json`` and a log-log plot of ms/shower against batch
size with Geant4 as a line.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from fastshower._cpus import usable_cpus

__all__ = ["BATCH_SIZES", "QUICK_BATCH_SIZES", "run_bench"]

BATCH_SIZES = (1, 4, 10, 128, 512, 1024, 4096, 16384)
QUICK_BATCH_SIZES = (1, 4)
COMPILED_BATCH_SIZES = (1024,)
"""torch.compile specialises on the batch size and takes minutes per size on a CPU: the
compiled backend is timed at the batch ``fastshower generate`` uses."""
_BUDGET_S = 20.0  # per (model, backend): larger batches are skipped once a batch takes longer


def run_bench(
    out: str | os.PathLike[str],
    model_dirs: Sequence[str | os.PathLike[str]] | None = None,
    *,
    quick: bool = False,
    geant4_events: int = 20,
    repeats: int = 5,
) -> Path:
    """Time everything, write ``bench.json`` and ``bench.png`` into ``out``; returns the JSON."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    batches = QUICK_BATCH_SIZES if quick else BATCH_SIZES
    repeats = 1 if quick else repeats
    geant4 = _geant4(2 if quick else geant4_events)
    rows = []
    with _worker_processes(usable_cpus()) as client:
        for name, folder in _models(model_dirs, out):
            # a smoke run neither compiles nor exports (an export is minutes for the flows and
            # the jet RNN; the generator contract's tests export every family)
            for backend, run in _backends(folder, client, compiled=not quick, onnx=not quick):
                sizes = COMPILED_BATCH_SIZES if "compiled" in backend else batches
                rows += _time_backend(name, backend, run, sizes, repeats, geant4["ms_per_shower"])
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "torch": torch.__version__,
            # passive threads on a busy machine (``fastshower.cli``): 15-30 % slower than
            # spinning ones where the cores are free
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        },
        "geant4": geant4,
        "results": rows,
        "quick": quick,
    }
    path = out / "bench.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    _plot(result, out / "bench.png")
    return path


def format_table(result: dict[str, Any]) -> str:
    """The seeds' table: method, hardware, batch size, ms/shower, speed-up over Geant4."""
    g4 = result["geant4"]
    lines = [
        f"{'method':28s} {'hardware':32s} {'batch':>6s} {'ms/shower':>12s} {'speed-up':>10s}"
        f" {'peak MB':>8s}",
        f"{'Geant4 ' + g4['version']:28s} {'CPU, 1 core':32s} {'1':>6s} "
        f"{g4['ms_per_shower']:12.4g} {1:10.3g}",
    ]
    for r in result["results"]:
        memory = r.get("peak_memory_mb")
        lines.append(
            f"{r['model']:28s} {r['backend']:32s} {r['batch']:6d} "
            f"{r['ms_per_shower']:12.4g} {r['speedup_vs_geant4']:10.3g} "
            f"{'-' if memory is None else f'{memory:.0f}':>8s}"
        )
    return "\n".join(lines)


def _geant4(n_events: int) -> dict[str, Any]:
    from fastshower.simulate.calo import CaloSettings, geant4_info, simulate_showers

    settings = CaloSettings("e+", (1.0, 100.0))
    simulate_showers(settings, 1, seed=0)  # initialisation, not timed
    start = time.process_time()
    simulate_showers(settings, n_events, seed=1)
    ms = (time.process_time() - start) / n_events * 1000
    return {
        "particle": "e+",
        "energy": "uniform 1-100 GeV",
        "events": n_events,
        "ms_per_shower": ms,
        "version": geant4_info()["geant4_version"].split()[0],
    }


def _models(
    model_dirs: Sequence[str | os.PathLike[str]] | None, out: Path
) -> list[tuple[str, Path]]:
    """(label, folder) of each model; without any, the shipped models and, fresh, the published
    architectures not shipped trained (the speed is the architecture's, whatever the weights)."""
    if model_dirs:
        return [(_label(Path(d)), Path(d)) for d in model_dirs]
    from fastshower.modelfile import load_model, save_model
    from fastshower.models import FAMILIES
    from fastshower.pretrained import available, resolve_model

    folders = [(name, resolve_model(name)) for name in available()]
    shipped_families = {load_model(folder).name for _, folder in folders}
    for name, fam in FAMILIES.items():
        config = fam.published_config
        if config is None or name in shipped_families:
            continue
        folder = out / "architectures" / name
        save_model(
            folder, name, fam.build(config), config, {"note": "fresh weights: for timing only"}
        )
        folders.append((f"{name} (architecture)", folder))
    return folders


def _label(folder: Path) -> str:
    """A model's name in the table: its folder, with the training's folder for best/ and last/."""
    folder = folder.resolve()
    return f"{folder.parent.name}/{folder.name}" if folder.name in ("best", "last") else folder.name


def _backends(
    folder: Path, client: Any = None, *, compiled: bool = True, onnx: bool = True
) -> list[tuple[str, Callable[[int], Callable[[], Any]]]]:
    """(backend label, make(batch) -> a call that generates one batch); ``client``: a Dask
    client of single-threaded worker processes (``_worker_processes``), None where there is one
    core; ``compiled``: with torch.compile's (``fastshower generate --compile``); ``onnx``: with
    onnxruntime's (when the extra is installed)."""
    from fastshower.modelfile import load_model

    model = load_model(folder)
    latent = cast(int, model.generator.latent_size)  # every family's generator sets it

    def torch_cpu(threads: int, compiled: bool = False) -> Callable[[int], Callable[[], Any]]:
        def make(batch: int) -> Callable[[], Any]:
            z, c = torch.from_numpy(_noise(batch, latent)), _condition(model, batch)
            generator = (
                torch.compile(model.generator, dynamic=False) if compiled else model.generator
            )

            def call() -> Any:
                previous = torch.get_num_threads()
                torch.set_num_threads(threads)
                try:
                    with torch.inference_mode():
                        return generator(z, c)
                finally:
                    torch.set_num_threads(previous)

            return call

        return make

    all_threads = usable_cpus()
    backends = [
        (f"torch CPU, {all_threads} threads", torch_cpu(all_threads)),
        ("torch CPU, 1 thread", torch_cpu(1)),
    ]
    if client is not None:
        backends.append(
            (f"torch CPU, {all_threads} x 1-thread processes", _on_workers(folder, client))
        )
    if compiled:
        backends.append(
            (f"torch CPU compiled, {all_threads} threads", torch_cpu(all_threads, True))
        )
    backends += [
        (f"onnxruntime{label} CPU, {all_threads} threads", make)
        for label, make in (_onnx_backends(folder, model, latent) if onnx else [])
    ]
    if torch.cuda.is_available():
        for dtype, label in ((torch.float32, "fp32"), (torch.float16, "fp16")):
            backends.append((f"torch GPU {label}", _gpu_backend(model, latent, dtype)))
    return backends


@contextmanager
def _worker_processes(cores: int) -> Iterator[Any]:
    """A Dask client of one single-threaded worker process per core (None with one core), as
    ``fastshower generate --workers N`` runs. A generator whose step is many small operations
    gains less from a second thread in one process than from a process of its own per core
    (the jet RNN, which writes a jet one hit per step: 1.4-1.7x, ``docs/performance.md``)."""
    if cores < 2:
        yield None
        return
    from fastshower.simulate.production import dask_client

    with dask_client(cores, None) as client:
        yield client


@dataclass(frozen=True)
class _Round:
    """What one call of a multi-process backend measured itself: the wall time from the
    moment every worker was told to start to the last one's end, for ``events`` in all."""

    seconds: float
    events: int


_START_DELAY_S = 0.05  # time for a task to reach every worker before their common start


def _on_workers(folder: Path, client: Any) -> Callable[[int], Callable[[], _Round]]:
    """Every worker generates one batch at once, from the same moment; a round's time is the
    slowest worker's."""
    workers = sorted(client.scheduler_info()["workers"])

    def make(batch: int) -> Callable[[], _Round]:
        def call() -> _Round:
            start = time.time() + _START_DELAY_S
            futures = [
                client.submit(_worker_batch, str(folder), batch, start, workers=[w], pure=False)
                for w in workers
            ]
            try:
                ends = client.gather(futures)
            except Exception as exc:  # a worker out of memory, or killed by the system for it
                raise RuntimeError(f"a worker failed: {exc}") from exc
            return _Round(max(ends) - start, batch * len(workers))

        return call

    return make


_WORKER_INPUTS: dict[tuple[str, int], tuple[Any, torch.Tensor, torch.Tensor]] = {}


def _worker_batch(folder: str, batch: int, start: float) -> float:
    """In a worker: one batch at ``start`` (time.time()); returns when it ended. The model and
    its inputs stay loaded in the worker between rounds, and a new batch size is warmed up
    before its first timed round."""
    from fastshower.modelfile import load_model

    torch.set_num_threads(1)
    key = (folder, batch)
    if key not in _WORKER_INPUTS:
        model = load_model(folder)
        latent = cast(int, model.generator.latent_size)
        z, c = torch.from_numpy(_noise(batch, latent)), _condition(model, batch)
        with torch.inference_mode():
            model.generator(z, c)
        _WORKER_INPUTS.clear()  # one model at a time in memory
        _WORKER_INPUTS[key] = (model.generator, z, c)
    generator, z, c = _WORKER_INPUTS[key]
    time.sleep(max(0.0, start - time.time()))
    with torch.inference_mode():
        generator(z, c)
    return time.time()


def _onnx_backends(folder: Path, model: Any, latent: int) -> list[tuple[str, Callable]]:
    """("", make) for the float export and (" int8", make) for its int8 quantization: one
    export (with its parity check), then the quantization of that file. Empty without the
    onnx extra."""
    try:
        from fastshower.export import OnnxGenerator, export_onnx, quantize_int8
    except ImportError:
        return []
    try:
        path = export_onnx(folder, Path(tempfile.mkdtemp()) / f"{model.name}.onnx")
        runners = [
            ("", OnnxGenerator(path)),
            (" int8", OnnxGenerator(quantize_int8(path, path.with_suffix(".int8.onnx")))),
        ]
    except ImportError:
        return []
    except Exception as exc:  # a failed export costs its rows, not the other backends' timings
        warnings.warn(f"{model.name}: no onnxruntime timings ({exc})", RuntimeWarning, stacklevel=2)
        return []

    def maker(runner: Any) -> Callable[[int], Callable[[], Any]]:
        def make(batch: int) -> Callable[[], Any]:
            z = _noise(batch, latent)
            c = _condition(model, batch).numpy()
            return lambda: runner(z, c)

        return make

    return [(label, maker(runner)) for label, runner in runners]


def _gpu_backend(model: Any, latent: int, dtype: torch.dtype) -> Callable:
    # a copy: Module.to() works in place, and the CPU and fp32 backends share model.generator
    generator = copy.deepcopy(model.generator).to("cuda", dtype=dtype)

    def make(batch: int) -> Callable[[], Any]:
        z = torch.from_numpy(_noise(batch, latent)).to("cuda", dtype=dtype)
        c = _condition(model, batch).to("cuda")
        if c.is_floating_point():
            c = c.to(dtype)

        def call() -> Any:
            with torch.inference_mode():
                out = generator(z, c)
            torch.cuda.synchronize()
            return out

        return call

    return make


def _noise(batch: int, latent: int) -> np.ndarray:
    """The same latent vectors on every backend and in every run: a model whose work depends on
    what it makes (the jet RNN writes as many steps as its batch's longest jet has hits, from
    about 60 to its 100 at batch 1024) is timed on the same events each time."""
    return np.random.default_rng(0).standard_normal((batch, latent)).astype(np.float32)


def _condition(model: Any, batch: int) -> torch.Tensor:
    """Conditions across the training range (the family's example)."""
    from fastshower.models import family

    return family(model.name).example_condition(model.generator, batch)


def _time_backend(
    model: str,
    backend: str,
    make: Callable,
    batches: tuple[int, ...],
    repeats: int,
    geant4_ms: float,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in batches:
        try:
            call = make(batch)
            call()  # warm-up: allocations, lazy initialisation, kernel selection
            times, events = [], batch
            for _ in range(repeats):
                start = time.perf_counter()
                done = call()
                times.append(time.perf_counter() - start)
                if isinstance(done, _Round):  # timed where it ran
                    times[-1], events = done.seconds, done.events
        except (RuntimeError, MemoryError) as exc:  # out of memory at a large batch: stop there
            if not rows:  # not a large batch: this backend cannot run the model at all
                warnings.warn(f"{model} on {backend}: {exc}", RuntimeWarning, stacklevel=2)
            break
        ms = statistics.median(times) / events * 1000
        rows.append(
            {
                "model": model,
                "backend": backend,
                "batch": batch,
                "ms_per_shower": ms,
                "spread_ms": (max(times) - min(times)) / 2 / events * 1000,
                "repeats": repeats,
                "speedup_vs_geant4": geant4_ms / ms,
                # a worker's memory is not this process's
                "peak_memory_mb": None
                if isinstance(done, _Round)
                else _peak_memory_mb(call, gpu=backend.startswith("torch GPU")),
            }
        )
        if statistics.median(times) * (repeats + 1) > _BUDGET_S:
            break  # the next, larger batch would take too long on this hardware
    return rows


def _peak_memory_mb(call: Callable[[], Any], *, gpu: bool) -> float | None:
    """Peak memory while one more call runs (MB), everything the process holds included (the
    model, Python, torch): on the GPU the allocator's peak; on the CPU the resident set's
    high-water mark, which Linux resets on request (``/proc/self/clear_refs``). Absolute, not
    an increase: allocators keep freed memory, so an increase over the time before the call
    would hide what earlier calls left resident. None where neither is available."""
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        call()
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current RSS
    except OSError:
        return None
    call()
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(x for x in status if x.startswith("VmHWM:")).split()[1]) / 1024


def _plot(result: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    from fastshower.evaluate.figures import REFERENCE_COLOUR, save, style

    with style():
        fig = Figure(figsize=(10, 7), layout="constrained")
        ax = fig.subplots()
        series: dict[str, list[tuple[int, float]]] = {}
        for r in result["results"]:
            series.setdefault(f"{r['model']}, {r['backend']}", []).append(
                (r["batch"], r["ms_per_shower"])
            )
        for label, points in series.items():
            x, y = zip(*points, strict=True)
            ax.plot(x, y, marker="o", label=label)
        g4 = result["geant4"]
        ax.axhline(
            g4["ms_per_shower"],
            color=REFERENCE_COLOUR,
            linestyle="--",
            label=f"Geant4 {g4['version']}, 1 core ({g4['energy']})",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Batch size")
        ax.set_ylabel("Time per shower [ms]")
        ax.legend(fontsize="x-small")
        save(fig, path)
