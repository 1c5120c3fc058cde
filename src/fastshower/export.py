"""ONNX export of fastshower generators, with an onnxruntime parity check.

``export_onnx(model_dir, out_path)`` turns a model folder (``fastshower.modelfile``) into one
self-contained ONNX file whose batch axis is dynamic:

- inputs ``latent`` (N, latent_size) float32 and ``condition``: the class label (N,) (int64,
  0 = QCD, 1 = W) for LAGAN, the incident energy in GeV (N,) (float32) for CaloGAN, (N, 4)
  float32 (energy in GeV, PDG code, x and y in mm) for the flow-matching and CaloFlow models;
- outputs ``image`` (N, 25, 25) in pT / 100 GeV for LAGAN, ``layer_0``, ``layer_1``,
  ``layer_2`` (N, H, W) in GeV for CaloGAN and in MeV for the flows (the flow-matching model's
  ODE steps are unrolled into the graph);
- ``metadata_props`` (keys ``fastshower.*``): the format, the fastshower version that exported it,
  the model name, its config and the model folder's provenance (JSON), the latent size, the
  condition, and the outputs' units and shapes (JSON).

The file is written to a temporary name next to ``out_path``, checked against the PyTorch
generator with onnxruntime (``check_parity``) and only then renamed into place, so a failed
export never leaves a file behind and a reader never sees half a file.

``OnnxGenerator(path)`` runs an exported file with onnxruntime on numpy inputs, so generation
code can do without torch.

How the graph is captured: ``torch.export.export(..., strict=True)``, then
``torch.onnx.export`` of that program (the dynamo exporter). ``torch.onnx.export`` given the
module itself first tries ``strict=False``, where the generators' ``len(x)`` turns the batch size
into a constant, and then silently re-exports with the batch axis fixed to the example's size;
the strict (TorchDynamo) capture keeps ``len(x)`` symbolic. The CaloFlow model is the exception:
zuko builds its transforms as Python objects on each call, which TorchDynamo cannot capture, so
it is captured non-strict (its code has no ``len(x)``). The batch axis is checked to be
symbolic after the export, and the parity check runs at two batch sizes that both differ from
the traced one.

Needs the ``onnx`` extra (``pip install 'fastshower[onnx]'``: onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from fastshower import __version__
from fastshower.modelfile import LoadedModel, load_model
from fastshower.models import family as model_family
from fastshower.models.family import Family

__all__ = [
    "FORMAT",
    "PARITY_RTOL",
    "OnnxExportError",
    "OnnxGenerator",
    "check_parity",
    "export_onnx",
    "quantize_int8",
]

FORMAT = "fastshower-onnx/1"
"""``metadata_props["fastshower.format"]`` of every export; a file without it is not one."""

PARITY_RTOL = 1e-5
"""The largest |torch - onnxruntime| difference ``export_onnx`` accepts, relative to the scale
of the outputs: ``PARITY_RTOL * max(1, max |torch output|)``, in the outputs' units.

