"""The ``fastshower`` command: parse, validate, call one library function.

Bad input ends with a one-line error naming the value and what is allowed, exit code 2, no
traceback and no partial file.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from fastshower import __version__
from fastshower._cpus import usable_cpus

if TYPE_CHECKING:  # the training modules import torch: loaded only by the commands that train
    from fastshower.training.loop import TrainConfig


class BadInput(click.ClickException):
    """A refused value: 'Error: <message>' on one line, exit code 2 (as for usage errors)."""

    exit_code = 2


def _fail(message: str) -> NoReturn:
    raise BadInput(message)


def _energy_range(value: str) -> tuple[float, float]:
    """``10`` -> (10, 10); ``1:100`` -> (1, 100)."""
    parts = value.split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2):
        _fail(f"--energy {value!r} is not an energy in GeV (10) or a range (1:100)")
    return (numbers[0], numbers[-1])


def _window(option: str, value: str) -> tuple[float, float]:
    """``250:300`` -> (250, 300); the order is checked by the settings."""
    try:
        lo, hi = (float(p) for p in value.split(":"))
    except ValueError:
        _fail(f"{option} {value!r} is not a window LOW:HIGH in GeV (e.g. 250:300)")
    return (lo, hi)


def _point(value: str) -> tuple[float, float]:
    try:
        x, y = (float(p) for p in value.split(","))
    except ValueError:
        _fail(f"{value!r} is not a point X,Y in mm (e.g. 0,0)")
    return (x, y)


def _writable_output(path: Path) -> Path:
    path = path.expanduser().resolve()
    parent = path.parent
    if path.is_dir():
        _fail(f"--out {path} is a directory: give a file name")
    if not parent.is_dir():
        _fail(f"--out {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        _fail(f"--out {path}: the folder {parent} is not writable")
    return path


def _one_line_warnings() -> None:
    """Physics warnings (e.g. energy outside 1-100 GeV) as one readable line, not a traceback."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        click.echo(f"warning: {message}", err=True)

    warnings.showwarning = show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastshower")
def main() -> None:
    """Fast particle-physics simulation: Geant4 reference showers and generators that learn them."""
    _one_line_warnings()
    _passive_threads_when_busy()


def _passive_threads_when_busy() -> None:
    """Let torch's threads sleep, not spin, while they wait, where other work already fills the
    cores (the last minute's load average at least the usable cores less half a core), unless
    the user has chosen (``OMP_WAIT_POLICY``).

    Why: OpenMP's threads spin between operations, and beside other processes they spin on
    cores that are not theirs: on 2 cores beside a two-worker Geant4 production, the shipped
    ``calo-flow`` sampled 1024 pions at 50 ms per shower with 2 spinning threads, 3.5 with one
    thread and 2-4 with 2 passive threads. On an idle machine passive threads cost 15-30 %
    (``docs/performance.md``), so they are chosen only on a busy one. Must run before torch is
    imported: OpenMP reads the setting once."""
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return
    if load >= usable_cpus() - 0.5:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


@main.group()
def simulate() -> None:
    """Make reference samples with the real simulation (Geant4)."""


