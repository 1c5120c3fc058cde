"""One training loop for every GAN in fastshower: seeded, resumable, distributed, readable.

A model family plugs in through a ``GanRecipe``: it builds its generator and discriminator,
and says how to compute the discriminator's and the generator's loss on a batch. The loop
does the rest, top to bottom:

- **Seeds.** ``seed`` fixes the initial weights; epoch ``e`` shuffles with ``seed + e`` and
  draws its noise from a generator seeded with ``(seed, e, rank)``, so a resumed run repeats
  the interrupted epoch exactly as an uninterrupted one would have run it.
- **Resume.** After every epoch, one checkpoint (``fastshower.checkpoint``) holds both networks,
  both optimisers, the epoch, the history and the best validation score; ``resume=True``
  continues from it. A killed run loses at most the epoch in flight.
- **Validation.** After every epoch the recipe scores a generated sample against held-out data
  (lower is better); the best epoch's generator is written as a model file (``best/``), the
  last one too (``last/``).
- **Distributed.** Under ``torchrun`` (``WORLD_SIZE`` > 1) both networks are wrapped in
  ``DistributedDataParallel``, each rank reads its share of every epoch
  (``DistributedSampler``), and only rank 0 writes files and shows the progress bar. NCCL on
  GPUs, gloo on CPUs.
- **Devices.** CUDA when present, with automatic mixed precision in bfloat16; else CPU in
  float32.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from fastshower.checkpoint import load_checkpoint, save_checkpoint
from fastshower.modelfile import save_model

__all__ = ["GanRecipe", "TrainConfig", "train"]

_CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    """How long and how fast to train; the published values are each recipe's defaults."""

    epochs: int = 50
    batch_size: int = 100
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    generator_steps: int = 1
    """Generator updates per discriminator update (CaloGAN: 2)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.generator_steps) < 1:
            raise ValueError(f"epochs, batch_size and generator_steps must be positive: {self}")


class GanRecipe(Protocol):
    """What a model family tells the loop."""

    name: str
    """Registry name (``fastshower.models.GENERATORS``): what model files record."""
    model_config: dict[str, Any]

    def build(self) -> tuple[nn.Module, nn.Module]:
        """A fresh (generator, discriminator)."""
        ...

    def discriminator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]: ...

    def generator_loss(
        self, generator: nn.Module, discriminator: nn.Module, batch: Any, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        """Scores of a generated sample against held-out data; ``"score"``: lower is better."""
        ...


def train(
    recipe: GanRecipe,
    dataset: torch.utils.data.Dataset,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``recipe``'s networks on ``dataset``; model files go to ``out/best`` and
    ``out/last``. Returns the history (per-epoch mean losses and validation scores)."""
    config = config or TrainConfig()
    out = Path(out)
    rank, world = _distributed()
    device = (
        torch.device("cuda", _local_rank()) if torch.cuda.is_available() else torch.device("cpu")
    )
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    generator, discriminator = (m.to(device) for m in recipe.build())
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_discriminator,
                             betas=config.betas)  # fmt: skip
    state = {"epoch": 0, "history": [], "best_score": math.inf, "best_epoch": 0}
    checkpoint = out / _CHECKPOINT
    if resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, map_location=str(device))
        if saved["train_config"] != _plain(config) or saved["model"] != recipe.name:
            raise ValueError(
                f"{checkpoint} was made by another training ({saved['model']}, "
                f"{saved['train_config']}); resume with the same settings or another --out"
            )
        generator.load_state_dict(saved["generator"])
        discriminator.load_state_dict(saved["discriminator"])
        opt_g.load_state_dict(saved["opt_generator"])
        opt_d.load_state_dict(saved["opt_discriminator"])
        state = {k: saved[k] for k in state}
    elif checkpoint.exists() and rank == 0:
        raise ValueError(f"{out} holds a training already: pass resume=True or another folder")
    g_train, d_train = _wrap(generator, world), _wrap(discriminator, world)
    # Mixed precision on GPUs, in bfloat16: float32's range, so no loss scaling is needed.
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    provenance = {**(provenance or {}), "train_config": _plain(config)}

    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        epoch_seed = int.from_bytes(f"{config.seed}:{epoch}:{rank}".encode(), "little") % 2**63
        rng = torch.Generator(device=device).manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)  # dropout and other global draws: resumable too
        sums: dict[str, float] = {}
        batches = _batches(dataset, config, epoch, rank, world)
        bar = tqdm(batches, desc=f"{recipe.name} epoch {epoch}/{config.epochs}", unit="batch",
                   disable=not progress or rank != 0, leave=False)  # fmt: skip
        for n_batches, batch in enumerate(bar, start=1):
            batch = _to(batch, device)
            with amp:
                loss_d, logs = recipe.discriminator_loss(g_train, d_train, batch, rng)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            for _ in range(config.generator_steps):
                with amp:
                    loss_g, logs_g = recipe.generator_loss(g_train, d_train, batch, rng)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            logs = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **logs, **logs_g}
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix({k: f"{v / n_batches:.3f}" for k, v in sums.items() if "loss" in k})
        record = {"epoch": epoch, **{k: v / n_batches for k, v in sums.items()}}
        generator.eval()
        with torch.no_grad():
            record.update(recipe.validate(generator, rng))
        generator.train()
        state["history"].append(record)
        state["epoch"] = epoch
        if rank == 0:
            if record["score"] < state["best_score"]:
                state["best_score"], state["best_epoch"] = record["score"], epoch
                _save(out / "best", recipe, generator, {**provenance, "epochs": epoch})
            _save(out / "last", recipe, generator, {**provenance, "epochs": epoch})
            save_checkpoint(checkpoint, {
                "model": recipe.name, "train_config": _plain(config),
                "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                "opt_generator": opt_g.state_dict(), "opt_discriminator": opt_d.state_dict(),
                **state,
            })  # fmt: skip
            (out / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
            if progress:
                tqdm.write(json.dumps({k: round(v, 4) for k, v in record.items()}))
    return state


def _save(folder: Path, recipe: GanRecipe, generator: nn.Module, provenance: dict) -> None:
    save_model(folder, recipe.name, generator, recipe.model_config, provenance)


def _batches(
    dataset: torch.utils.data.Dataset, config: TrainConfig, epoch: int, rank: int, world: int
) -> Iterator[Any]:
    """This rank's batches of epoch ``epoch``: a shuffle that depends on (seed, epoch) only."""
    if world > 1:
        sampler = torch.utils.data.DistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        return iter(torch.utils.data.DataLoader(dataset, config.batch_size, sampler=sampler,
                                                drop_last=True))  # fmt: skip
    shuffle = torch.Generator().manual_seed(config.seed + epoch)
    return iter(torch.utils.data.DataLoader(dataset, config.batch_size, shuffle=True,
                                            generator=shuffle, drop_last=True))  # fmt: skip


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank() if world > 1 else 0), world


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _wrap(module: nn.Module, world: int) -> nn.Module:
    if world == 1:
        return module
    return nn.parallel.DistributedDataParallel(module, broadcast_buffers=False)


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


def _plain(config: TrainConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))
