"""Where a shower flow's sampling time goes, and what smaller versions of its architecture would
take: ms per shower at one batch size through PyTorch on this machine's cores.

    python benchmarks/shower_flow_parts.py [--model calo-flow] [--batch 1024] \\
        [--smaller 4x256 4x128 4x128x1b4]

For the model: flow I (the layer coordinates, sampled by its autoregressive inverse), the cell
flow's couplings, the decoding to cells in MeV, and the whole generator uncompiled and compiled;
then the part that does not depend on the cell flow (flow I and the decoding) compiled. Each
``--smaller`` architecture is the model's configuration with its couplings' ``TRANSFORMS x
HIDDEN[x LAYERS][bBINS]`` changed, fresh weights (its time does not depend on them), the whole
generator compiled: how fast a student of that size could be before it is trained. Median of
``--repeats`` calls after two warm-up calls; run with other work stopped, and compare figures of
one run only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from fastshower.bench import _noise
from fastshower.modelfile import load_model
from fastshower.models import family
from fastshower.models.autoregressive import invert_flow
from fastshower.models.calo_flow import CaloFlowGenerator
from fastshower.pretrained import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="calo-flow", help="Shipped name or model folder.")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--smaller", nargs="*", default=[], help="e.g. 4x128 or 4x128x1b4.")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # torch's compiler is talkative
    loaded = load_model(resolve_model(args.model))
    generator: Any = loaded.generator.eval()
    latent = torch.from_numpy(_noise(args.batch, generator.latent_size))
    condition = family(loaded.name).example_condition(generator, args.batch)

    def ms(call: Callable[[], Any]) -> float:
        with torch.inference_mode():
            call()
            call()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
        return statistics.median(times) / args.batch * 1000

    space, head = generator.space, generator.space.head
    with torch.inference_mode():
        context = space.context(condition)
        energies = invert_flow(generator.energy_flow, latent[:, :head], context)
        sampled = generator.sample_space(latent, condition)
    cells_context = torch.cat([context, energies], dim=1)
    print(f"{args.model}, ms per shower at batch {args.batch}, {torch.get_num_threads()} threads")
    rows = {
        "flow I": ms(lambda: invert_flow(generator.energy_flow, latent[:, :head], context)),
        "cell flow": ms(lambda: generator.sample_cells(latent[:, head:], cells_context)),
        "decoding": ms(lambda: space.decode(sampled, condition)),
        "whole": ms(lambda: generator(latent, condition)),
        "whole, compiled": ms(_compiled(generator, latent, condition)),
    }
    couplings = generator.cell_flow.transform.transforms
    generator.cell_flow.transform.transforms = nn.ModuleList()  # flow I and the decoding only
    rows["flow I and decoding, compiled"] = ms(_compiled(generator, latent, condition))
    generator.cell_flow.transform.transforms = couplings
    for name, value in rows.items():
        print(f"  {name:32s} {value:.4f}")
    for spec in args.smaller:
        smaller = _smaller(loaded.config, spec, generator)
        parameters = sum(p.numel() for p in smaller.parameters()) / 1e6
        value = ms(_compiled(smaller, latent, condition))
        print(f"  {spec:12s} ({parameters:5.2f} M parameters), compiled {value:.4f}")


def _compiled(generator: nn.Module, *inputs: torch.Tensor) -> Callable[[], Any]:
    torch._dynamo.reset()
    compiled = torch.compile(generator, dynamic=False)
    return lambda: compiled(*inputs)


def _smaller(config: dict[str, Any], spec: str, like: Any) -> CaloFlowGenerator:
    """The model's configuration with TRANSFORMS x HIDDEN[x LAYERS][bBINS] of ``spec``, its
    space (standardisation, faint-cell map) copied so that it decodes as the model does."""
    match = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?(?:b(\d+))?", spec)
    if match is None:
        raise SystemExit(f"--smaller {spec}: expected TRANSFORMS x HIDDEN[x LAYERS][bBINS]")
    transforms, hidden, layers, bins = match.groups()
    changed = {"transforms": int(transforms), "hidden": int(hidden)}
    if layers:
        changed["hidden_layers"] = int(layers)
    if bins:
        changed["bins"] = int(bins)
    smaller = CaloFlowGenerator(**{**config, **changed}).eval()
    smaller.space.load_state_dict(like.space.state_dict())
    return smaller


if __name__ == "__main__":
    main()