def _production_options(default_chunk: int) -> Any:
    """The options every production command shares: output, seed, chunks, where to run."""

    def decorate(command: Any) -> Any:
        options = [
            click.option("--events", type=int, required=True, help="Number of events to keep."),
            click.option("--seed", type=int, default=1, show_default=True, help="Random seed."),
            click.option(
                "--out", type=click.Path(path_type=Path), required=True, help="Output HDF5 file."
            ),
            click.option(
                "--chunk-size",
                type=int,
                default=default_chunk,
                show_default=True,
                help="Events per chunk (the unit of resumption).",
            ),
            click.option("--workers", type=int, default=None, help="Local processes [all cores]."),
            click.option("--scheduler", default=None, help="Address of a running Dask scheduler."),
            click.option("--no-progress", is_flag=True, help="Hide the progress bar."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _produce(
    job: Any,
    out: Path,
    events: int,
    seed: int,
    chunk_size: int,
    workers: int | None,
    scheduler: str | None,
    no_progress: bool,
) -> Path:
    """Check the production options, then run (or resume) the production."""
    from fastshower.simulate.production import produce

    if events <= 0:
        _fail(f"--events {events}: the number of events must be positive")
    if chunk_size <= 0:
        _fail(f"--chunk-size {chunk_size}: must be positive")
    if seed < 0:
        _fail(f"--seed {seed}: must be 0 or more")
    if workers is not None and workers < 0:
        _fail(f"--workers {workers}: must be 0 (in-process) or more")
    if workers is not None and scheduler is not None:
        _fail("give either --workers or --scheduler, not both")
    path = _writable_output(out)
    try:
        return produce(
            job,
            path,
            n_events=events,
            seed=seed,
            chunk_size=chunk_size,
            workers=workers,
            scheduler=scheduler,
            progress=not no_progress,
        )
    except ValueError as error:  # settings that clash with an earlier run, bad files
        _fail(str(error))
        raise  # unreachable: _fail raises


def _position_options(command: Any) -> Any:
    """Where showers enter the calorimeter: ``simulate calo`` and ``generate`` alike."""
    command = click.option(
        "--position-spread",
        type=float,
        default=0.0,
        show_default=True,
        help="Half-width (mm) of the square the incidence point is drawn from, uniformly.",
    )(command)
    return click.option(
        "--position", default="0,0", show_default=True, help="Incidence point X,Y (mm)."
    )(command)


@simulate.command("calo")
@click.option("--particle", required=True, help="e+, e-, gamma, pi+ or pi-.")
@click.option("--energy", required=True, help="Incident energy in GeV: 10, or uniform 1:100.")
@_position_options
@_production_options(default_chunk=100)
def simulate_calo(
    particle: str,
    energy: str,
    position: str,
    position_spread: float,
    **production: Any,
) -> None:
    """Geant4 showers in the CaloGAN calorimeter, produced in resumable chunks on Dask.

    Rerun the same command after an interruption: finished chunks are kept.
    """
    from fastshower.simulate.calo import CaloJob, CaloSettings

    try:
        settings = CaloSettings(
            particle=particle,
            energy_gev=_energy_range(energy),
            position_mm=_point(position),
            position_spread_mm=position_spread,
        )
    except ValueError as error:
        _fail(str(error))
    path = _produce(CaloJob(settings), **production)
    click.echo(f"wrote {production['events']} showers to {path}")


@simulate.command("jets")
@click.option("--process", required=True, help="w (W' -> WZ, signal) or qcd (background).")
@click.option("--pt-window", default="250:300", show_default=True, help="Trimmed jet pT, GeV.")
@click.option("--mass-window", default=None, help="Trimmed jet mass window LOW:HIGH in GeV.")
@click.option(
    "--pthat",
    default=None,
    help="QCD only: Pythia's pT-hat range LOW:HIGH in GeV [LAGAN's 100:500].",
)
@click.option(
    "--parton-veto",
    type=float,
    default=None,
    help="QCD only: drop events whose parton-level jet is below this pT (GeV) once the shower "
    "reaches 20 GeV [200; 0: off].",
)
@click.option(
    "--preprocessing",
    type=click.Choice(["exact", "lagan"]),
    default="exact",
    show_default=True,
    help="exact: rotate constituents, then pixelate; lagan: rotate the image (cubic).",
)
@_production_options(default_chunk=100)
def simulate_jets(
    process: str,
    pt_window: str,
    mass_window: str | None,
    pthat: str | None,
    parton_veto: float | None,
    preprocessing: str,
    **production: Any,
) -> None:
    """Jet images from Pythia 8 and FastJet (LAGAN's recipe), in resumable chunks on Dask.

    Rerun the same command after an interruption: finished chunks are kept.
    """
    from fastshower.simulate.jets import JetJob, JetSettings

    try:
        settings = JetSettings(
            process=process,
            preprocessing=preprocessing,
            pt_window_gev=_window("--pt-window", pt_window),
            mass_window_gev=_window("--mass-window", mass_window) if mass_window else None,
            pthat_window_gev=_window("--pthat", pthat) if pthat else None,
            parton_veto_gev=parton_veto,
        )
    except ValueError as error:
        _fail(str(error))
    path = _produce(JetJob(settings), **production)
    click.echo(f"wrote {production['events']} jets to {path}")


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's data and plots.",
)
@click.option("--events", type=int, default=100, show_default=True, help="e+ showers to simulate.")
@click.option("--jets", type=int, default=200, show_default=True, help="W and QCD jets, each.")
@click.option("--workers", type=int, default=None, help="Local worker processes [all cores].")
def demo(out: Path, events: int, jets: int, workers: int | None) -> None:
    """Simulate small e+ and W/QCD jet samples, generate as many with the shipped models, plot
    them and report how close the generated are: real physics within minutes."""
    from fastshower.demo import run_demo

    if events <= 0:
        _fail(f"--events {events}: must be positive")
    if jets <= 0:
        _fail(f"--jets {jets}: must be positive")
    out = out.expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _fail(f"--out {out}: cannot create the folder ({error.strerror})")
    for path in run_demo(out, n_events=events, workers=workers, n_jets=jets):
        click.echo(f"wrote {path}")


@main.command("evaluate")
@click.option(
    "--reference",
    "references",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Reference sample (Geant4 showers or Pythia jet images), HDF5; repeat to pool several "
    "(W and QCD jets).",
)
@click.option(
    "--candidate",
    "candidates",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Sample to judge against the reference; repeat for several.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for report.html, metrics.json and figures/.",
)
@click.option(
    "--classifier",
    type=click.Choice(["caloflow", "calochallenge"]),
    default="caloflow",
    show_default=True,
    help="The network: CaloFlow's 3 x 512 ReLU or the CaloChallenge's 2 x 2048 LeakyReLU "
    "(boosted trees are trained beside either).",
)
@click.option("--epochs", type=int, default=None, help="Most classifier epochs [50].")
@click.option(
    "--learning-curve/--no-learning-curve",
    default=True,
    show_default=True,
    help="Repeat the classifier test at 1k, 2k, 5k, 10k, ... events per class.",
)
@click.option(
    "--amplification",
    is_flag=True,
    help="Also estimate how many reference events each candidate is worth, per observable.",
)
@click.option("--max-events", type=int, default=None, help="Use only the first N events of each.")
@click.option("--seed", type=int, default=0, show_default=True, help="Classifier, bootstraps.")
def evaluate_command(
    references: tuple[Path, ...],
    candidates: tuple[Path, ...],
    out: Path,
    classifier: str,
    epochs: int | None,
    learning_curve: bool,
    amplification: bool,
    max_events: int | None,
    seed: int,
) -> None:
    """Compare candidate samples with a reference: classifier AUCs (network and boosted trees,
    with learning curves), distances and plots in a self-contained HTML report, and every
    number in metrics.json."""
    from dataclasses import replace

    from fastshower.evaluate.classifier import LEARNING_CURVE_SIZES, PROTOCOLS
    from fastshower.evaluate.report import evaluate

    if epochs is not None and epochs <= 0:
        _fail(f"--epochs {epochs}: must be positive")
    if max_events is not None and max_events <= 0:
        _fail(f"--max-events {max_events}: must be positive")
    if seed < 0:
        _fail(f"--seed {seed}: must be 0 or more")
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file: give a folder")
    config = PROTOCOLS[classifier]
    if epochs is not None:
        config = replace(config, epochs=epochs)
    try:
        report = evaluate(
            list(references),
            list(candidates),
            out,
            config=config,
            max_events=max_events,
            seed=seed,
            learning_curve_sizes=LEARNING_CURVE_SIZES if learning_curve else (),
            amplification=amplification,
        )
    except ValueError as error:  # DatasetError included: bad, incompatible or too small files
        _fail(str(error))
    except OSError as error:
        _fail(f"--out {out}: cannot write the report ({error.strerror or error})")
    click.echo(f"wrote {report}")
    click.echo(f"wrote {report.parent / 'metrics.json'}")


@main.command("convert")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to_format",
    type=click.Choice(["calochallenge", "fastshower"]),
    required=True,
    help="calochallenge: a fastshower shower file to the CaloChallenge's format; fastshower: back.",
)
@click.option("--particle", default=None, help="With --to fastshower: the showers' particle.")
def convert_command(source: Path, out: Path, to_format: str, particle: str | None) -> None:
    """Convert shower files to and from the CaloChallenge's format (incident_energies and
    showers in MeV, the 504 CaloGAN cells as voxels), for its evaluate.py."""
    from fastshower.calochallenge import from_calochallenge, to_calochallenge

    if not source.is_file():
        _fail(f"{source}: no such file")
    out = _writable_output(out)
    if to_format == "fastshower" and particle is None:
        _fail("--particle is needed with --to fastshower: a CaloChallenge file does not say it")
    if to_format == "calochallenge" and particle is not None:
        _fail("--particle is only for --to fastshower: a fastshower file records its particles")
    try:
        if to_format == "calochallenge":
            to_calochallenge(source, out)
        else:
            assert particle is not None  # refused above
            from_calochallenge(source, out, particle)
    except ValueError as error:  # DatasetError included
        _fail(str(error))
    click.echo(f"wrote {out}")