Why 1e-5: both runtimes compute in float32 (relative rounding 6e-8), but with different kernels
(oneDNN / MKL against onnxruntime's MLAS), which sum the ~100-6000 products of each dense,
convolution and locally connected layer in different orders, so outputs differ by a few float32
roundings of the largest intermediate values. Measured on untrained LAGAN and CaloGAN
generators: 2e-8 to 1e-7 on outputs of scale 0.01-0.2, i.e. a few 1e-7 relative, as
``DESIGN.md``'s 2e-7. 1e-5 leaves a margin of 20 or more for trained weights and larger
activations, while a real translation error (a wrong operator, constant, padding or layout, or a
batch axis baked in) shows up at 1e-3 of the scale or more. Scaled by max(1, ...) so a CaloGAN
whose cells reach 100 GeV is held to the same relative precision, and tiny outputs of an
untrained network to 1e-5 absolute.
"""

_BATCH_DIM = "batch"
_PREFIX = "fastshower."
# torch.export's capture warns about its own use of a deprecated pytree API (torch 2.13).
_TORCH_INTERNAL_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
# torch.onnx's registry logs one warning per torchvision operator when torchvision is absent.
_NOISY_LOGGERS = ("torch.onnx._internal.exporter._registration",)


class OnnxExportError(ValueError):
    """An ONNX export that cannot be made, checked or read: a model without an ONNX export, a
    file that is not a fastshower export, or a parity check that failed."""


def export_onnx(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    batch_size_hint: int = 2,
    opset: int | None = None,
    quantize: str | None = None,
) -> Path:
    """Export the generator of ``model_dir`` to the ONNX file ``out_path`` and return its path.

    ``batch_size_hint`` is the batch size of the example the graph is traced with (>= 2:
    torch.export specialises sizes 0 and 1); the exported batch axis is dynamic whatever it is.
    ``opset``: the ONNX opset (default: torch's). The file is checked with ``check_parity``
    before it replaces ``out_path``; ``OnnxExportError`` if the difference exceeds
    ``PARITY_RTOL`` of the output scale.

    ``quantize="int8"``: after the float export has passed that check, onnxruntime's dynamic
    quantization (``quantize_dynamic``: int8 weights, activations quantized per call) rewrites
    the matrix products. Measured on the one-step student (``CHANGELOG.md``): 1.3x faster
    on this AVX2 CPU, and a classifier cannot tell its showers from the float export's any
    better than from Geant4. No parity bound is checked for it: int8 rounding is by design.
    """
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    torch_onnx = _require("torch.onnx", "onnxscript", "onnx")
    if batch_size_hint < 2:
        raise ValueError(
            f"batch_size_hint must be >= 2 (torch.export fixes a batch of 0 or 1 as a constant), "
            f"got {batch_size_hint}"
        )
    loaded = _load(model_dir)
    family = _family(loaded.name)
    generator = loaded.generator.eval()
    latent_size = int(cast(int, generator.latent_size))  # every family's generator sets it
    output_names = family.output_names(generator)
    example = (
        torch.randn(batch_size_hint, latent_size, generator=torch.Generator().manual_seed(0)),
        family.example_condition(generator, batch_size_hint),
    )
    with torch.no_grad():
        outputs = _as_tuple(generator(*example))
    if len(outputs) != len(output_names):
        raise OnnxExportError(
            f"{loaded.name!r} generator returned {len(outputs)} outputs, expected "
            f"{len(output_names)} ({', '.join(output_names)})"
        )
    batch = torch.export.Dim(_BATCH_DIM, min=1)
    with _quiet_exporter():
        program = torch.export.export(
            generator, example, dynamic_shapes=({0: batch}, {0: batch}), strict=family.onnx.strict
        )
        onnx_program = torch_onnx.export(
            program,
            example,
            input_names=["latent", "condition"],
            output_names=list(output_names),
            opset_version=opset,
            dynamo=True,
            optimize=family.onnx.optimize,
            verbose=False,
        )
    model = onnx_program.model
    _name_batch_axis(model)
    model.doc_string = f"fastshower {loaded.name} generator (fastshower {__version__})"
    model.metadata_props.update(
        _metadata(loaded, latent_size, family, output_names, [tuple(x.shape[1:]) for x in outputs])
    )

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # a unique name next to the target (same file system, so os.replace is atomic), created by
    # the save with the usual permissions (mkstemp's would be 0600)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        onnx_program.save(tmp, external_data=False)  # one file: the rename below is atomic
        difference, scale = _parity(loaded, tmp, n=7, seed=0)
        allowed = PARITY_RTOL * max(1.0, scale)
        if not difference <= allowed:  # NaN fails too
            raise OnnxExportError(
                f"{model_dir}: onnxruntime differs from PyTorch by {difference:.3g} (outputs up "
                f"to {scale:.3g}; allowed {allowed:.3g}): the export is not faithful"
            )
        if quantize is not None:
            quantize_int8(tmp, tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def quantize_int8(onnx_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Write to ``out_path`` (which may be ``onnx_path``) an export with int8 matrix products
    (onnxruntime's ``quantize_dynamic``; convolutions stay float), marked in its metadata;
    returns ``out_path``."""
    onnx = _require("onnx")
    quantization = _require("onnxruntime.quantization")
    out_path = Path(out_path)
    quantized = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.int8")
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.ERROR)  # its advice to pre-process the graph, on the root logger
        source = onnx.load(onnx_path)
        readable = Path(onnx_path)
        if _transpose_shared_weights_once(source, onnx.helper):
            readable = quantized  # a copy the quantizer reads, then overwrites
            onnx.save(source, readable)
        # convolutions stay float: onnxruntime's int8 ones ran 3.6x slower than float (the grid
        # couplings), and it cannot quantize one whose weight is computed in the graph
        products = [
            op
            for op in _require("onnxruntime.quantization.registry").IntegerOpsRegistry
            if op != "Conv"
        ]
        quantization.quantize_dynamic(
            readable,
            quantized,
            op_types_to_quantize=products,
            weight_type=quantization.QuantType.QInt8,
        )
        model = onnx.load(quantized)
        entry = model.metadata_props.add()
        entry.key, entry.value = _PREFIX + "quantization", "int8 (onnxruntime quantize_dynamic)"
        onnx.save(model, out_path)
    finally:
        root.setLevel(level)
        quantized.unlink(missing_ok=True)
    return out_path


def _transpose_shared_weights_once(model: Any, helper: Any) -> bool:
    """Give the products that share a computed, transposed weight one Transpose node between
    them; returns whether the graph changed. An autoregressive flow's inverse runs one network
    once per feature (9 times in flow I with layer summaries), and its masked weights are
    computed (weight x mask). quantize_dynamic turns each such Gemm into a MatMul behind its own
    Transpose, all with one output name, which onnxruntime then refuses to load."""
    constants = {tensor.name for tensor in model.graph.initializer}
    users: dict[str, list[Any]] = {}
    for node in model.graph.node:
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        if node.op_type == "Gemm" and trans_b and node.input[1] not in constants:
            users.setdefault(node.input[1], []).append(node)
    nodes = list(model.graph.node)
    for weight, gemms in users.items():
        if len(gemms) < 2:
            continue
        transposed = f"{weight}_transposed_once"
        producer = next((i for i, n in enumerate(nodes) if weight in n.output), -1)
        nodes.insert(
            producer + 1,
            helper.make_node("Transpose", [weight], [transposed], name=f"{weight}_transpose_once"),
        )
        for gemm in gemms:
            gemm.input[1] = transposed
            for attribute in gemm.attribute:
                if attribute.name == "transB":
                    attribute.i = 0
    if len(nodes) == len(model.graph.node):
        return False
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return True


def check_parity(
    model_dir: str | os.PathLike[str],
    onnx_path: str | os.PathLike[str],
    n: int = 7,
    seed: int = 0,
) -> float:
    """The largest |PyTorch - onnxruntime| difference, over all outputs, of the generator of
    ``model_dir`` (eval mode) and its export ``onnx_path`` on the same seeded inputs, run at
    batch sizes 1 and ``n`` (>= 2), which proves the exported batch axis dynamic.
    """
    return _parity(_load(model_dir), onnx_path, n=n, seed=seed)[0]


class OnnxGenerator:
    """An exported generator run by onnxruntime (CPUExecutionProvider) on numpy arrays:
    ``OnnxGenerator(path)(latent (N, latent_size), condition (N, ...)) -> {name: array}``.

    ``threads``: onnxruntime's intra-op threads (default: its own choice, one per core).
    The export's metadata is read back: ``model_name``, ``config``, ``provenance``,
    ``latent_size``, ``condition``, ``output_names``, ``output_units``, ``output_shapes``,
    ``fastshower_version`` (of the export) and ``metadata`` (all ``fastshower.*`` entries).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        ort = _require("onnxruntime")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise OnnxExportError(
                f"{self.path}: not an ONNX model onnxruntime can load: {exc}"
            ) from exc
        props = self._session.get_modelmeta().custom_metadata_map
        if _PREFIX + "format" not in props:
            raise OnnxExportError(
                f"{self.path}: an ONNX model, but not a fastshower export (no "
                f"{_PREFIX}format in its metadata_props)"
            )
        if props[_PREFIX + "format"] != FORMAT:
            raise OnnxExportError(
                f"{self.path}: export format {props[_PREFIX + 'format']!r}; this fastshower "
                f"({__version__}) reads {FORMAT!r}"
            )
        try:
            self.metadata = {
                k[len(_PREFIX) :]: v for k, v in props.items() if k.startswith(_PREFIX)
            }
            self.model_name: str = self.metadata["model"]
            self.fastshower_version: str = self.metadata["version"]
            self.config: dict[str, Any] = json.loads(self.metadata["config"])
            self.provenance: dict[str, Any] = json.loads(self.metadata["provenance"])
            self.latent_size = int(self.metadata["latent_size"])
            self.condition: dict[str, Any] = json.loads(self.metadata["condition"])
            self.output_units: dict[str, str] = json.loads(self.metadata["output_units"])
            shapes = json.loads(self.metadata["output_shapes"])
        except (KeyError, ValueError) as exc:
            raise OnnxExportError(f"{self.path}: damaged fastshower metadata: {exc!r}") from exc
        self.output_shapes: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in shapes.items()}
        self.output_names = tuple(self.output_units)
        inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        if inputs != ["latent", "condition"] or outputs != list(self.output_names):
            raise OnnxExportError(
                f"{self.path}: inputs {inputs} and outputs {outputs} do not match its metadata"
            )

    def generate(self, latent: Any, condition: Any) -> dict[str, np.ndarray]:
        """The generator's outputs, by name, for ``latent`` (N, latent_size) and ``condition``
        (N, ...) (class labels, energies in GeV or the flows' four columns: ``self.condition``)."""
        latent = np.asarray(latent)
        condition = np.asarray(condition)
        if latent.ndim != 2 or latent.shape[1] != self.latent_size:
            raise ValueError(
                f"latent must be (N, {self.latent_size}) for this {self.model_name} export, got "
                f"{latent.shape}"
            )
        n = len(latent)
        shape = (n, *self.condition.get("shape", ()))
        if condition.shape != shape:
            raise ValueError(
                f"condition ({self.condition.get('name', '?')}) must be {shape} to match "
                f"the latent, got {condition.shape}"
            )
        if n == 0:
            return {k: np.zeros((0, *self.output_shapes[k]), np.float32) for k in self.output_names}
        feed = {
            "latent": latent.astype(np.float32, copy=False),
            "condition": self._condition(condition),
        }
        results = self._session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, results, strict=True))

    __call__ = generate

    def _condition(self, condition: np.ndarray) -> np.ndarray:
        dtype = np.dtype(self.condition["dtype"])
        if dtype.kind != "i":
            return condition.astype(dtype, copy=False)
        if condition.dtype.kind not in "iub" and not np.array_equal(condition, np.round(condition)):
            raise ValueError(f"condition ({self.condition['meaning']}) must be integers")
        labels = condition.astype(dtype)
        classes = self.condition.get("classes")
        if classes is not None and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"condition ({self.condition['meaning']}) must be in 0..{classes - 1}, got "
                f"{labels.min()}..{labels.max()}"
            )
        return labels

    def __repr__(self) -> str:
        return (
            f"OnnxGenerator({str(self.path)!r}: {self.model_name}, latent {self.latent_size}, "
            f"outputs {', '.join(self.output_names)})"
        )


