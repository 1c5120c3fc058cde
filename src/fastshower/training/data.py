"""Dataset files as training tensors, with the preprocessing each published model used, invertible.

The network sees the data in its own units; everything it writes back goes through the inverse,
so generated files have the dataset's units (``fastshower.io``) and ``fastshower evaluate`` takes
them unchanged.

- Jet images (LAGAN, arXiv:1701.05927): pixel pT divided by 100 GeV, pixels below 1e-3 of that
  (0.1 GeV) set to 0; the class is the file's ``signal`` (1 = W, 0 = QCD).
- Showers (CaloGAN, arXiv:1705.02355): cells from MeV to GeV; the incident energy in GeV.
- Shower vectors (the flows): cells in MeV, flattened, and the condition (energy in GeV, PDG
  code, position in mm), from one or several files; the flows' own space is
  ``fastshower.models.shower_space``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fastshower.detector import CALORIMETER
from fastshower.io import JET_SCHEMA, read_dataset, read_showers

__all__ = [
    "JetImagePreprocessing",
    "JetImages",
    "ShowerVectors",
    "Showers",
    "file_sha256",
    "load_jet_images",
    "load_shower_vectors",
    "load_showers",
]


@dataclass(frozen=True)
class JetImagePreprocessing:
    """LAGAN's: pT / ``scale_gev``, then values below ``threshold`` (in those units) to 0."""

    scale_gev: float = 100.0
    threshold: float = 1e-3

    def forward(self, images_gev: np.ndarray) -> np.ndarray:
        x = np.asarray(images_gev, dtype=np.float32) / self.scale_gev
        return np.where(x < self.threshold, 0.0, x).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Network units back to pT in GeV (what was thresholded stays 0)."""
        return np.asarray(x, dtype=np.float32) * self.scale_gev


@dataclass
class JetImages(torch.utils.data.Dataset):
    """Preprocessed images (N, 25, 25) and their classes (N,), as tensors."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]


def load_jet_images(
    paths: list[str | os.PathLike[str]] | str | os.PathLike[str],
    preprocessing: JetImagePreprocessing | None = None,
) -> JetImages:
    """One dataset from one or several jet-image files (e.g. the W file and the QCD file)."""
    preprocessing = preprocessing or JetImagePreprocessing()
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("no jet-image files given")
    images, labels = [], []
    for path in paths:
        data = read_dataset(path, JET_SCHEMA)
        images.append(preprocessing.forward(data["image"]))
        labels.append(data["signal"].astype(np.int64))
    return JetImages(
        torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))
    )


@dataclass
class Showers(torch.utils.data.Dataset):
    """Cells per layer in GeV (tensors (N, n_x, n_y)) and the incident energy in GeV (N,)."""

    layers: tuple[torch.Tensor, ...]
    energy: torch.Tensor
    particle: str

    def __len__(self) -> int:
        return len(self.energy)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return (*(layer[index] for layer in self.layers), self.energy[index])

    def subset(self, index: torch.Tensor) -> Showers:
        return Showers(tuple(x[index] for x in self.layers), self.energy[index], self.particle)


def load_showers(path: str | os.PathLike[str]) -> Showers:
    """A shower file as CaloGAN's training tensors; one particle per file (one GAN each)."""
    from fastshower.particles import particle_name

    data = read_showers(path)
    codes = np.unique(data.arrays.get("particle", np.zeros(0, dtype=np.int32)))
    if len(codes) > 1:
        raise ValueError(f"{path} holds several particles ({codes.tolist()}); CaloGAN learns one")
    particle = particle_name(int(codes[0])) if len(codes) else "unknown"
    layers = tuple(torch.from_numpy(data[layer.key] / 1000.0) for layer in CALORIMETER.layers)
    return Showers(layers, torch.from_numpy(data["energy"][:, 0].astype(np.float32)), particle)


@dataclass
class ShowerVectors(torch.utils.data.Dataset):
    """Cells (N, 504) in MeV, layers flattened in order, and conditions (N, 4): incident energy
    (GeV), PDG code, incidence x and y (mm)."""

    cells: torch.Tensor
    condition: torch.Tensor

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cells[index], self.condition[index]

    def subset(self, index: torch.Tensor) -> ShowerVectors:
        return ShowerVectors(self.cells[index], self.condition[index])

    @property
    def particles(self) -> list[str]:
        from fastshower.particles import particle_name

        return [particle_name(int(c)) for c in torch.unique(self.condition[:, 1]).tolist()]


def load_shower_vectors(
    paths: list[str | os.PathLike[str]] | str | os.PathLike[str],
) -> ShowerVectors:
    """One dataset from shower files of any particles (one model learns them all)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("no shower files given")
    cells, conditions = [], []
    for path in paths:
        data = read_showers(path)
        n = len(data["energy"])
        if "particle" not in data.arrays:
            raise ValueError(f"{path} does not say which particle made its showers")
        position = data.arrays.get("position", np.zeros((n, 2), dtype=np.float32))
        cells.append(
            np.concatenate([data[layer.key].reshape(n, -1) for layer in CALORIMETER.layers], axis=1)
        )
        conditions.append(np.column_stack([data["energy"][:, 0], data["particle"], position]))
    as_tensor = lambda parts: torch.from_numpy(np.concatenate(parts).astype(np.float32))  # noqa: E731
    return ShowerVectors(as_tensor(cells), as_tensor(conditions))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in blocks: what model files record of their training data."""
    digest = hashlib.sha256()
    with open(Path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