@main.command("checksum")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--check",
    "listing",
    type=click.Path(path_type=Path),
    default=None,
    help="Check the files a listing names ('<sha256>  <name>' lines, as this command prints).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    envvar="FASTSHOWER_DATA",
    default=Path("."),
    show_default="$FASTSHOWER_DATA, else .",
    help="With --check: the folder the listed names are in.",
)
def checksum_command(files: tuple[Path, ...], listing: Path | None, data: Path) -> None:
    """SHA-256 of each file's data (its events, not its provenance): equal for a production
    recreated from the same seeds, as studies/reference_data.sha256 lists them. With --check,
    each listed file's status (OK, FAILED, in production, not made); exit 1 if one FAILED."""
    from fastshower.io import data_digest
    from fastshower.simulate.production import check_digests

    if bool(files) == bool(listing):
        _fail("give either FILES or --check LISTING")
    try:
        if listing is not None:
            results = check_digests(listing, data)
            for name, status in results:
                click.echo(f"{name}: {status}")
            if any(status == "FAILED" for _, status in results):
                sys.exit(1)
            return
        for path in files:
            click.echo(f"{data_digest(path)}  {path}")
    except ValueError as error:  # DatasetError included
        _fail(str(error))


@main.command("generate")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    required=True,
    help="Model folder, or a shipped model's name (calo-flow).",
)
@click.option(
    "--class",
    "jet_class",
    default=None,
    help="Jet models: w, qcd or both (each jet either, equally likely).",
)
@click.option("--particle", default=None, help="Shower models: the particle (e+, gamma, pi+).")
@click.option("--energy", default=None, help="Shower models: incident energy in GeV, 10 or 1:100.")
@_position_options
@click.option("--batch-size", type=int, default=1024, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--steps", type=int, default=None, help="Flow models: ODE steps [the model's].")
@click.option(
    "--solver",
    type=click.Choice(["euler", "midpoint"]),
    default=None,
    help="Flow models: ODE rule [the model's].",
)
@click.option(
    "--refine",
    "refiner",
    type=click.Path(path_type=Path),
    default=None,
    help="Refiner folder (fastshower refine) of this model's samples: each event gets its weight.",
)
@click.option(
    "--compile",
    "compiled",
    is_flag=True,
    help="Run the model through torch.compile (needs a C++ compiler): for large samples, about "
    "twice as fast for the shower flow on a CPU, after a compilation of a minute or more per "
    "worker.",
)
@_production_options(default_chunk=10000)
def generate_command(
    model: Path,
    jet_class: str | None,
    particle: str | None,
    energy: str | None,
    position: str,
    position_spread: float,
    batch_size: int,
    device: str,
    steps: int | None,
    solver: str | None,
    refiner: Path | None,
    compiled: bool,
    **production: Any,
) -> None:
    """Generate samples with a trained model into the reference's HDF5 schema (resumable)."""
    from fastshower.generate import GenerateJob
    from fastshower.modelfile import ModelFileError

    if jet_class is not None:
        if _point(position) != (0.0, 0.0) or position_spread != 0:
            _fail("--position and --position-spread are for shower models, not jets")
        condition: dict[str, Any] = {"class": jet_class.lower()}
    else:
        if particle is None or energy is None:
            _fail("give --class w|qcd|both for jet models, or --particle and --energy for showers")
        condition = {"particle": particle, "energy_gev": list(_energy_range(energy))}
        # only when asked for: the request of a sample at the centre stays what it was
        if _point(position) != (0.0, 0.0):
            condition["position_mm"] = list(_point(position))
        if position_spread != 0:
            condition["position_spread_mm"] = position_spread
    if batch_size <= 0:
        _fail(f"--batch-size {batch_size}: must be positive")
    try:
        sampling = {k: v for k, v in (("steps", steps), ("solver", solver)) if v is not None}
        job = GenerateJob(
            str(_model_folder(model)),
            condition,
            batch_size=batch_size,
            device=device,
            sampling=sampling,
            refiner_dir=str(refiner or ""),
            compiled=compiled,
        )
    except (ModelFileError, ValueError) as error:
        _fail(str(error))
    path = _produce(job, **production)
    click.echo(f"wrote {production['events']} events to {path}")


@main.group("export")
def export_group() -> None:
    """Export a trained generator for other runtimes."""


@export_group.command("onnx")
@click.option("--model", type=click.Path(path_type=Path), required=True, help="Model folder.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="ONNX file to write.")
@click.option(
    "--quantize",
    type=click.Choice(["none", "int8"]),
    default="none",
    show_default=True,
    help="int8: onnxruntime's dynamic quantization of the matrix products.",
)
def export_onnx_command(model: Path, out: Path, quantize: str) -> None:
    """The generator as ONNX (dynamic batch axis), checked against PyTorch with onnxruntime."""
    from fastshower.export import export_onnx
    from fastshower.modelfile import ModelFileError

    path = _writable_output(out)
    try:
        export_onnx(_model_folder(model), path, quantize=None if quantize == "none" else quantize)
    except (ModelFileError, FileNotFoundError, ValueError, ImportError) as error:
        _fail(str(error))
    click.echo(f"wrote {path}")


@export_group.command("half")
@click.option("--model", type=click.Path(path_type=Path), required=True, help="Model folder.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Model folder to write."
)
def export_half_command(model: Path, out: Path) -> None:
    """A copy of the model with its parameters stored as float16: half the file size; it loads
    and computes in float32 as before."""
    from fastshower.modelfile import ModelFileError, halve_model

    try:
        path = halve_model(_model_folder(model), out)
    except (ModelFileError, ValueError) as error:
        _fail(str(error))
    click.echo(f"wrote {path}")


@main.command("bench")
@click.option(
    "--model",
    "models",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Model folder or shipped name; repeat. Default: the shipped models and the published "
    "architectures.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("bench-output"),
    show_default=True,
    help="Folder for bench.json and bench.png.",
)
@click.option("--geant4-events", type=int, default=20, show_default=True)
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke run: two batch sizes, one repeat, neither compiled nor ONNX.",
)
def bench_command(models: tuple[Path, ...], out: Path, geant4_events: int, quick: bool) -> None:
    """Time per shower against batch size for each generator, and Geant4 in the same run."""
    import json

    from fastshower.bench import format_table, run_bench
    from fastshower.modelfile import ModelFileError

    if geant4_events <= 0:
        _fail(f"--geant4-events {geant4_events}: must be positive")
    try:
        folders = [_model_folder(m) for m in models]
        path = run_bench(out, folders or None, quick=quick, geant4_events=geant4_events)
    except ModelFileError as error:
        _fail(str(error))
    click.echo(format_table(json.loads(path.read_text())))
    click.echo(f"wrote {path} and {path.with_suffix('.png')}")


def _require_files(data: tuple[Path, ...]) -> None:
    missing = [str(p) for p in data if not p.is_file()]
    if missing:
        _fail(f"--data: no such file(s): {', '.join(missing)}")


def _model_folder(model: Path) -> Path:
    """A model folder, or the name of a shipped model (``fastshower.pretrained``)."""
    from fastshower.pretrained import resolve_model

    try:
        return resolve_model(model)
    except FileNotFoundError as error:
        _fail(str(error))


@main.command("scan")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    required=True,
    help="Model folder, or a shipped model's name, trained off the centre.",
)
@click.option("--particle", required=True, help="e+, gamma or pi+.")
@click.option("--energy", type=float, required=True, help="Incident energy in GeV.")
@click.option("--from", "start", default="-30,0", show_default=True, help="First point X,Y (mm).")
@click.option("--to", "stop", default="30,0", show_default=True, help="Last point X,Y (mm).")
@click.option("--steps", type=int, default=7, show_default=True, help="Points, ends included.")
@click.option("--seed", type=int, default=0, show_default=True, help="Draws the latent vector.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG file to write.")
def scan_command(
    model: Path,
    particle: str,
    energy: float,
    start: str,
    stop: str,
    steps: int,
    seed: int,
    out: Path,
) -> None:
    """Move the incidence point along a line with the latent vector fixed: one shower per point."""
    import numpy as np

    from fastshower.evaluate.plots import plot_position_scan
    from fastshower.generate import position_scan
    from fastshower.modelfile import ModelFileError

    if steps < 2:
        _fail(f"--steps {steps}: a scan needs at least 2 points")
    if not energy > 0:
        _fail(f"--energy {energy:g}: must be > 0 GeV")
    points = np.linspace(_point(start), _point(stop), steps)
    out = _writable_output(out)
    try:
        arrays = position_scan(_model_folder(model), particle, energy, points, seed)
    except (ModelFileError, ValueError) as error:
        _fail(str(error))
    click.echo(f"wrote {plot_position_scan(arrays, out, label=str(model))}")


@main.command("refine")
@click.option(
    "--generated",
    type=click.Path(path_type=Path),
    required=True,
    help="A model's sample (fastshower generate) to learn the weights of.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Geant4 or Pythia training events (never the test set); repeat to pool.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Refiner folder.")
@click.option(
    "--features",
    type=click.Choice(["high-level", "cells", "pixels"]),
    default=None,
    help="What the refiner sees [high-level for showers, pixels for jets].",
)
@click.option("--epochs", type=int, default=50, show_default=True)
@click.option(
    "--clip", type=float, default=20.0, show_default=True, help="Largest weight an event gets."
)
@click.option("--seed", type=int, default=0, show_default=True)
def refine_command(
    generated: Path,
    reference: tuple[Path, ...],
    out: Path,
    features: str | None,
    epochs: int,
    clip: float,
    seed: int,
) -> None:
    """Learn per-event weights that bring a model's samples towards the reference: a calibrated
    classifier, w = p / (1 - p). Weigh new samples with fastshower generate --refine."""
    from fastshower.io import JET_SCHEMA, dataset_info, schema_of
    from fastshower.training.refiner import RefinerTraining, train_refiner

    _require_files((generated, *reference))
    try:
        if features is None:
            is_jets = schema_of(dataset_info(generated)) is JET_SCHEMA
            features = "pixels" if is_jets else "high-level"
        config = RefinerTraining(features=features, epochs=epochs, clip=clip, seed=seed)
        measured = train_refiner(generated, list(reference), out, config)
    except ValueError as error:
        _fail(str(error))
    click.echo(
        f"wrote {out}: held-out AUC {measured['validation_auc']:.3f} at "
        f"{measured['n_validation_per_class']} events per class; the weights keep "
        f"{measured['effective_sample_fraction']:.0%} of the sample (effective size)"
    )


@main.command("calibrate")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    required=True,
    help="Shower flow or shower RNN: a model folder or a shipped model's name.",
)
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Geant4 training showers (never the test set); repeat, one file per particle or more.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Model folder.")
@click.option(
    "--faint-mev",
    type=click.FloatRange(min=1e-6, min_open=True),
    default=1.0,
    show_default=True,
    help="Cells below this are mapped onto Geant4's spectrum of such cells.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The generated showers.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def calibrate_command(
    model: Path, data: tuple[Path, ...], out: Path, faint_mev: float, seed: int, no_progress: bool
) -> None:
    """Fit a shower model's faint cells (a shower flow's or the shower RNN's) to Geant4's after
    training: per particle and layer, a monotone map of the cells below --faint-mev, written as
    a new model folder."""
    from fastshower.modelfile import ModelFileError
    from fastshower.training.faint_cells import fit_faint_cells

    _require_files(data)
    try:
        written = fit_faint_cells(
            _model_folder(model),
            list(data),
            out,
            threshold_mev=faint_mev,
            seed=seed,
            progress=not no_progress,
        )
    except (ModelFileError, ValueError) as error:
        _fail(str(error))
    click.echo(f"wrote {written}")


