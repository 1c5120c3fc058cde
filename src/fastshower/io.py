"""HDF5 dataset files: schemas, provenance, atomic chunked writes and validated reads.

Every dataset file is plain HDF5 that anyone can open with h5py: one dataset per key at the root,
first axis = events, gzip-compressed in chunks of about 512 KiB, with ``unit`` and
``description`` attributes on each dataset.

Provenance convention (root attributes of the file):

- every top-level provenance entry whose value is a string, bool, int or float is stored as its
  own root attribute (``f.attrs["seed"]``), so ``h5dump -A`` and HDFView show it directly;
- every other entry (dicts, lists, None) goes, JSON-encoded, into the single root attribute
  ``provenance`` (a JSON object; ``"{}"`` when there is none);
- reading merges the two back into one dict. ``provenance`` is therefore a reserved key.

``fastshower_version``, ``created_utc`` and ``schema`` are always present in files written here;
a file without ``fastshower_version`` has no fastshower provenance and is refused, except that a
file holding a schema's published keys (the CaloGAN files of arXiv:1705.02355, the LAGAN jet
images of arXiv:1701.05927) is read with a
warning.

Files are written under a temporary name in the target directory and renamed on success
(``os.replace``), so a crash never leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from fastshower import __version__
from fastshower.detector import CALORIMETER
from fastshower.observables.jets import IMAGE_GRID
from fastshower.particles import PARTICLES

__all__ = [
    "JET_SCHEMA",
    "SCHEMAS",
    "SHOWER_SCHEMA",
    "WEIGHT",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetWriter",
    "Field",
    "Schema",
    "atomic_output",
    "data_digest",
    "dataset_info",
    "open_writer",
    "read_dataset",
    "read_showers",
    "schema_of",
    "write_dataset",
    "write_showers",
]

_CHUNK_BYTES = 1 << 19  # HDF5 chunk target: fits h5py's default 1 MiB chunk cache twice
_BLOCK_BYTES = 1 << 26  # read/validate this much per key at a time, so big files stream
_RESERVED = "provenance"
_DAMAGE = (OSError, RuntimeError, KeyError, TypeError, ValueError)


class DatasetError(ValueError):
    """A dataset file (or arrays meant for one) that cannot be used as it is."""


@dataclass(frozen=True)
class Field:
    """One per-event array of a schema.

    ``required=False`` means the key may be missing only from the schema's published files
    (files without fastshower provenance); files written here always carry every key.
    ``minimum`` (inclusive, or exclusive with ``exclusive_minimum``) and ``allowed`` are checked on
    every value read or written.
    """

    key: str
    shape: tuple[int, ...]
    dtype: str
    unit: str = ""
    description: str = ""
    required: bool = True
    minimum: float | None = None
    exclusive_minimum: bool = False
    allowed: tuple[int, ...] | None = None

    @property
    def kind(self) -> str:
        return np.dtype(self.dtype).kind

    @property
    def event_bytes(self) -> int:
        return max(1, math.prod(self.shape) * np.dtype(self.dtype).itemsize)

    def label(self) -> str:
        unit = f", {self.unit}" if self.unit else ""
        return f"{self.key!r} ({self.description}{unit})" if self.description else repr(self.key)


@dataclass(frozen=True)
class Schema:
    """What a kind of dataset file holds. ``published`` names the public data set whose files,
    which carry no provenance, are accepted when they hold every required key."""

    name: str
    fields: tuple[Field, ...]
    published: str | None = None

    def __post_init__(self) -> None:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys) or _RESERVED in keys:
            raise ValueError(f"schema {self.name!r}: keys must be unique and not {_RESERVED!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    @property
    def required_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if f.required)

    @property
    def optional_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if not f.required)

    def with_weight(self) -> Schema:
        """The schema of a weighted sample: this one and ``WEIGHT``."""
        if WEIGHT.key in self.keys:
            return self
        return Schema(self.name, (*self.fields, WEIGHT), self.published)

    def __getitem__(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


WEIGHT = Field(
    "weight",
    (),
    "float32",
    "",
    "event weight from a refiner (fastshower refine); a file without it weighs every event 1",
    required=False,
    minimum=0.0,
)
"""The one key any file may hold or not: a weighted sample's per-event weights."""


