"""The package's layers: each module imports only from its own part and the layers below it, so
data flows one way (simulate -> dataset files -> train -> model files -> generate -> evaluate)
and no import circle can form. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import fastshower

PACKAGE = Path(fastshower.__file__).parent
LAYERS = [
    # the foundations: the detector as data, physics observables, files
    {"_cpus", "_stdout", "detector", "particles"},
    {"observables", "checkpoint"},
    {"io"},
    {"calochallenge"},
    {"simulate"},
    {"models"},  # networks and the family contract
    {"modelfile", "pretrained"},  # model folders
    {"training"},
    {"generate", "export", "evaluate"},
    {"bench"},
    {"demo"},
    {"cli"},
]
LAYER_OF = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """``fastshower.models.lagan`` -> ``models``; ``fastshower`` itself -> ``""``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "fastshower" or m.startswith("fastshower.")}


def test_every_part_has_a_layer() -> None:
    parts = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    parts -= {"__init__", "__pycache__", "py"}
    assert parts - {"pretrained"} <= set(LAYER_OF), sorted(parts - set(LAYER_OF))


def test_imports_go_down_only() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("fastshower", *path.relative_to(PACKAGE).with_suffix("").parts))
        here = part_of(module)
        if here == "__init__":
            continue
        for target in imports(path):
            there = part_of(target)
            if there in ("", "__init__") or there == here:
                continue
            if LAYER_OF[there] >= LAYER_OF[here]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)