@main.command("holdout")
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="A training's shower or jet-image files, in its order; repeat.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for <file>-heldout.h5, one per file.",
)
@click.option("--fraction", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="The training's seed.")
@click.option(
    "--training-events",
    type=int,
    default=0,
    show_default=True,
    help="Also write N events per file that the training learnt from "
    "(<file>-training.h5): the floor, Geant4 against Geant4.",
)
def holdout_command(
    data: tuple[Path, ...], out: Path, fraction: float, seed: int, training_events: int
) -> None:
    """Write the showers or jets a training held out (never learnt from): the reference to
    evaluate its model against."""
    from fastshower.training.trainers import write_held_out

    _require_files(data)
    try:
        for path in write_held_out(
            list(data), out, fraction=fraction, seed=seed, training_events=training_events
        ):
            click.echo(f"wrote {path}")
    except ValueError as error:
        _fail(str(error))


_SHOWER_FILES = click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Shower file; repeat for several particles (one model learns them all).",
)


def _cell_coding(command: Callable) -> Callable:
    """How the shower flows code a cell (``ShowerSpaceSettings``): its floor and smallest hit."""
    command = click.option(
        "--noise-mev",
        type=click.FloatRange(min=0.0, min_open=True),
        default=1e-3,
        show_default=True,
        help="The faintest cell the model learns, in MeV; fainter ones it makes empty.",
    )(command)
    return click.option(
        "--cell-floor",
        type=click.FloatRange(min=0.0),
        default=1e-6,
        show_default=True,
        help="Cells as log(cell / E + floor): 0 is pure log.",
    )(command)