def _shower_schema() -> Schema:
    cells = [
        Field(
            layer.key,
            layer.shape,
            "float32",
            "MeV",
            f"cell energies of read-out layer {i}",
            minimum=0.0,
        )
        for i, layer in enumerate(CALORIMETER.layers)
    ]
    n_layers = len(CALORIMETER.layers)
    return Schema(
        "showers",
        (
            *cells,
            Field(
                "overflow",
                (n_layers,),
                "float32",
                "MeV",
                "energy outside the cells, per layer",
                minimum=0.0,
            ),
            Field(
                "energy",
                (1,),
                "float32",
                "GeV",
                "incident energy",
                minimum=0.0,
                exclusive_minimum=True,
            ),
            Field("position", (2,), "float32", "mm", "incidence point x, y", required=False),
            Field(
                "particle",
                (),
                "int32",
                "",
                "PDG code of the incident particle",
                required=False,
                allowed=tuple(sorted(PARTICLES.values())),
            ),
        ),
        published="CaloGAN",
    )


SHOWER_SCHEMA = _shower_schema()
"""Calorimeter showers in the CaloGAN layout (``fastshower.detector.CALORIMETER``)."""


def _jet_schema() -> Schema:
    def scalar(key: str, unit: str, description: str, **kw: Any) -> Field:
        return Field(key, (), "float32", unit, description, **kw)

    tau = "N-subjettiness tau_{} (one-pass WTA kt axes, beta = 1, R0 = 1)"
    return Schema(
        "jet_images",
        (
            # No minimum: LAGAN's interpolated rotation leaves negative pixels.
            Field(
                "image",
                (IMAGE_GRID.n, IMAGE_GRID.n),
                "float32",
                "GeV",
                "pT per pixel, rows +y to -y, columns -x to +x",
            ),
            scalar("signal", "", "1 for W' -> WZ jets, 0 for QCD", allowed=(0, 1)),
            scalar("jet_pt", "GeV", "trimmed jet pT", minimum=0.0),
            scalar("jet_eta", "", "trimmed jet pseudorapidity"),
            scalar("jet_phi", "rad", "trimmed jet azimuth"),
            scalar("jet_mass", "GeV", "trimmed jet mass", minimum=0.0),
            scalar("jet_delta_R", "", "Delta R of the two leading subjets (0 if one)", minimum=0.0),
            *(scalar(f"tau_{n}", "", tau.format(n), minimum=0.0) for n in (1, 2, 3)),
            scalar("tau_21", "", "tau_2 / tau_1"),
            scalar("tau_32", "", "tau_3 / tau_2"),
            scalar(
                "pt_hat",
                "GeV",
                "pT of Pythia's hard 2 -> 2 process (0 for 2 -> 1)",
                required=False,
                minimum=0.0,
            ),
        ),
        published="LAGAN",
    )


JET_SCHEMA = _jet_schema()
"""Jet images and jet observables in the LAGAN layout (arXiv:1701.05927), plus ``pt_hat``."""

SCHEMAS: dict[str, Schema] = {s.name: s for s in (SHOWER_SCHEMA, JET_SCHEMA)}
"""Every schema by name, as recorded in the files' ``schema`` attribute."""


@dataclass(frozen=True)
class Dataset:
    """Arrays read from one file. ``provenance`` is empty for a published (CaloGAN) file."""

    arrays: dict[str, np.ndarray]
    provenance: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@dataclass(frozen=True)
class DatasetInfo:
    """What a file holds, read from its metadata only."""

    path: Path
    n_events: int
    provenance: dict[str, Any]
    keys: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)
    """Every dataset in the file: key -> (per-event shape, dtype)."""


