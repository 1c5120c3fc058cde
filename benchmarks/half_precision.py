"""What storing a shower model's parameters as float16 (``fastshower export half``) changes in
its showers: the same noise and conditions through the model as trained and through its
half-precision copy, per particle.

    python benchmarks/half_precision.py --model calo-flow --events 2000

Prints, per particle, the relative change of each shower's total energy and of each hit cell's
energy (median and 99th percentile), and the fraction of cells whose hit/empty state flips.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from fastshower.modelfile import halve_model, load_model
from fastshower.particles import pdg_code
from fastshower.pretrained import resolve_model


def _showers(generator: torch.nn.Module, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([layer.flatten(1) for layer in generator(z, condition)], dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="calo-flow", help="Model folder or shipped name.")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    folder = resolve_model(args.model)
    full = load_model(folder)
    with tempfile.TemporaryDirectory() as tmp:
        half = load_model(halve_model(folder, f"{tmp}/half"))
    particles = full.config.get("particles", ["e+"])
    generator = torch.Generator().manual_seed(args.seed)
    n = args.events
    for particle in particles:
        energy = 1 + 99 * torch.rand(n, generator=generator)
        condition = torch.stack(
            [energy, torch.full((n,), float(pdg_code(particle))), torch.zeros(n), torch.zeros(n)],
            dim=1,
        )
        z = torch.randn(n, full.generator.latent_size, generator=generator)
        a = _showers(full.generator, z, condition)
        b = _showers(half.generator, z, condition)
        total = ((b.sum(1) - a.sum(1)) / a.sum(1)).abs()
        hit = a > 0
        cells = ((b - a).abs() / a)[hit]
        print(
            f"{particle:>6}: total energy {total.median():.1e} (median) {total.max():.1e} (max); "
            f"hit cells {cells.median():.1e} (median) {cells.quantile(0.99):.1e} (99 %); "
            f"hit/empty flips {(hit != (b > 0)).float().mean():.1e}"
        )


if __name__ == "__main__":
    main()
