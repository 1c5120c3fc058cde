"""HDF5 dataset files: round trips, provenance, and every way a file or array can be refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from fastshower import __version__
from fastshower import io as fio
from fastshower.io import (
    SHOWER_SCHEMA,
    DatasetError,
    data_digest,
    dataset_info,
    open_writer,
    read_dataset,
    read_showers,
    write_dataset,
    write_showers,
)

N = 20


def showers(n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        f.key: rng.exponential(10.0, (n, *f.shape)).astype(np.float32)
        for f in SHOWER_SCHEMA.fields
        if f.unit == "MeV"
    }
    arrays["energy"] = rng.uniform(1, 100, (n, 1)).astype(np.float32)
    arrays["position"] = rng.uniform(-10, 10, (n, 2)).astype(np.float32)
    arrays["particle"] = np.full(n, 22, dtype=np.int32)
    return arrays


def raw_file(path: Path, arrays: dict[str, np.ndarray], *, provenance: bool = True) -> Path:
    """A file written with plain h5py, to feed the reader what the writer would refuse."""
    with h5py.File(path, "w") as h5:
        if provenance:
            h5.attrs["fastshower_version"] = __version__
            h5.attrs["schema"] = "showers"
        for key, value in arrays.items():
            h5[key] = value
    return path


def test_round_trip_with_provenance(tmp_path: Path) -> None:
    arrays = showers()
    provenance = {
        "seed": 7,
        "generator": "geant4",
        "fraction": 0.5,
        "flag": True,
        "settings": {"particle": "gamma", "energy_gev": (1.0, 100.0)},
        "missing": None,
        "np_seed": np.int64(3),
    }
    path = write_showers(tmp_path / "s.h5", arrays, provenance)
    data = read_showers(path)

    assert len(data) == N and data.path == path
    assert set(data.arrays) == set(SHOWER_SCHEMA.keys)
    for key, value in arrays.items():
        np.testing.assert_array_equal(data[key], value)
        assert data[key].dtype == np.dtype(SHOWER_SCHEMA[key].dtype)
    prov = data.provenance
    assert prov["settings"] == {"particle": "gamma", "energy_gev": [1.0, 100.0]}
    assert (prov["seed"], prov["generator"], prov["fraction"], prov["flag"]) == (
        7,
        "geant4",
        0.5,
        True,
    )
    assert prov["missing"] is None and prov["np_seed"] == 3
    assert prov["fastshower_version"] == __version__ and prov["schema"] == "showers"
    assert prov["created_utc"].endswith("Z")

    with h5py.File(path) as h5:  # the convention: scalars as attributes, the rest as JSON
        assert h5.attrs["seed"] == 7 and h5.attrs["generator"] == "geant4"
        assert "settings" not in h5.attrs and "settings" in h5.attrs["provenance"]
        assert h5["layer_0"].compression == "gzip" and h5["layer_0"].chunks[1:] == (3, 96)
        assert h5["energy"].attrs["unit"] == "GeV"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_partial_reads_and_info(tmp_path: Path) -> None:
    arrays = showers()
    path = write_showers(tmp_path / "s.h5", arrays, {"seed": 1})
    part = read_showers(path, start=5, stop=12)
    assert len(part) == 7
    np.testing.assert_array_equal(part["layer_1"], arrays["layer_1"][5:12])
    assert len(read_showers(path, start=N)) == 0

    info = dataset_info(path)
    assert info.n_events == N and info.provenance["seed"] == 1
    assert info.keys["layer_2"] == ((12, 6), "float32")

    with pytest.raises(DatasetError, match=r"events 5:30 requested; the file has 20 events"):
        read_showers(path, start=5, stop=30)


def test_data_digest_is_the_events_not_the_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = showers()
    first = write_showers(tmp_path / "a.h5", arrays, {"created_utc": "2026-01-01T00:00:00Z"})
    again = write_showers(tmp_path / "b.h5", arrays, {"created_utc": "2026-06-01T12:00:00Z"})
    assert first.read_bytes() != again.read_bytes()
    assert data_digest(first) == data_digest(again)
    monkeypatch.setattr(fio, "_BLOCK_BYTES", 1000)  # many blocks per key: the same digest
    assert data_digest(first) == data_digest(again)

    changed = dict(arrays, layer_2=arrays["layer_2"].copy())
    changed["layer_2"][7, 3, 2] += 1.0
    shorter = {key: value[:-1] for key, value in arrays.items()}
    for other in (changed, shorter):
        assert data_digest(write_showers(tmp_path / "c.h5", other, {})) != data_digest(first)
    with pytest.raises(DatasetError, match="no such file"):
        data_digest(tmp_path / "absent.h5")


def test_streaming_writer(tmp_path: Path) -> None:
    arrays = showers()
    path = tmp_path / "s.h5"
    with open_writer(path, SHOWER_SCHEMA, N, {"seed": 1}) as writer:
        writer.write({k: v[:8] for k, v in arrays.items()})
        writer.write({k: v[8:] for k, v in arrays.items()})
    np.testing.assert_array_equal(read_showers(path)["layer_0"], arrays["layer_0"])

    with (
        pytest.raises(DatasetError, match=r"only 8 of the 20 announced events"),
        open_writer(tmp_path / "short.h5", SHOWER_SCHEMA, N, {}) as writer,
    ):
        writer.write({k: v[:8] for k, v in arrays.items()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


Change = Callable[[dict[str, np.ndarray]], object]


def _set(key: str, index: tuple[int, ...], value: float) -> Change:
    return lambda a: a[key].__setitem__(index, value)


BAD_ARRAYS = {
    "shape": (
        lambda a: a.update(layer_1=a["layer_1"][:, :, :11]),
        r"'layer_1'.*per-event shape \(12, 11\); the schema needs \(12, 12\)",
    ),
    "nan": (_set("layer_0", (3, 1, 2), np.nan), r"'layer_0'.*holds nan at event 3.*must be finite"),
    "inf": (_set("overflow", (4, 0), np.inf), r"'overflow'.*holds inf at event 4"),
    "negative": (_set("layer_2", (5, 0, 0), -0.25), r"'layer_2'.*holds -0.25 at event 5.*>= 0"),
    "zero-energy": (_set("energy", (6, 0), 0.0), r"'energy'.*holds 0 at event 6.*> 0"),
    "pdg": (
        _set("particle", (7,), 13),
        r"'particle'.*holds 13 at event 7.*allowed are \[-211, -11, 11, 22, 211\]",
    ),
    "missing": (lambda a: a.pop("position"), r"missing key\(s\) \['position'\]"),
    "n": (
        lambda a: a.update(energy=a["energy"][:-1]),
        r"disagree on the number of events.*energy: 19",
    ),
    "strings": (
        lambda a: a.update(layer_0=a["layer_0"].astype("U8")),
        r"'layer_0'.*dtype <U8; allowed are real numbers",
    ),
    "float-pdg": (
        lambda a: a.update(particle=a["particle"] + 0.5),
        r"'particle'.*dtype float64; allowed are integers",
    ),
    "unknown-key": (
        lambda a: a.update(extra=a["energy"]),
        r"\['extra'\] are not part of the 'showers' schema",
    ),
    "float32-overflow": (
        lambda a: a.update(energy=np.full((N, 1), 1e39)),
        r"'energy'.*holds inf",
    ),
}


@pytest.mark.parametrize(("change", "message"), BAD_ARRAYS.values(), ids=BAD_ARRAYS.keys())
def test_write_refuses_bad_arrays(tmp_path: Path, change: Change, message: str) -> None:
    arrays = showers()
    change(arrays)
    path = tmp_path / "bad.h5"
    with pytest.raises(DatasetError, match=message) as err:
        write_showers(path, arrays, {})
    assert str(path) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_write_refuses_bad_provenance(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"'provenance' is reserved"):
        write_showers(tmp_path / "a.h5", showers(), {"provenance": 1})
    with pytest.raises(DatasetError, match=r"provenance entry 'when' = .* not JSON-serialisable"):
        write_showers(tmp_path / "a.h5", showers(), {"when": object()})
    with pytest.raises(
        DatasetError, match=r"schema 'jets' but the data are written with .*'showers'"
    ):
        write_showers(tmp_path / "a.h5", showers(), {"schema": "jets"})
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope.h5: no such file"):
        read_showers(tmp_path / "nope.h5")


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.h5"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DatasetError, match=r"garbage.h5: not a readable HDF5 file"):
        read_showers(path)
    with pytest.raises(DatasetError, match=r"not a readable HDF5 file"):
        dataset_info(path)


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    path = write_showers(tmp_path / "t.h5", showers(200), {"seed": 1})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DatasetError, match=r"t.h5: .*(truncated|corrupt)"):
        read_showers(path)


def test_read_refuses_bad_contents(tmp_path: Path) -> None:
    good = showers()

    nan = {**good, "layer_1": good["layer_1"].copy()}
    nan["layer_1"][13, 4, 4] = np.nan
    with pytest.raises(DatasetError, match=r"nan.h5: 'layer_1'.*holds nan at event 13"):
        read_showers(raw_file(tmp_path / "nan.h5", nan))
    np.testing.assert_array_equal(
        read_showers(tmp_path / "nan.h5", stop=13)["layer_1"], good["layer_1"][:13]
    )

    negative = {**good, "overflow": -good["overflow"]}
    with pytest.raises(DatasetError, match=r"'overflow'.*holds -\d.*>= 0"):
        read_showers(raw_file(tmp_path / "neg.h5", negative))

    shape = {**good, "layer_2": good["layer_2"].reshape(N, 6, 12)}
    with pytest.raises(
        DatasetError, match=r"'layer_2'.*per-event shape \(6, 12\); the schema needs \(12, 6\)"
    ):
        read_showers(raw_file(tmp_path / "shape.h5", shape))

    missing = {k: v for k, v in good.items() if k != "particle"}
    with pytest.raises(DatasetError, match=r"missing key\(s\) \['particle'\]"):
        read_showers(raw_file(tmp_path / "missing.h5", missing))

    uneven = {**good, "position": good["position"][:5]}
    with pytest.raises(DatasetError, match=r"disagree on the number of events.*position: 5"):
        read_showers(raw_file(tmp_path / "uneven.h5", uneven))

    strings = {**good, "particle": np.array([b"gamma"] * N)}
    with pytest.raises(DatasetError, match=r"'particle'.*dtype \|S5; allowed are integers"):
        read_showers(raw_file(tmp_path / "strings.h5", strings))

    pdg = {**good, "particle": np.full(N, 2212)}
    with pytest.raises(DatasetError, match=r"'particle'.*holds 2212"):
        read_showers(raw_file(tmp_path / "pdg.h5", pdg))

    path = raw_file(tmp_path / "jets.h5", good)
    with h5py.File(path, "a") as h5:
        h5.attrs["schema"] = "jet-images"
    with pytest.raises(DatasetError, match=r"holds 'jet-images' data; expected 'showers'"):
        read_showers(path)


def test_values_are_checked_block_by_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big files stream in blocks; the event number reported must still be the file's."""
    monkeypatch.setattr(fio, "_BLOCK_BYTES", 3 * 96 * 4 * 3)  # three events of layer_0 per block
    arrays = showers()
    arrays["layer_0"][17, 2, 95] = -1.0
    path = raw_file(tmp_path / "blocks.h5", arrays)
    with pytest.raises(
        DatasetError, match=r"holds -1 at event 17 \(first of 1 bad event\(s\) among events 15-17\)"
    ):
        read_showers(path)
    np.testing.assert_array_equal(
        read_showers(path, start=2, stop=16)["layer_0"], arrays["layer_0"][2:16]
    )


