"""What torch.compile buys each generator on this machine: ms per event at one batch size through
torch on the CPU, uncompiled (all threads, one, and one single-threaded process per core) and
compiled (all threads), with the backends and the timing of ``fastshower bench``; with
``--onnx`` also its onnxruntime backends (the export takes minutes for the flows). The
compilation itself (a minute or more per model, cached on disk by torch afterwards) is not
timed.

    python benchmarks/compiled.py calo-flow jet-flow lagan [--onnx] [--eager] [--batch 1024]
"""

from __future__ import annotations

import argparse
import warnings

from fastshower import bench
from fastshower._cpus import usable_cpus
from fastshower.pretrained import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="Shipped model names or model folders.")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--onnx", action="store_true", help="Also onnxruntime, float and int8.")
    parser.add_argument("--eager", action="store_true", help="Uncompiled only (no compilation).")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # torch's compiler is talkative
    print(f"{'model':14s} {'backend':34s} ms per event at batch {args.batch}")
    with bench._worker_processes(usable_cpus()) as client:
        for name in args.models:
            for backend, make in bench._backends(
                resolve_model(name), client, compiled=not args.eager, onnx=args.onnx
            ):
                rows = bench._time_backend(name, backend, make, (args.batch,), args.repeats, 1.0)
                for row in rows:
                    ms, spread = row["ms_per_shower"], row["spread_ms"]
                    print(f"{name:14s} {backend:34s} {ms:.3f} +- {spread:.3f}")


if __name__ == "__main__":
    main()