_JET_DATA = click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Jet-image file; repeat (e.g. the W file and the QCD file).",
)


_SHARED_TRAINING_OPTIONS = ("epochs", "batch_size", "seed", "resume", "no_progress")


def _training_options(epochs: int, batch_size: int) -> Callable[[Callable], Callable]:
    """The options every ``train`` command shares, with its own defaults: ``--out``, and the
    others handed to the command as one ``shared`` dict, for ``_train``."""

    def decorate(command: Callable) -> Callable:
        @wraps(command)
        def packed(**kwargs: Any) -> Any:
            shared = {name: kwargs.pop(name) for name in _SHARED_TRAINING_OPTIONS}
            return command(shared=shared, **kwargs)

        for option in reversed(
            [
                click.option(
                    "--out", type=click.Path(path_type=Path), required=True, help="Model folder."
                ),
                click.option("--epochs", type=int, default=epochs, show_default=True),
                click.option("--batch-size", type=int, default=batch_size, show_default=True),
                click.option("--seed", type=int, default=0, show_default=True),
                click.option("--resume", is_flag=True, help="Continue the training in --out."),
                click.option("--no-progress", is_flag=True, help="Hide the progress bar."),
            ]
        ):
            packed = option(packed)
        return packed

    return decorate


def _train(
    train: Callable[..., dict[str, Any]],
    data: Any,
    out: Path,
    base: TrainConfig,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    resume: bool,
    no_progress: bool,
    lr: float | None = None,
    **options: Any,
) -> None:
    """Run ``train(data, out, config, ...)`` with the ``base`` configuration given the shared
    options: what every ``train`` command does once its own options are checked. A ValueError
    (bad data, settings, a teacher that cannot be loaded) ends as the one-line error."""
    changes: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    if lr is not None:
        changes["lr_generator"] = lr
    try:
        config = replace(base, **changes)
        state = train(data, out, config, resume=resume, progress=not no_progress, **options)
    except ValueError as error:  # ModelFileError included
        _fail(str(error))
    if int(os.environ.get("RANK", "0")) == 0:  # one line, not one per torchrun process
        click.echo(f"trained {state['epoch']} epochs; best epoch {state['best_epoch']}: {out}")