# ---------------------------------------------------------------------------------------------
# validation shared by reading and writing


def _coerce(where: str, f: Field, block: np.ndarray, first_event: int) -> np.ndarray:
    """Check one block of events of one key and return it in the schema's dtype.

    Float values are checked after the cast, so float64 values too large for float32 show up as
    inf instead of slipping through; integers are checked before it, so they cannot wrap.
    """
    if block.dtype.kind not in (("f", "i", "u") if f.kind == "f" else ("i", "u", "b")):
        allowed = "real numbers" if f.kind == "f" else "integers"
        raise DatasetError(f"{where}: {f.label()} has dtype {block.dtype}; allowed are {allowed}")
    if block.shape[1:] != f.shape:
        raise DatasetError(
            f"{where}: {f.label()} has per-event shape {block.shape[1:]}; "
            f"the schema needs {f.shape}, i.e. arrays of shape {_with_events(f.shape)}"
        )
    if f.kind == "f":
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            block = np.asarray(block, dtype=f.dtype)
        _first_bad(where, f, ~np.isfinite(block), block, first_event, "values must be finite")
    elif block.size:
        info = np.iinfo(f.dtype)
        bad = (block < info.min) | (block > info.max)
        _first_bad(where, f, bad, block, first_event, f"values must fit {f.dtype}")
    if f.minimum is not None:
        bad = block <= f.minimum if f.exclusive_minimum else block < f.minimum
        op = ">" if f.exclusive_minimum else ">="
        _first_bad(where, f, bad, block, first_event, f"allowed are values {op} {f.minimum:g}")
    if f.allowed is not None:
        bad = ~np.isin(block, np.asarray(f.allowed))
        _first_bad(where, f, bad, block, first_event, f"allowed are {list(f.allowed)}")
    return np.asarray(block, dtype=f.dtype)