def _parity(
    loaded: LoadedModel, onnx_path: str | os.PathLike[str], *, n: int, seed: int
) -> tuple[float, float]:
    """(max |torch - onnxruntime|, max |torch output|) at batch sizes 1 and ``n``."""
    if n < 2:
        raise ValueError(f"n must be >= 2 (batch sizes 1 and n are compared), got {n}")
    family = _family(loaded.name)
    onnx_generator = OnnxGenerator(onnx_path, threads=1)
    if onnx_generator.model_name != loaded.name or onnx_generator.config != loaded.config:
        raise OnnxExportError(
            f"{onnx_path} is an export of {onnx_generator.model_name!r} with config "
            f"{onnx_generator.config}, the model folder holds {loaded.name!r} with config "
            f"{loaded.config}"
        )
    rng = np.random.default_rng(seed)
    generator = loaded.generator.eval()
    difference = scale = 0.0
    for batch in (1, n):
        latent = rng.standard_normal((batch, onnx_generator.latent_size), dtype=np.float32)
        condition = family.example_condition(generator, batch)
        with torch.no_grad():
            expected = _as_tuple(generator(torch.from_numpy(latent), condition))
        got = onnx_generator.generate(latent, condition.numpy())
        for name, expected_tensor in zip(onnx_generator.output_names, expected, strict=True):
            want = expected_tensor.numpy()
            if got[name].shape != want.shape:
                raise OnnxExportError(
                    f"{onnx_path}: output {name} has shape {got[name].shape} at batch size "
                    f"{batch}, PyTorch's has {want.shape}"
                )
            difference = max(difference, float(np.abs(got[name] - want).max()))
            scale = max(scale, float(np.abs(want).max()))
    return difference, scale