@main.group("train")
def train_group() -> None:
    """Train a generator on dataset files (resumable; under torchrun: distributed)."""


@train_group.command("lagan")
@_JET_DATA
@_training_options(epochs=50, batch_size=100)
def train_lagan_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
) -> None:
    """LAGAN on jet images: Adam 2e-4 (beta1 0.5), batch 100, 50 epochs, as published."""
    from fastshower.training.trainers import LAGAN_TRAINING, train_lagan

    _require_files(data)
    _train(train_lagan, list(data), out, LAGAN_TRAINING, **shared)


@train_group.command("jet-flow")
@_JET_DATA
@_training_options(epochs=15, batch_size=256)
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Cosine-decayed to 0.")
@click.option("--transforms", type=click.IntRange(min=2), default=8, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--bins", type=click.IntRange(min=2), default=8, show_default=True)
def train_jet_flow_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    transforms: int,
    hidden: int,
    bins: int,
) -> None:
    """A normalizing flow of jet images (the shower flow's design on one 25x25 layer):
    maximum likelihood, Adam 5e-4 cosine-decayed, batch 256, 15 epochs."""
    from fastshower.training.trainers import JET_FLOW_TRAINING, train_jet_flow

    _require_files(data)
    model_config = {"transforms": transforms, "hidden": hidden, "bins": bins}
    _train(
        train_jet_flow,
        list(data),
        out,
        JET_FLOW_TRAINING,
        lr=lr,
        model_config=model_config,
        **shared,
    )


