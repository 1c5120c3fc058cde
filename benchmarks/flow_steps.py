"""Fidelity against sampling cost for a flow-matching model: classifier AUC per ODE solver and
number of steps (and for one-step students), with the time per shower, in one evaluate run.

    python benchmarks/flow_steps.py --model runs/fm/best --reference eplus-heldout.h5 \\
        --steps 1,2,4,8,16 --student runs/distill/best --events 1000 --out flow-steps

Each setting is the same weights with another ``steps`` / ``solver`` in the model config (a
model folder per setting under ``--out``), generated with ``fastshower generate``'s machinery for
the particle and energy range of the reference, and judged by ``fastshower evaluate`` against
the held-out reference (``fastshower holdout``) in one report. The time is ms per shower at
batch 1024 through PyTorch on this machine's cores (median of 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from fastshower.evaluate.report import evaluate
from fastshower.generate import GenerateJob
from fastshower.io import read_showers
from fastshower.modelfile import load_model, save_model
from fastshower.particles import particle_name
from fastshower.simulate.production import produce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="flow-matching model folder")
    parser.add_argument("--reference", required=True, help="held-out Geant4 showers")
    parser.add_argument("--steps", default="1,2,4,8,16")
    parser.add_argument("--solvers", default="euler,midpoint")
    parser.add_argument("--student", action="append", default=[], help="one-step model folder")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--out", default="flow-steps")
    args = parser.parse_args()

    out = Path(args.out)
    reference = read_showers(args.reference)
    particle = particle_name(int(reference["particle"][0]))
    energy = reference["energy"][:, 0]
    condition = {"particle": particle, "energy_gev": [float(energy.min()), float(energy.max())]}
    base = load_model(args.model)
    settings = {}
    for solver in args.solvers.split(","):
        for steps in map(int, args.steps.split(",")):
            config = {**base.config, "steps": steps, "solver": solver}
            folder = save_model(
                out / "models" / f"{solver}-{steps}",
                base.name,
                base.generator,
                config,
                base.provenance,
            )
            settings[
                f"{solver} {steps} steps ({steps * (2 if solver == 'midpoint' else 1)} calls)"
            ] = folder
    for student in args.student:
        name = Path(student).resolve().parent.name
        settings[f"student {name} (1 call)"] = Path(student)

    rows, candidates = [], []
    for label, folder in settings.items():
        path = out / f"{label.split(' (')[0].replace(' ', '-')}.h5"
        job = GenerateJob(str(folder), condition)
        produce(job, path, args.events, seed=11, workers=0, progress=False)
        candidates.append(path)
        rows.append(
            {
                "setting": label,
                "file": str(path),
                "ms_per_shower": _time(folder, float(reference["particle"][0])),
            }
        )
    report = evaluate(Path(args.reference), candidates, out / "report", seed=0)
    metrics = json.loads((report.parent / "metrics.json").read_text())
    for row, candidate in zip(rows, metrics["candidates"], strict=True):
        row.update({f"auc_{k}": v["auc"] for k, v in candidate["classifier"].items()})
        row["auc_uncertainty"] = candidate["classifier"]["unnormalized"]["auc_uncertainty"]
    (out / "flow_steps.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{'setting':36s} {'ms/shower':>10s} {'AUC unnorm':>11s} {'norm':>6s} {'high':>6s}")
    for r in rows:
        print(
            f"{r['setting']:36s} {r['ms_per_shower']:10.3f} {r['auc_unnormalized']:7.3f}"
            f"+-{r['auc_uncertainty']:.3f} {r['auc_normalized']:6.3f} {r['auc_high_level']:6.3f}"
        )
    print(f"report: {report}")


def _time(folder: Path, pdg: float, batch: int = 1024) -> float:
    generator = load_model(folder).generator
    z = torch.randn(batch, generator.latent_size)
    condition = torch.tensor([[50.0, pdg, 0.0, 0.0]]).repeat(batch, 1)
    times = []
    with torch.inference_mode():
        generator(z, condition)
        for _ in range(3):
            start = time.perf_counter()
            generator(z, condition)
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times) / batch


if __name__ == "__main__":
    main()
