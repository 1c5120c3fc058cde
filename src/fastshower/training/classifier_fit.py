"""Training a binary classifier the one way fastshower does: Adam on the (weighted) binary
cross-entropy, early-stopped on a validation split, ending with the best epoch's weights.

The classifier test's network, the W/QCD tagger and the refiner all train so; why early
stopping: on tens of thousands of events these networks memorise before they have learnt all
they can, and the epoch of the lowest validation loss is the one that generalises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["Fitted", "fit_classifier"]

Labelled = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
"""Features (N, ...), labels (N,) as 0./1., weights (N,) or None."""


@dataclass
class Fitted:
    best_epoch: int
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)


def fit_classifier(
    model: nn.Module,
    train: Labelled,
    validation: Labelled,
    *,
    epochs: int,
    patience: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> Fitted:
    """Train ``model`` (features -> one logit per event) and leave it with the weights of the
    epoch whose validation loss was lowest; training stops ``patience`` epochs after it."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    x, y, w = train
    weights = torch.ones_like(y) if w is None else w
    best, best_state = math.inf, None
    fitted = Fitted(best_epoch=0)
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            optimiser.zero_grad()
            loss = _loss(model(x[batch]), y[batch], weights[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        fitted.train_loss.append(total / len(x))
        model.eval()
        with torch.no_grad():
            val_x, val_y, val_w = validation
            val_loss = float(
                _loss(model(val_x), val_y, torch.ones_like(val_y) if val_w is None else val_w)
            )
        fitted.validation_loss.append(val_loss)
        if val_loss < best:
            best, fitted.best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch - fitted.best_epoch >= patience:
            break
    assert best_state is not None  # the first epoch always improves on inf
    model.load_state_dict(best_state)
    model.eval()
    return fitted


def _loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    bce = nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), y, reduction="none")
    return (bce * w).sum() / w.sum()