def test_published_calogan_file_is_read_with_a_warning(tmp_path: Path) -> None:
    arrays = {k: v for k, v in showers().items() if k not in ("position", "particle")}
    path = raw_file(tmp_path / "eplus.hdf5", arrays, provenance=False)
    with pytest.warns(
        UserWarning, match=r"eplus.hdf5: no provenance: treating as a published CaloGAN file"
    ):
        data = read_showers(path)
    assert set(data.arrays) == {"layer_0", "layer_1", "layer_2", "overflow", "energy"}
    assert data.provenance == {} and len(data) == N
    np.testing.assert_array_equal(data["energy"], arrays["energy"])
    assert dataset_info(path).n_events == N


def test_file_without_provenance_or_calogan_keys_is_refused(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "other.h5", {"images": np.zeros((4, 25, 25))}, provenance=False)
    with pytest.raises(
        DatasetError, match=r"no fastshower provenance .* nor a published CaloGAN file"
    ):
        read_showers(path)


def test_generic_schema(tmp_path: Path) -> None:
    """Later schemas (jet images) reuse the machinery: any keys, shapes and checks."""
    schema = fio.Schema(
        "toy", (fio.Field("image", (2, 2), "float32"), fio.Field("label", (), "int32"))
    )
    arrays = {"image": np.arange(12.0).reshape(3, 2, 2) - 5, "label": np.array([0, 1, 1])}
    path = write_dataset(tmp_path / "toy.h5", arrays, schema, {"seed": 0})
    data = read_dataset(path, schema)
    np.testing.assert_array_equal(data["image"], arrays["image"])
    with pytest.raises(DatasetError, match=r"holds 'toy' data; expected 'showers'"):
        read_showers(path)


