"""Seconds per training step of the published GANs on this machine: one discriminator update
and the recipe's generator updates (CaloGAN two, LAGAN one), at the published batch sizes, in
float32 and, where the CPU has bfloat16 matrix units (AMX), in the training loop's bfloat16
mixed precision too.

    python benchmarks/gan_training_step.py --threads 1 --repeats 3

Inputs are random tensors of the real shapes: the cost of a step does not depend on the values.
Prints the median and the spread (half the range) of the repeats, after one warm-up step; with a
training's number of batches per epoch this gives the time per epoch before a run is started.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from fastshower._cpus import bfloat16_matrix_units
from fastshower.detector import CALORIMETER
from fastshower.training.calogan import CaloganRecipe
from fastshower.training.lagan import LaganRecipe
from fastshower.training.trainers import CALOGAN_TRAINING, LAGAN_TRAINING

_TRAINING = {"calogan": CALOGAN_TRAINING, "lagan": LAGAN_TRAINING}


def _batches(name: str, n: int) -> tuple:
    if name == "calogan":
        layers = [torch.rand(n, *shape) for shape in CALORIMETER.layer_shapes]
        return (*layers, 1 + 99 * torch.rand(n))
    return torch.rand(n, 25, 25), torch.randint(0, 2, (n,))


def time_steps(name: str, batch_size: int, repeats: int, bfloat16: bool) -> list[float]:
    recipe = CaloganRecipe() if name == "calogan" else LaganRecipe()
    networks = recipe.networks()
    optimisers = {key: torch.optim.Adam(net.parameters(), 2e-4) for key, net in networks.items()}
    updates = recipe.updates(_TRAINING[name])
    batch, rng = _batches(name, batch_size), torch.Generator().manual_seed(0)

    def step() -> None:
        for update in updates:
            for _ in range(update.repeats):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
                    loss, _ = update.loss(networks, batch, rng)
                optimisers[update.network].zero_grad()
                loss.backward()
                optimisers[update.network].step()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    precisions = (False, True) if bfloat16_matrix_units() else (False,)
    for name in ("calogan", "lagan"):
        batch_size = _TRAINING[name].batch_size
        for bfloat16 in precisions:
            times = time_steps(name, batch_size, args.repeats, bfloat16)
            spread = (max(times) - min(times)) / 2
            print(
                f"{name}: batch {batch_size}, {args.threads} thread(s), "
                f"{'bfloat16' if bfloat16 else 'float32'}: "
                f"{statistics.median(times):.2f} +- {spread:.2f} s per step"
            )


if __name__ == "__main__":
    main()
