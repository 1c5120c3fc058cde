"""One training loop for every model in fastshower: seeded, resumable, distributed, readable.

A model family plugs in through a ``Recipe``: it builds its named networks (``"generator"`` is
the one model files hold) and lists the updates of one batch, each a loss and the network whose
optimiser steps on it. A GAN (``GanRecipe``: a generator and a discriminator loss) becomes two
updates, discriminator then generator, as published; a flow is one update of its one network.
The loop does the rest, top to bottom:

- **Seeds.** ``seed`` fixes the initial weights; epoch ``e`` shuffles with ``seed + e`` and
  draws its noise from a generator seeded with ``(seed, e, rank)``, so a resumed run repeats
  the interrupted epoch exactly as an uninterrupted one would have run it.
- **Learning rate and averaging.** Constant (the GANs, as published) or cosine-decayed to 0 over
  the run (``lr_schedule``), computed from the step number, so it needs no state of its own.
  ``ema`` > 0 keeps an exponential moving average of the generator's weights, which is what
  validation sees and model files hold (what flow-matching and diffusion models sample from).
- **Resume.** After every epoch, one checkpoint (``fastshower.checkpoint``) holds every network,
  every optimiser, the average, the epoch, the history and the best validation score;
  ``resume=True`` continues from it. A killed run loses at most the epoch in flight.
- **Validation.** After every epoch the recipe scores a generated sample against held-out data
  (lower is better); the best epoch's generator is written as a model file (``best/``), the
  last one too (``last/``).
- **Distributed.** Under ``torchrun`` (``WORLD_SIZE`` > 1) every network is wrapped in
  ``DistributedDataParallel``, each rank reads its share of every epoch
  (``DistributedSampler``), and only rank 0 writes files and shows the progress bar. NCCL on
  GPUs, gloo on CPUs.
- **Devices.** CUDA when present, else CPU. Automatic mixed precision in bfloat16 on GPUs and
  on CPUs with bfloat16 matrix units (Intel AMX; ``docs/models.md``), unless
  the recipe says otherwise (``mixed_precision``: the likelihoods stay in float32); else
  float32.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Iterator, Sized
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from tqdm.auto import tqdm

from fastshower._cpus import bfloat16_matrix_units
from fastshower.checkpoint import load_checkpoint, save_checkpoint
from fastshower.modelfile import save_model
from fastshower.training.recipe import GanRecipe, Recipe, TrainConfig, Update

__all__ = ["GanRecipe", "Recipe", "TrainConfig", "Update", "train"]

_CHECKPOINT = "checkpoint.pt"


def train(
    recipe: Recipe,
    dataset: torch.utils.data.Dataset,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``recipe``'s networks on ``dataset``; model files go to ``out/best`` and
    ``out/last``. Returns the history (per epoch: mean losses, validation scores, seconds)."""
    config = config or TrainConfig()
    out = Path(out)
    rank, world = _distributed()
    device = (
        torch.device("cuda", _local_rank()) if torch.cuda.is_available() else torch.device("cpu")
    )
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    networks = {name: m.to(device) for name, m in recipe.networks().items()}
    updates = recipe.updates(config)
    optimizers = {
        u.network: torch.optim.Adam(networks[u.network].parameters(), lr=u.lr, betas=config.betas)
        for u in updates
    }
    generator = networks["generator"]
    average = copy.deepcopy(generator).requires_grad_(False) if config.ema else None
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_score": math.inf, "best_epoch": 0}
    checkpoint = out / _CHECKPOINT
    if resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, map_location=str(device))
        if saved["train_config"] != _plain(config) or saved["model"] != recipe.name:
            raise ValueError(
                f"{checkpoint} was made by another training ({saved['model']}, "
                f"{saved['train_config']}); resume with the same settings or another --out"
            )
        for name, network in networks.items():
            network.load_state_dict(saved["networks"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
        if average is not None:
            average.load_state_dict(saved["average"])
        state = {k: saved[k] for k in state}
    elif checkpoint.exists() and rank == 0:
        raise ValueError(f"{out} holds a training already: pass resume=True or another folder")
    wrapped = {name: _wrap(m, world) for name, m in networks.items()}
    # Mixed precision in bfloat16 (float32's range, so no loss scaling is needed) where the
    # hardware multiplies it faster: GPUs, and CPUs with matrix units
    fast_bf16 = device.type == "cuda" or (device.type == "cpu" and bfloat16_matrix_units())
    amp = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=fast_bf16 and recipe.mixed_precision
    )
    provenance = {**(provenance or {}), "train_config": _plain(config)}
    steps_per_epoch = _n_batches(dataset, config, world)

    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        epoch_seed = int.from_bytes(f"{config.seed}:{epoch}:{rank}".encode(), "little") % 2**63
        rng = torch.Generator(device=device).manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)  # dropout and other global draws: resumable too
        sums: dict[str, float] = {}
        started = time.perf_counter()
        batches = _batches(dataset, config, epoch, rank, world)
        bar = tqdm(
            batches,
            desc=f"{recipe.name} epoch {epoch}/{config.epochs}",
            unit="batch",
            disable=not progress or rank != 0,
            leave=False,
        )
        for n_batches, batch in enumerate(bar, start=1):
            batch = _to(batch, device)
            step = (epoch - 1) * steps_per_epoch + n_batches - 1
            logs: dict[str, float] = {}
            for update in updates:
                optimizer = optimizers[update.network]
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(update.lr, step, config, steps_per_epoch)
                for _ in range(update.repeats):
                    with amp:
                        loss, step_logs = update.loss(wrapped, batch, rng)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                logs.update(step_logs)
            if average is not None:
                _update_average(average, generator, min(config.ema, (1 + step) / (10 + step)))
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix({k: f"{v / n_batches:.3f}" for k, v in sums.items() if "loss" in k})
        record = {"epoch": epoch, **{k: v / n_batches for k, v in sums.items()}}
        sampler = average if average is not None else generator
        validated = epoch % config.validate_every == 0 or epoch == config.epochs
        if validated:
            sampler.eval()
            with torch.no_grad():
                record.update(recipe.validate(sampler, rng))
            sampler.train()
        record["seconds"] = round(time.perf_counter() - started, 1)  # the cost, with validation
        state["history"].append(record)
        state["epoch"] = epoch
        if rank == 0:
            if validated and record["score"] < state["best_score"]:
                state["best_score"], state["best_epoch"] = record["score"], epoch
                _save(out / "best", recipe, sampler, {**provenance, "epochs": epoch})
            _save(out / "last", recipe, sampler, {**provenance, "epochs": epoch})
            save_checkpoint(
                checkpoint,
                {
                    "model": recipe.name,
                    "train_config": _plain(config),
                    "networks": {name: m.state_dict() for name, m in networks.items()},
                    "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
                    "average": average.state_dict() if average is not None else None,
                    **state,
                },
            )
            (out / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
            if progress:
                tqdm.write(json.dumps({k: round(v, 4) for k, v in record.items()}))
    return state


def _learning_rate(base: float, step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    if config.lr_schedule == "constant":
        return base
    total = max(1, config.epochs * steps_per_epoch)
    return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


@torch.no_grad()
def _update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * model, for weights; buffers are copied."""
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        a.lerp_(p.detach(), 1 - decay)
    for buffer, source in zip(average.buffers(), model.buffers(), strict=True):
        buffer.copy_(source)


def _n_batches(dataset: torch.utils.data.Dataset, config: TrainConfig, world: int) -> int:
    # a map-style dataset: fastshower's have a length (torch's Dataset type does not say so)
    return max(1, len(cast(Sized, dataset)) // world // config.batch_size)


def _save(folder: Path, recipe: Recipe, generator: nn.Module, provenance: dict) -> None:
    save_model(folder, recipe.name, generator, recipe.model_config, provenance)


def _batches(
    dataset: torch.utils.data.Dataset, config: TrainConfig, epoch: int, rank: int, world: int
) -> Iterator[Any]:
    """This rank's batches of epoch ``epoch``: a shuffle that depends on (seed, epoch) only."""
    if world > 1:
        sampler: torch.utils.data.DistributedSampler[Any] = torch.utils.data.DistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        return iter(
            torch.utils.data.DataLoader(dataset, config.batch_size, sampler=sampler, drop_last=True)
        )
    shuffle = torch.Generator().manual_seed(config.seed + epoch)
    return iter(
        torch.utils.data.DataLoader(
            dataset, config.batch_size, shuffle=True, generator=shuffle, drop_last=True
        )
    )


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
