"""Training data: LAGAN's preprocessing and its inverse, files to tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastshower.io import JET_SCHEMA, write_dataset
from fastshower.training.data import JetImagePreprocessing, file_sha256, load_jet_images


def test_preprocessing_round_trip_and_threshold() -> None:
    p = JetImagePreprocessing()
    images = np.array([[[0.05, 0.1, 250.0]]], dtype=np.float32)
    x = p.forward(images)
    np.testing.assert_allclose(x, [[[0.0, 0.001, 2.5]]], rtol=1e-6)
    np.testing.assert_allclose(p.inverse(x), [[[0.0, 0.1, 250.0]]], rtol=1e-6)
    assert (p.forward(np.full((1, 2, 2), -0.3)) == 0).all()  # negative pixels: empty


def test_files_become_one_dataset(tmp_path: Path) -> None:
    paths = []
    for signal, n in ((1.0, 3), (0.0, 5)):
        arrays = {f.key: np.ones((n, *f.shape), dtype=np.float32) for f in JET_SCHEMA.fields}
        arrays["signal"] = np.full(n, signal, dtype=np.float32)
        paths.append(write_dataset(tmp_path / f"{signal}.h5", arrays, JET_SCHEMA, {}))
    data = load_jet_images(paths)
    assert len(data) == 8 and data.images.shape == (8, 25, 25)
    assert data.labels.tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    image, label = data[0]
    assert float(image[0, 0]) == np.float32(0.01) and int(label) == 1
    assert len(file_sha256(paths[0])) == 64 and file_sha256(paths[0]) != file_sha256(paths[1])