def _metadata(
    loaded: LoadedModel,
    latent_size: int,
    family: Family,
    output_names: tuple[str, ...],
    output_shapes: list[tuple[int, ...]],
) -> dict[str, str]:
    entries = {
        "format": FORMAT,
        "version": __version__,
        "model": loaded.name,
        "config": json.dumps(loaded.config, sort_keys=True),
        "provenance": json.dumps(loaded.provenance, sort_keys=True),
        "latent_size": str(latent_size),
        "condition": json.dumps(family.onnx.condition),
        "output_units": json.dumps({name: family.onnx.output_units for name in output_names}),
        "output_shapes": json.dumps(dict(zip(output_names, map(list, output_shapes), strict=True))),
    }
    return {_PREFIX + k: v for k, v in entries.items()}


def _name_batch_axis(model: Any) -> None:
    """Check the inputs' first axis is symbolic and call it ``batch`` wherever it appears (the
    exporter names it after a torch symbol such as ``s27``)."""
    ir = _require("onnx_ir", "onnxscript")
    graph = model.graph
    dims = [value.shape[0] if value.shape is not None else None for value in graph.inputs]
    symbols = {d.value if isinstance(d, ir.SymbolicDim) else None for d in dims}
    if len(symbols) != 1 or not all(symbols):
        raise OnnxExportError(f"the export's batch axis is not dynamic: input batch axes {dims}")
    (symbol,) = symbols
    values = [*graph.inputs, *graph.outputs]
    values += [v for node in ir.traversal.RecursiveGraphIterator(graph) for v in node.outputs]
    for value in values:
        shape = value.shape
        if shape is not None and any(getattr(d, "value", None) == symbol for d in shape):
            value.shape = ir.Shape(
                [
                    _BATCH_DIM if isinstance(d, ir.SymbolicDim) and d.value == symbol else d
                    for d in shape
                ]
            )


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence torch's own noise during an export: a FutureWarning raised inside torch.export
    and the exporter's log lines about torchvision operators (torchvision is not needed)."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _TORCH_INTERNAL_WARNING, FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _load(model_dir: str | os.PathLike[str]) -> LoadedModel:
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"{model_dir}: no such model folder")
    return load_model(model_dir)


def _family(name: str) -> Family:
    try:
        return model_family(name)
    except ValueError as exc:
        raise OnnxExportError(f"no ONNX export: {exc}") from exc


def _as_tuple(outputs: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _require(module: str, *also: str) -> Any:
    """Import ``module`` (after checking ``also`` import), or say which extra provides it."""
    try:
        for name in also:
            importlib.import_module(name)
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"ONNX export needs the 'onnx' extra: pip install 'fastshower[onnx]' ({exc})"
        ) from exc