def jet_arrays(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    arrays = {
        f.key: rng.uniform(0.0, 1.0, (n, *f.shape)).astype(np.float32)
        for f in fio.JET_SCHEMA.fields
    }
    arrays["signal"] = (np.arange(n) % 2).astype(np.float32)
    return arrays


def test_jet_images_round_trip_and_refusals(tmp_path: Path) -> None:
    arrays = jet_arrays()
    path = write_dataset(tmp_path / "jets.h5", arrays, fio.JET_SCHEMA, {"process": "w"})
    data = read_dataset(path, fio.JET_SCHEMA)
    np.testing.assert_array_equal(data["image"], arrays["image"])
    assert data.provenance["schema"] == "jet_images"
    with pytest.raises(DatasetError, match=r"holds 'jet_images' data; expected 'showers'"):
        read_showers(path)

    squashed = {**arrays, "image": arrays["image"][:, :24, :]}
    with pytest.raises(
        DatasetError,
        match=r"'image' .* per-event shape \(24, 25\); the schema "
        r"needs \(25, 25\)",
    ):
        write_dataset(tmp_path / "bad.h5", squashed, fio.JET_SCHEMA, {})
    with pytest.raises(DatasetError, match=r"'signal' .* holds 0.5 at event 0"):
        write_dataset(
            tmp_path / "bad.h5", {**arrays, "signal": np.full(N, 0.5)}, fio.JET_SCHEMA, {}
        )
    assert not (tmp_path / "bad.h5").exists()


def test_published_lagan_file_is_read_with_a_warning(tmp_path: Path) -> None:
    arrays = {k: v for k, v in jet_arrays().items() if k != "pt_hat"}
    arrays["image"][0, 0, 0] = -0.01  # the original's interpolated rotation left such pixels
    path = raw_file(tmp_path / "jet-images_Mass60-100.h5", arrays, provenance=False)
    with pytest.warns(UserWarning, match=r"treating as a published LAGAN file"):
        data = read_dataset(path, fio.JET_SCHEMA)
    assert set(data.arrays) == set(arrays) and data.provenance == {}