def _with_events(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def _first_bad(
    where: str, f: Field, bad: np.ndarray, block: np.ndarray, first_event: int, rule: str
) -> None:
    if not bad.any():
        return
    flat = bad.reshape(len(bad), -1)
    event = int(np.argmax(flat.any(axis=1)))
    value = block.reshape(len(block), -1)[event][flat[event]][0].item()
    n_bad = int(flat.any(axis=1).sum())
    last = first_event + len(block) - 1
    raise DatasetError(
        f"{where}: {f.label()} holds {value:g} at event {first_event + event} "
        f"(first of {n_bad} bad event(s) among events {first_event}-{last}); {rule}"
    )


def _event_count(where: str, shapes: Mapping[str, tuple[int, ...]]) -> int:
    scalar = [key for key, shape in shapes.items() if not shape]
    if scalar:
        raise DatasetError(f"{where}: {scalar} are scalars; every key needs a first (event) axis")
    counts = {key: shape[0] for key, shape in shapes.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{k}: {n}" for k, n in counts.items())
        raise DatasetError(f"{where}: keys disagree on the number of events ({listed})")
    return int(next(iter(counts.values()), 0))


# ---------------------------------------------------------------------------------------------
# provenance


def _plain(value: Any, where: str, key: str) -> Any:
    """``value`` as plain JSON types (numpy scalars and arrays, tuples and paths converted)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, where, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where, key) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise DatasetError(
        f"{where}: provenance entry {key!r} = {value!r} is not JSON-serialisable "
        "(allowed: str, bool, int, finite float, None, lists and dicts of those)"
    )


def _is_attr_scalar(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    return isinstance(value, (str, bool, float))


def _complete_provenance(where: str, schema: Schema, provenance: Mapping[str, Any]) -> dict:
    if _RESERVED in provenance:
        raise DatasetError(f"{where}: {_RESERVED!r} is reserved and cannot be a provenance key")
    prov = {str(k): _plain(v, where, str(k)) for k, v in provenance.items()}
    if prov.setdefault("schema", schema.name) != schema.name:
        raise DatasetError(
            f"{where}: provenance says schema {prov['schema']!r} but the data are written "
            f"with schema {schema.name!r}"
        )
    prov.setdefault("fastshower_version", __version__)
    prov.setdefault("created_utc", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return prov


def _write_provenance(h5: h5py.File, prov: Mapping[str, Any]) -> None:
    nested = {}
    for key, value in prov.items():
        if _is_attr_scalar(value):
            h5.attrs[key] = value
        else:
            nested[key] = value
    h5.attrs[_RESERVED] = json.dumps(nested, sort_keys=True, allow_nan=False)


def _read_provenance(where: str, h5: h5py.File) -> dict[str, Any]:
    """The file's provenance; empty when it has none (no ``fastshower_version`` attribute)."""
    if "fastshower_version" not in h5.attrs:
        return {}
    prov: dict[str, Any] = {}
    for key, value in h5.attrs.items():
        if key == _RESERVED:
            continue
        if isinstance(value, bytes):
            value = value.decode()
        prov[key] = _plain(value, where, key)
    try:
        nested = json.loads(h5.attrs.get(_RESERVED, "{}"))
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"{where}: the {_RESERVED!r} attribute is not valid JSON ({exc})"
        ) from exc
    if not isinstance(nested, dict):
        raise DatasetError(f"{where}: the {_RESERVED!r} attribute must be a JSON object")
    prov.update(nested)
    return prov


# ---------------------------------------------------------------------------------------------
# writing


class DatasetWriter:
    """Appends validated blocks of events to a file being written; see ``open_writer``."""

    def __init__(self, h5: h5py.File, where: str, schema: Schema, n_events: int) -> None:
        self._h5, self._where, self._schema, self.n_events = h5, where, schema, n_events
        self.n_written = 0
        for f in schema.fields:
            rows = max(1, min(n_events, _CHUNK_BYTES // f.event_bytes))
            ds = h5.create_dataset(
                f.key,
                shape=(n_events, *f.shape),
                dtype=f.dtype,
                chunks=(rows, *f.shape),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            ds.attrs["unit"] = f.unit
            ds.attrs["description"] = f.description

    def write(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Append one block: every key of the schema, with the same number of events."""
        where, schema = self._where, self._schema
        unknown = sorted(set(arrays) - set(schema.keys))
        if unknown:
            raise DatasetError(
                f"{where}: {unknown} are not part of the {schema.name!r} schema; "
                f"allowed keys are {list(schema.keys)}"
            )
        missing = [k for k in schema.keys if k not in arrays]
        if missing:
            raise DatasetError(f"{where}: missing key(s) {missing}; the schema needs them all")
        blocks = {k: np.asarray(arrays[k]) for k in schema.keys}
        n = _event_count(where, {k: b.shape for k, b in blocks.items()})
        if self.n_written + n > self.n_events:
            raise DatasetError(
                f"{where}: {self.n_written + n} events written, more than the {self.n_events} "
                "announced"
            )
        checked = {k: _coerce(where, schema[k], b, self.n_written) for k, b in blocks.items()}
        for key, block in checked.items():
            self._h5[key][self.n_written : self.n_written + n] = block
        self.n_written += n


@contextlib.contextmanager
def open_writer(
    path: str | os.PathLike[str],
    schema: Schema,
    n_events: int,
    provenance: Mapping[str, Any],
) -> Iterator[DatasetWriter]:
    """Write a file of ``n_events`` events in blocks, without holding them all in memory.

    The file appears under ``path`` only when the block exits normally with every event
    written; otherwise the temporary file is removed and nothing is left behind.
    """
    path = Path(path)
    where = str(path)
    if int(n_events) <= 0:
        raise DatasetError(f"{where}: a dataset needs at least one event, got n_events={n_events}")
    prov = _complete_provenance(where, schema, provenance)
    with (
        atomic_output(path) as tmp,
        h5py.File(tmp, "x") as h5,
    ):
        _write_provenance(h5, prov)
        writer = DatasetWriter(h5, where, schema, int(n_events))
        yield writer
        if writer.n_written != writer.n_events:
            raise DatasetError(
                f"{where}: only {writer.n_written} of the {writer.n_events} announced events "
                "were written"
            )


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary name next to ``path`` to write to; when the block ends normally the file is
    flushed to disk and renamed to ``path``, on an error or an interruption it is removed: a
    reader never sees half a file, and a failed write leaves nothing behind."""
    path = Path(path)
    if not path.parent.is_dir():
        raise DatasetError(f"{path}: the directory {path.parent} does not exist")
    # Not mkstemp: its 0600 mode would survive the rename; h5py's "x" honours the umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # flush to disk before the rename makes the file visible
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_dataset(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    schema: Schema,
    provenance: Mapping[str, Any],
) -> Path:
    """Validate ``arrays`` (every key of ``schema``, first axis = events) and write them
    atomically to ``path`` with ``provenance``, replacing any file there."""
    path = Path(path)
    n = _event_count(str(path), {k: np.shape(v) for k, v in arrays.items()}) if arrays else 0
    with open_writer(path, schema, n, provenance) as writer:
        writer.write(arrays)
    return path


def write_showers(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], provenance: Mapping[str, Any]
) -> Path:
    """``write_dataset`` with ``SHOWER_SCHEMA``."""
    return write_dataset(path, arrays, SHOWER_SCHEMA, provenance)


# ---------------------------------------------------------------------------------------------
# reading


@contextlib.contextmanager
def _open(path: Path) -> Iterator[h5py.File]:
    """Open for reading, turning h5py's errors on damaged files into DatasetErrors.

    A damaged file shows up as an OSError (bad signature, truncation, failed gzip chunk) but also
    as RuntimeError, KeyError, TypeError or ValueError from deep in the HDF5 metadata.
    """
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if not path.is_file():
        raise DatasetError(f"{path}: not a file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(
            f"{path}: not a readable HDF5 file (corrupt, truncated or another format): {exc}"
        ) from exc
    try:
        with h5:
            yield h5
    except DatasetError:
        raise
    except _DAMAGE as exc:
        raise DatasetError(
            f"{path}: the file is damaged (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc


def _present_keys(where: str, h5: h5py.File, schema: Schema, prov: Mapping[str, Any]) -> list:
    """The schema keys to read, after checking the file is one this schema accepts."""
    present = [k for k in schema.keys if isinstance(h5.get(k), h5py.Dataset)]
    if prov:
        if prov.get("schema", schema.name) != schema.name:
            raise DatasetError(
                f"{where}: the file holds {prov['schema']!r} data; expected {schema.name!r}"
            )
        missing = [k for k in schema.keys if k not in present]
        if missing:
            raise DatasetError(
                f"{where}: missing key(s) {missing}; a {schema.name!r} file needs "
                f"{list(schema.keys)}"
            )
        return present
    missing = [k for k in schema.required_keys if k not in present]
    if schema.published is None or missing:
        published = (
            f" nor a published {schema.published} file (missing {missing})"
            if schema.published
            else ""
        )
        raise DatasetError(
            f"{where}: no fastshower provenance (no 'fastshower_version' attribute){published}; "
            "refusing to guess where the data came from"
        )
    warnings.warn(
        f"{where}: no provenance: treating as a published {schema.published} file",
        UserWarning,
        stacklevel=3,
    )
    return present


def schema_of(info: DatasetInfo) -> Schema:
    """The file's schema: from its provenance, or (published files) from its keys; a
    ``DatasetError`` for a file that holds neither showers nor jet images."""
    name = info.provenance.get("schema")
    if name is None:
        if "image" in info.keys:
            name = JET_SCHEMA.name
        elif all(layer.key in info.keys for layer in CALORIMETER.layers):
            name = SHOWER_SCHEMA.name
        else:
            raise DatasetError(
                f"{info.path}: neither showers nor jet images (keys {sorted(info.keys)})"
            )
    if name not in SCHEMAS:
        raise DatasetError(
            f"{info.path}: schema {name!r} cannot be evaluated; allowed are {sorted(SCHEMAS)}"
        )
    return SCHEMAS[name]


def read_dataset(
    path: str | os.PathLike[str], schema: Schema, *, start: int = 0, stop: int | None = None
) -> Dataset:
    """Read events ``start:stop`` of every schema key, checking each block as it is read."""
    path = Path(path)
    where = str(path)
    with _open(path) as h5:
        prov = _read_provenance(where, h5)
        if isinstance(h5.get(WEIGHT.key), h5py.Dataset):
            schema = schema.with_weight()  # a weighted sample: its weights come with it
        keys = _present_keys(where, h5, schema, prov)
        datasets = {k: h5[k] for k in keys}
        n = _event_count(where, {k: ds.shape for k, ds in datasets.items()})
        for key, ds in datasets.items():  # dtype and shape, before allocating anything
            _coerce(where, schema[key], np.empty((0, *ds.shape[1:]), ds.dtype), 0)
        stop = n if stop is None else int(stop)
        if not 0 <= int(start) <= stop <= n:
            raise DatasetError(
                f"{where}: events {start}:{stop} requested; the file has {n} events "
                f"(need 0 <= start <= stop <= {n})"
            )
        arrays: dict[str, np.ndarray] = {}
        for key, ds in datasets.items():
            f = schema[key]
            out = np.empty((stop - start, *f.shape), dtype=f.dtype)
            rows = max(1, _BLOCK_BYTES // f.event_bytes)
            for a in range(start, stop, rows):
                b = min(a + rows, stop)
                out[a - start : b - start] = _coerce(where, f, ds[a:b], a)
            arrays[key] = out
    return Dataset(arrays=arrays, provenance=prov, path=path)


def read_showers(
    path: str | os.PathLike[str], *, start: int = 0, stop: int | None = None
) -> Dataset:
    """``read_dataset`` with ``SHOWER_SCHEMA``."""
    return read_dataset(path, SHOWER_SCHEMA, start=start, stop=stop)


def dataset_info(path: str | os.PathLike[str]) -> DatasetInfo:
    """Number of events, provenance and array layout, without reading (or checking) the data."""
    path = Path(path)
    where = str(path)
    with _open(path) as h5:
        prov = _read_provenance(where, h5)
        shapes = {k: ds.shape for k, ds in h5.items() if isinstance(ds, h5py.Dataset)}
        if not shapes:
            raise DatasetError(f"{where}: the file holds no datasets")
        n = _event_count(where, shapes)
        layout = {k: (tuple(s[1:]), str(h5[k].dtype)) for k, s in shapes.items()}
    return DatasetInfo(path=path, n_events=n, provenance=prov, keys=layout)


def data_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's data: every dataset's name, dtype, shape and values, in name order,
    without the provenance.

    Why not the file's own SHA-256: the provenance records when the file was made, so a
    production recreated from the same seeds is a different file holding the same events. This
    digest is equal exactly when the events are, so a recreated reference set can be checked
    against the published one.
    """
    path = Path(path)
    digest = hashlib.sha256()
    with _open(path) as h5:
        for key in sorted(k for k, ds in h5.items() if isinstance(ds, h5py.Dataset)):
            ds = h5[key]
            digest.update(f"{key}:{ds.dtype.str}:{ds.shape};".encode())
            rows = max(1, _BLOCK_BYTES // (ds.dtype.itemsize * math.prod(ds.shape[1:]) or 1))
            for a in range(0, len(ds), rows):  # in blocks: a reference file is gigabytes
                digest.update(np.ascontiguousarray(ds[a : a + rows]).tobytes())
    return digest.hexdigest()
