"""Shower files to and from the CaloChallenge's format, so that its own ``evaluate.py`` can judge
fastshower samples and CaloChallenge-format samples can come to ``fastshower evaluate``.

The CaloChallenge format (Fast Calorimeter Simulation Challenge 2022) is an HDF5 file with two
datasets: ``incident_energies`` (N, 1) and ``showers`` (N, n_voxels), both in MeV. Here the
voxels are the CaloGAN cells in the order of the dataset layout: layer 0's 3 x 96 cells, then
layer 1's 12 x 12, then layer 2's 12 x 6, each layer flattened row by row (``[x][y]``): 504
voxels. The format has no overflow, position or provenance: converting to it drops the overflow
and the position and keeps fastshower's provenance as a JSON attribute ``fastshower_provenance``;
converting from it sets the overflow to 0 (unknown) and the position to the calorimeter's centre
(0, 0) (the CaloChallenge's particles enter at the centre), takes the particle from the caller
and records the source file and its SHA-256 as the provenance.

Both directions stream ``BLOCK_EVENTS`` events at a time and write atomically: a bad input or
an interruption leaves no partial file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.io import (
    SHOWER_SCHEMA,
    DatasetError,
    atomic_output,
    dataset_info,
    open_writer,
    read_showers,
)
from fastshower.particles import canonical_name, pdg_code

__all__ = ["BLOCK_EVENTS", "N_VOXELS", "from_calochallenge", "to_calochallenge"]

N_VOXELS = sum(layer.n_cells for layer in CALORIMETER.layers)
"""Voxels per shower: every cell of the three layers (504)."""
BLOCK_EVENTS = 10_000


def to_calochallenge(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write the showers of the fastshower file ``source`` as a CaloChallenge file ``out``."""
    source, out = Path(source), Path(out)
    info = dataset_info(source)
    n = info.n_events
    with atomic_output(out) as tmp, h5py.File(tmp, "x") as h5:
        energies = h5.create_dataset("incident_energies", (n, 1), "float32")
        showers = h5.create_dataset(
            "showers", (n, N_VOXELS), "float32", chunks=(min(n, 1000), N_VOXELS), compression="gzip"
        )
        h5.attrs["fastshower_provenance"] = json.dumps(info.provenance, default=str)
        for start in range(0, n, BLOCK_EVENTS):
            stop = min(start + BLOCK_EVENTS, n)
            arrays = read_showers(source, start=start, stop=stop).arrays
            energies[start:stop] = arrays["energy"].reshape(-1, 1) * 1e3  # GeV -> MeV
            showers[start:stop] = _voxels(arrays)
    return out


def from_calochallenge(
    source: str | os.PathLike[str], out: str | os.PathLike[str], particle: str
) -> Path:
    """Write the CaloChallenge file ``source`` (CaloGAN's 504 voxels) as a fastshower shower file
    ``out``, its showers made by ``particle`` (the format does not say which)."""
    source, out = Path(source), Path(out)
    particle = canonical_name(particle)
    try:
        h5 = h5py.File(source, "r")
    except OSError as exc:
        raise DatasetError(f"{source}: not a readable HDF5 file: {exc}") from exc
    with h5:
        for key in ("incident_energies", "showers"):
            if not isinstance(h5.get(key), h5py.Dataset):
                raise DatasetError(
                    f"{source}: no {key!r} dataset; a CaloChallenge file holds "
                    "'incident_energies' (N, 1) and 'showers' (N, n_voxels)"
                )
        energies, showers = h5["incident_energies"], h5["showers"]
        n = len(showers)
        if showers.shape[1:] != (N_VOXELS,) or energies.shape not in ((n, 1), (n,)):
            raise DatasetError(
                f"{source}: showers {showers.shape} and incident_energies {energies.shape}; "
                f"the CaloGAN calorimeter needs ({n}, {N_VOXELS}) and ({n}, 1)"
            )
        provenance = {
            "converted_from": source.name,
            "converted_from_sha256": _sha256(source),
            "format": "CaloChallenge",
            "particle_name": particle,
        }
        with open_writer(out, SHOWER_SCHEMA, n, provenance) as writer:
            for start in range(0, n, BLOCK_EVENTS):
                stop = min(start + BLOCK_EVENTS, n)
                writer.write(
                    _cells(
                        np.asarray(showers[start:stop], dtype=np.float32),
                        np.asarray(energies[start:stop], dtype=np.float32).reshape(-1, 1) / 1e3,
                        pdg_code(particle),
                    )
                )
    return out


def _voxels(arrays: dict[str, np.ndarray]) -> np.ndarray:
    flat = [arrays[layer.key].reshape(-1, layer.n_cells) for layer in CALORIMETER.layers]
    return np.concatenate(flat, axis=1)


def _cells(voxels: np.ndarray, energy_gev: np.ndarray, pdg: int) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    start = 0
    for layer in CALORIMETER.layers:
        arrays[layer.key] = voxels[:, start : start + layer.n_cells].reshape(-1, *layer.shape)
        start += layer.n_cells
    arrays["overflow"] = np.zeros((len(voxels), len(CALORIMETER.layers)), np.float32)
    arrays["energy"] = energy_gev
    arrays["position"] = np.zeros((len(voxels), 2), np.float32)
    arrays["particle"] = np.full(len(voxels), pdg, np.int32)
    return arrays


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