@train_group.command("jet-rnn")
@_JET_DATA
@_training_options(epochs=20, batch_size=64)
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Cosine-decayed to 0.")
@click.option("--width", type=click.IntRange(min=8), default=128, show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True)
def train_jet_rnn_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    width: int,
    layers: int,
) -> None:
    """An autoregressive recurrent network (GRU) of jet images (the hit pixels hardest first,
    each a pixel and a pT bin) after a flow of its pT, mass and hit count: maximum likelihood,
    Adam 5e-4 cosine-decayed, batch 64, 20 epochs."""
    from fastshower.training.trainers import JET_RNN_TRAINING, train_jet_rnn

    _require_files(data)
    model_config = {"width": width, "layers": layers}
    _train(
        train_jet_rnn, list(data), out, JET_RNN_TRAINING, lr=lr, model_config=model_config, **shared
    )


@train_group.command("calogan")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Shower file.")
@_training_options(epochs=50, batch_size=256)
def train_calogan_command(data: Path, out: Path, shared: dict[str, Any]) -> None:
    """CaloGAN on one particle's showers: Adam 2e-4 (G) / 2e-5 (D), beta1 0.5, batch 256, two
    generator steps per discriminator step, as published."""
    from fastshower.training.trainers import CALOGAN_TRAINING, train_calogan

    if not data.is_file():
        _fail(f"--data {data}: no such file")
    _train(train_calogan, data, out, CALOGAN_TRAINING, **shared)


@train_group.command("flow-matching")
@_SHOWER_FILES
@_training_options(epochs=40, batch_size=128)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Cosine-decayed to 0.")
@click.option("--width", type=int, default=256, show_default=True, help="Velocity network width.")
@click.option("--blocks", type=int, default=4, show_default=True, help="Residual blocks.")
@click.option("--steps", type=int, default=8, show_default=True, help="ODE steps when sampling.")
@_cell_coding
def train_flow_matching_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    width: int,
    blocks: int,
    steps: int,
    cell_floor: float,
    noise_mev: float,
) -> None:
    """A conditional flow-matching model of showers (every particle given, one model); sampled
    with the midpoint rule in --steps steps."""
    from fastshower.models.shower_space import ShowerSpaceSettings
    from fastshower.training.trainers import FLOW_TRAINING, train_flow_matching

    _require_files(data)
    if min(width, blocks, steps) <= 0 or lr <= 0:
        _fail("--width, --blocks, --steps and --lr must be positive")
    space = ShowerSpaceSettings(cell_floor=cell_floor, noise_mev=noise_mev)
    model_config = {"width": width, "blocks": blocks, "steps": steps, **asdict(space)}
    _train(
        train_flow_matching,
        list(data),
        out,
        FLOW_TRAINING,
        lr=lr,
        model_config=model_config,
        **shared,
    )


