"""ONNX export: both generators come out of onnxruntime as out of PyTorch, at any batch size, with
their metadata; files that are not exports, and wrong inputs, are refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.onnx
pytest.importorskip("onnxscript", reason="needs the onnx extra")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from fastshower import __version__  # noqa: E402
from fastshower.export import (  # noqa: E402
    FORMAT,
    PARITY_RTOL,
    OnnxExportError,
    OnnxGenerator,
    check_parity,
    export_onnx,
    quantize_int8,
)
from fastshower.modelfile import ModelFileError, save_model  # noqa: E402
from fastshower.models import build_generator  # noqa: E402
from fastshower.models.lagan import LaganGenerator  # noqa: E402

PROVENANCE = {"training_data_sha256": "ab" * 32, "epochs": 3}
CALOGAN_CONFIG = {"latent_size": 1024, "layer_shapes": [[3, 96], [12, 12], [12, 6]]}


@pytest.fixture(scope="module")
def lagan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lagan")
    torch.manual_seed(0)
    folder = save_model(
        root / "model", "lagan", LaganGenerator(latent_size=16), {"latent_size": 16}, PROVENANCE
    )
    return folder, export_onnx(folder, root / "out" / "lagan.onnx")


@pytest.fixture(scope="module")
def calogan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("calogan")
    torch.manual_seed(0)
    generator = build_generator("calogan", CALOGAN_CONFIG)
    folder = save_model(root / "model", "calogan", generator, CALOGAN_CONFIG, PROVENANCE)
    return folder, export_onnx(folder, root / "out" / "calogan.onnx")


def metadata(path: Path) -> dict[str, str]:
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def batch_axes(path: Path) -> list[str]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return [v.type.tensor_type.shape.dim[0].dim_param for v in [*graph.input, *graph.output]]


@pytest.mark.parametrize(
    ("model", "name", "config", "condition", "shapes", "units"),
    [
        ("lagan", "lagan", {"latent_size": 16}, "int64", {"image": (25, 25)}, "pT / 100 GeV"),
        (
            "calogan",
            "calogan",
            CALOGAN_CONFIG,
            "float32",
            {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)},
            "GeV",
        ),
    ],
)
def test_export_matches_pytorch_and_keeps_its_metadata(
    request: pytest.FixtureRequest,
    model: str,
    name: str,
    config: dict,
    condition: str,
    shapes: dict[str, tuple[int, int]],
    units: str,
) -> None:
    folder, path = request.getfixturevalue(model)
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]  # no temp
    for n, seed in ((7, 0), (3, 1)):  # batch sizes 1 and n: neither is the traced one (2)
        assert check_parity(folder, path, n=n, seed=seed) < PARITY_RTOL
    assert batch_axes(path) == ["batch"] * (2 + len(shapes))

    props = metadata(path)
    assert props["fastshower.format"] == FORMAT and props["fastshower.version"] == __version__
    assert props["fastshower.model"] == name
    assert json.loads(props["fastshower.config"]) == config
    provenance = json.loads(props["fastshower.provenance"])
    assert provenance == {**PROVENANCE, **provenance} and "fastshower_version" in provenance
    assert json.loads(props["fastshower.output_units"]) == dict.fromkeys(shapes, units)

    generator = OnnxGenerator(path, threads=1)
    assert generator.model_name == name and generator.config == config
    assert generator.provenance == provenance and generator.output_names == tuple(shapes)
    assert generator.condition["dtype"] == condition and generator.output_shapes == shapes
    rng = np.random.default_rng(0)
    for n in (1, 5):
        labels = rng.integers(0, 2, n) if name == "lagan" else rng.uniform(1, 100, n)
        out = generator(rng.standard_normal((n, generator.latent_size)), labels)
        assert list(out) == list(shapes)
        for key, shape in shapes.items():
            assert out[key].shape == (n, *shape) and out[key].dtype == np.float32
            assert np.all(out[key] >= 0)
    empty = generator(np.zeros((0, generator.latent_size)), np.zeros(0))
    assert {k: v.shape for k, v in empty.items()} == {k: (0, *s) for k, s in shapes.items()}


def test_files_that_are_not_exports_are_refused(lagan, calogan, tmp_path: Path) -> None:
    folder, _ = lagan
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 3])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    plain = tmp_path / "plain.onnx"
    onnx.save(
        onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), plain
    )
    with pytest.raises(OnnxExportError, match="not a fastshower export"):
        OnnxGenerator(plain)
    with pytest.raises(OnnxExportError, match="not a fastshower export"):
        check_parity(folder, plain)
    text = tmp_path / "text.onnx"
    text.write_text("not a model")
    with pytest.raises(OnnxExportError, match="not an ONNX model"):
        OnnxGenerator(text)
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        OnnxGenerator(tmp_path / "missing.onnx")
    with pytest.raises(OnnxExportError, match="export of 'calogan'"):
        check_parity(folder, calogan[1])  # another model's export


def test_missing_or_wrong_model_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        export_onnx(tmp_path / "nowhere", tmp_path / "m.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not a model folder"):
        export_onnx(tmp_path / "empty", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="batch_size_hint"):
        export_onnx(tmp_path / "empty", tmp_path / "m.onnx", batch_size_hint=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_wrong_inputs_are_refused(lagan) -> None:
    generator = OnnxGenerator(lagan[1], threads=1)
    latent = np.zeros((4, 16), np.float32)
    with pytest.raises(ValueError, match=r"latent must be \(N, 16\).*\(4, 20\)"):
        generator(np.zeros((4, 20)), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"latent must be \(N, 16\)"):
        generator(np.zeros(16), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match=r"must be \(4,\) to match the latent, got \(3,\)"):
        generator(latent, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"must be in 0\.\.1"):
        generator(latent, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="must be integers"):
        generator(latent, np.array([0, 0.5, 1, 0]))


def test_a_failed_parity_check_leaves_no_file(
    lagan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastshower.export as export

    monkeypatch.setattr(export, "_parity", lambda *args, **kwargs: (1.0, 0.5))
    with pytest.raises(OnnxExportError, match="differs from PyTorch by 1"):
        export_onnx(lagan[0], tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


def test_int8_export_of_the_shipped_student_stays_close_to_the_float_one(tmp_path: Path) -> None:
    """``export onnx --quantize int8`` on real trained weights: marked in the metadata, a
    smaller file with a dynamic batch axis, and showers whose layer energies stay within a few
    percent of the float export's on the same noise (int8 rounding of the weights; measured: a
    median 0.2 % on the total energy)."""
    import subprocess
    import sys

    from fastshower.pretrained import resolve_model

    folder = resolve_model("flow-matching-eplus-1step")
    paths = {q: tmp_path / f"{q}.onnx" for q in ("none", "int8")}
    for quantize, path in paths.items():
        command = [
            sys.executable,
            "-m",
            "fastshower.cli",
            "export",
            "onnx",
            "--model",
            str(folder),
            "--out",
            str(path),
            "--quantize",
            quantize,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert metadata(paths["int8"])["fastshower.quantization"].startswith("int8")
    assert "fastshower.quantization" not in metadata(paths["none"])
    assert paths["int8"].stat().st_size < 0.5 * paths["none"].stat().st_size
    assert batch_axes(paths["int8"]) == ["batch"] * 5

    rng = np.random.default_rng(0)
    energy = rng.uniform(1, 100, 300)
    condition = np.stack([energy, np.full(300, -11.0), np.zeros(300), np.zeros(300)], 1)
    latent = rng.standard_normal((300, 507))
    layers = {q: OnnxGenerator(p)(latent, condition) for q, p in paths.items()}
    for key in ("layer_0", "layer_1", "layer_2"):
        assert (layers["int8"][key] >= 0).all()
    totals = {q: sum(out[k].reshape(300, -1).sum(1) for k in out) for q, out in layers.items()}
    relative = np.abs(totals["int8"] - totals["none"]) / totals["none"]
    assert np.median(relative) < 0.02 and relative.max() < 0.1
    with pytest.raises(ValueError, match="quantize"):
        export_onnx(folder, tmp_path / "x.onnx", quantize="int4")


def test_int8_export_of_products_sharing_a_computed_weight_loads(tmp_path: Path) -> None:
    """As in flow I's inverse (one masked network run once per feature): two Gemm share the
    weight ``w x mask``, computed in the graph. onnxruntime's quantizer gave each its own
    Transpose under one name, and the int8 file did not load."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    mask = np.tril(np.ones((4, 4), np.float32))
    nodes = [
        helper.make_node("Mul", ["w", "mask"], ["masked"]),
        helper.make_node("Gemm", ["x", "masked"], ["h"], transB=1),
        helper.make_node("Gemm", ["h", "masked"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "shared",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(mask, "mask")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "shared.onnx")
    path = quantize_int8(tmp_path / "shared.onnx", tmp_path / "shared.int8.onnx")
    import onnxruntime as ort

    x = rng.standard_normal((3, 4)).astype(np.float32)
    (y,) = ort.InferenceSession(str(path)).run(None, {"x": x})
    np.testing.assert_allclose(y, x @ (w * mask).T @ (w * mask).T, rtol=0.1, atol=0.1)


def test_int8_export_keeps_convolutions_with_computed_weights_float(tmp_path: Path) -> None:
    """As in the grid couplings, which convolve with slices of one weight: onnxruntime's
    quantizer refused such a Conv ("Expected ... to be an initializer"), so the int8 export
    of the shipped calo-flow failed. Convolutions now stay float, the file loads and agrees."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    starts, ends, axes = (np.array([v], np.int64) for v in (0, 1, 1))
    nodes = [
        helper.make_node("Slice", ["w", "starts", "ends", "axes"], ["w0"]),
        helper.make_node("Conv", ["x", "w0"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "sliced",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4, 5, 6])],
        [
            numpy_helper.from_array(a, n)
            for a, n in ((w, "w"), (starts, "starts"), (ends, "ends"), (axes, "axes"))
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "sliced.onnx")
    path = quantize_int8(tmp_path / "sliced.onnx", tmp_path / "sliced.int8.onnx")
    import onnxruntime as ort

    x = rng.standard_normal((2, 1, 5, 6)).astype(np.float32)
    (y,) = ort.InferenceSession(str(path)).run(None, {"x": x})
    expected = torch.conv2d(torch.from_numpy(x), torch.from_numpy(w[:, :1]), padding=1)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-5, atol=1e-5)
