"""How far a two-flow shower model (``calo-flow``) is from Geant4 when its flow I is perfect.

``calo-flow`` draws each layer's summaries first (flow I: energy, number of hits, energy outside
the hottest cell), then the cells given them (flow II). Which of the two the judge sees is not
obvious from the model's own sample. This writes two samples at the conditions of a Geant4 file,
from the same cell noise: the model as it is, and its flow II given the summaries of the Geant4
showers themselves, decoded as the model decodes (faint-cell map included). Judged in one
``fastshower evaluate`` run against a test set, the second sample's AUC is what no better flow I
can go below. Give Geant4 *training* showers, never the test set the samples are judged against.
With ``--judge TEST``, the boosted trees also tell each sample's layer summaries alone (what flow
I draws: per layer the energy, the hits, the energy outside the hottest cell) from the test set's.

    python benchmarks/summaries_oracle.py --model calo-flow --data piplus-train-s3.h5 \
        --out oracle/ [--judge piplus-test.h5]
    fastshower evaluate --reference piplus-test.h5 --candidate oracle/model.h5 \
        --candidate oracle/geant4-summaries.h5 --candidate piplus-train-s3.h5 --out report
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from fastshower.detector import CALORIMETER
from fastshower.evaluate.classifier import ClassifierConfig, judge
from fastshower.io import read_showers, write_showers
from fastshower.modelfile import load_model
from fastshower.models.calo_flow import TwoFlows
from fastshower.observables.calo import layer_energies, max_cell_energies
from fastshower.pretrained import resolve_model
from fastshower.training.data import load_shower_vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="calo-flow", help="a shipped name or a model folder")
    parser.add_argument("--data", required=True, help="Geant4 training showers")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--judge", help="Geant4 test showers to judge the summaries against")
    args = parser.parse_args()

    loaded = load_model(resolve_model(args.model))
    model = loaded.generator.float().eval()
    if not isinstance(model, TwoFlows):
        parser.error(f"{args.model}: not a two-flow shower model (calo-flow)")
    space = model.space
    geant4 = load_shower_vectors(args.data)
    unknown = set(geant4.particles) - set(space.particles)
    if unknown:
        parser.error(f"{args.data}: {sorted(unknown)}, which the model did not learn")
    cells, condition = geant4.cells, geant4.condition
    n = len(geant4)
    generator = torch.Generator().manual_seed(args.seed)
    latent = torch.randn(n, model.latent_size, generator=generator)
    with torch.inference_mode():
        # Geant4's summaries in the model's coordinates (dequantised as in training)
        truth = space.encode(cells, condition, generator)[:, : space.head]
        samples: dict[str, list[tuple[torch.Tensor, ...]]] = {"model": [], "geant4-summaries": []}
        for start in range(0, n, args.batch_size):
            part = slice(start, start + args.batch_size)
            samples["model"].append(
                space.decode(model.sample_space(latent[part], condition[part]), condition[part])
            )
            # the same cell noise, given Geant4's summaries instead of flow I's
            context = torch.cat([space.context(condition[part]), truth[part]], dim=1)
            flow_ii = model.sample_cells(latent[part, space.head :], context)
            x = torch.cat([truth[part], flow_ii], dim=1)
            samples["geant4-summaries"].append(space.decode(x, condition[part]))
    test = layer_summaries(read_showers(args.judge).arrays) if args.judge else None
    args.out.mkdir(parents=True, exist_ok=True)
    for name, parts in samples.items():
        arrays = {
            layer.key: torch.cat([p[i] for p in parts]).reshape(n, *layer.shape).numpy()
            for i, layer in enumerate(CALORIMETER.layers)
        }
        arrays |= {
            "energy": condition[:, :1].numpy(),
            "overflow": np.zeros((n, len(CALORIMETER.layers)), dtype=np.float32),
            "particle": condition[:, 1].numpy().astype(np.int32),
            "position": condition[:, 2:].numpy(),
        }
        provenance = {
            "generator": f"{args.model} ({name})",
            "model": loaded.name,  # a model's sample to evaluate, not a simulation (the floor)
            "model_config": loaded.config,
            "summaries_from": str(args.data) if name == "geant4-summaries" else "flow I",
            "seed": args.seed,
        }
        print("wrote", write_showers(args.out / f"{name}.h5", arrays, provenance))
        if test is not None:
            config = ClassifierConfig(epochs=1)  # the trees are the point
            trees = judge(test, layer_summaries(arrays), config).trees
            assert trees is not None
            print(
                f"  its layer summaries against {args.judge}, trees: {trees.auc:.3f} +- "
                f"{trees.auc_uncertainty:.3f} ({trees.n_per_class} per class)"
            )


def layer_summaries(showers: dict[str, np.ndarray]) -> np.ndarray:
    """log10 of the incident energy, then per layer log10 of its energy, its number of hits
    of at least 1 keV and log10 of its energy outside the hottest cell (MeV)."""
    energies = layer_energies(showers).astype(np.float64)
    hits = [
        (showers[layer.key] >= 1e-3).reshape(len(energies), -1).sum(1)
        for layer in CALORIMETER.layers
    ]
    outside = energies - max_cell_energies(showers)
    columns = [
        np.log10(showers["energy"].reshape(-1, 1)),
        np.log10(energies + 1e-3),
        np.column_stack(hits),
        np.log10(outside + 1e-3),
    ]
    return np.hstack(columns).astype(np.float32)


if __name__ == "__main__":
    main()