@train_group.command("calo-flow")
@_SHOWER_FILES
@_training_options(epochs=30, batch_size=256)
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Cosine-decayed to 0.")
@click.option(
    "--transforms",
    type=int,
    default=8,
    show_default=True,
    help="Coupling layers of the cell flow (pairs of complementary halves).",
)
@click.option(
    "--hidden",
    type=int,
    default=256,
    show_default=True,
    help="Width of each coupling layer's network.",
)
@click.option(
    "--coupling",
    type=click.Choice(["dense", "grid"]),
    default="grid",
    show_default=True,
    help="The cell flow's coupling networks: fully connected, or with convolutions on each "
    "layer's grid beside them (each cell sees its neighbourhood: fewer scattered hits).",
)
@click.option("--bins", type=int, default=8, show_default=True, help="Spline bins.")
@click.option(
    "--layer-hits/--no-layer-hits",
    default=True,
    show_default=True,
    help="Flow I also learns each layer's number of hit cells, and the cell flow is given it: "
    "whether a pion's layer is a MIP's few cells or a shower's many is then decided there.",
)
@click.option(
    "--layer-peaks/--no-layer-peaks",
    default=True,
    show_default=True,
    help="Flow I also learns how much of each layer's energy is outside its hottest cell, and "
    "the generated layer is given exactly that: a MIP's one dominant cell is decided there.",
)
@click.option(
    "--layer-energies",
    type=click.Choice(["log", "shares"]),
    default="shares",
    show_default=True,
    help="Flow I learns each layer's log(E_layer / E_incident), or CaloFlow's shares: the "
    "total's of the incident energy, each layer's of what is left (a shower then never holds "
    "more than it brought).",
)
@_cell_coding
def train_calo_flow_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    transforms: int,
    hidden: int,
    coupling: str,
    bins: int,
    layer_hits: bool,
    layer_peaks: bool,
    layer_energies: str,
    cell_floor: float,
    noise_mev: float,
) -> None:
    """A CaloFlow-style normalizing flow of showers (every particle given, one model): layer
    energies, then cells given them, by maximum likelihood; sampled in one pass."""
    from fastshower.models.shower_space import ShowerSpaceSettings
    from fastshower.training.trainers import CALO_FLOW_TRAINING, train_calo_flow

    _require_files(data)
    if min(transforms, hidden) <= 0 or lr <= 0 or bins < 2:
        _fail("--transforms, --hidden and --lr must be positive, --bins at least 2")
    space = ShowerSpaceSettings(
        cell_floor=cell_floor,
        noise_mev=noise_mev,
        layer_hits=layer_hits,
        layer_peaks=layer_peaks,
        layer_energies=layer_energies,
    )
    model_config = {
        "transforms": transforms,
        "hidden": hidden,
        "coupling": coupling,
        "bins": bins,
        **asdict(space),
    }
    _train(
        train_calo_flow,
        list(data),
        out,
        CALO_FLOW_TRAINING,
        lr=lr,
        model_config=model_config,
        **shared,
    )


@train_group.command("shower-rnn")
@_SHOWER_FILES
@_training_options(epochs=16, batch_size=64)
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Cosine-decayed to 0.")
@click.option("--width", type=click.IntRange(min=8), default=128, show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True)
def train_shower_rnn_command(
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    width: int,
    layers: int,
) -> None:
    """An autoregressive recurrent network (GRU) of showers (each layer's hit cells, hottest
    first, each a cell and an energy bin) after a flow of the layer summaries: maximum
    likelihood, Adam 5e-4 cosine-decayed, batch 64, 16 epochs."""
    from fastshower.training.trainers import SHOWER_RNN_TRAINING, train_shower_rnn

    _require_files(data)
    model_config = {"width": width, "layers": layers}
    _train(
        train_shower_rnn,
        list(data),
        out,
        SHOWER_RNN_TRAINING,
        lr=lr,
        model_config=model_config,
        **shared,
    )


@train_group.command("distill")
@click.option(
    "--teacher",
    type=click.Path(path_type=Path),
    required=True,
    help="Flow-matching or CaloFlow model folder to distil.",
)
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="The teacher's training files (their conditions; the same share is held out).",
)
@_training_options(epochs=30, batch_size=256)
@click.option("--lr", type=float, default=3e-4, show_default=True, help="Cosine-decayed to 0.")
@click.option(
    "--width", type=int, default=None, help="Student width [a flow-matching teacher's, else 256]."
)
@click.option(
    "--blocks", type=int, default=None, help="Student blocks [a flow-matching teacher's, else 4]."
)
def train_distill_command(
    teacher: Path,
    data: tuple[Path, ...],
    out: Path,
    shared: dict[str, Any],
    lr: float,
    width: int | None,
    blocks: int | None,
) -> None:
    """A one-step student of a shower flow (flow matching or CaloFlow): one network call per
    shower."""
    from fastshower.training.trainers import DISTILL_TRAINING, distill_one_step

    _require_files(data)
    sizes = {k: v for k, v in (("width", width), ("blocks", blocks)) if v is not None}
    if any(v <= 0 for v in sizes.values()) or lr <= 0:
        _fail("--width, --blocks and --lr must be positive")
    student = partial(distill_one_step, teacher)
    _train(student, list(data), out, DISTILL_TRAINING, lr=lr, model_config=sizes, **shared)


if __name__ == "__main__":  # pragma: no cover
    main()
