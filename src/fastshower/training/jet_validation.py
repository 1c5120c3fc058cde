"""The validation score of the jet models: how far the generated jet mass is from held-out
jets', per class (the observable LAGAN's W peak is judged by)."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["jet_mass_distances"]


def jet_mass_distances(
    sample: Callable[[torch.Tensor], torch.Tensor],
    images_gev: torch.Tensor,
    labels: torch.Tensor,
    n: int,
) -> dict[str, float]:
    """Wasserstein-1 (GeV) between the masses of up to ``n`` held-out images per class (in GeV)
    and as many generated ones (``sample(labels)`` -> images in GeV), per class and summed as
    ``score`` (lower is better)."""
    from scipy.stats import wasserstein_distance

    from fastshower.observables.jets import image_observables

    scores = {}
    for cls, name in ((1, "w"), (0, "qcd")):
        real = images_gev[labels == cls][:n]
        if len(real) == 0:
            continue
        fake = sample(torch.full((len(real),), cls, dtype=torch.int64))
        masses = [image_observables(x.numpy())["mass"] for x in (real, fake)]
        scores[f"mass_w1_{name}"] = float(wasserstein_distance(*masses))
    return {**scores, "score": sum(scores.values())}
