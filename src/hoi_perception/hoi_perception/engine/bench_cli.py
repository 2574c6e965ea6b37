"""hoi-engine-bench: benchmark engines (default: the four contract test models on the best backend).

    hoi-engine-bench                                   # all four test models
    hoi-engine-bench sparse4d=models/sparse4d.onnx --backend onnxruntime --dims N=6
    hoi-engine-bench bodypose3dnet=engines/cache/bodypose3dnet-fp16-....engine --json out/bench/engines.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from .base import BackendUnavailable
from .bench import BenchResult, benchmark, format_table
from .contract import ContractError, available_contracts, load_contract
from .factory import BACKENDS, create_engine
from .test_models import make_test_model


def _parse_dims(items: list[str]) -> dict[str, int]:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        if not k or not v.isdigit():
            raise ValueError(f"--dims item {it!r} must look like NAME=INT")
        out[k] = int(v)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoi-engine-bench", description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", metavar="CONTRACT=PATH",
                    help="engines to time (ONNX or TensorRT plan); none: the contract test models")
    ap.add_argument("--backend", default="auto", choices=BACKENDS)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--dims", nargs="*", default=[], metavar="DIM=SIZE", help="dynamic dim sizes (default: examples)")
    ap.add_argument("--json", metavar="PATH", help="write results as JSON ('-' for stdout)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")

    try:
        dims = _parse_dims(args.dims)
        jobs: list[tuple[str, Path, str]] = []
        tmp = None
        if not args.models:
            tmp = tempfile.TemporaryDirectory(prefix="hoi-bench-")
            for name in available_contracts():
                jobs.append((name, make_test_model(name, Path(tmp.name) / f"{name}.onnx"), f"{name} (test model)"))
        for item in args.models:
            name, sep, path = item.partition("=")
            if not sep:
                raise ValueError(f"model {item!r} must look like CONTRACT=PATH")
            jobs.append((name, Path(path), f"{name} ({Path(path).name})"))

        results: list[BenchResult] = []
        for name, path, label in jobs:
            contract = load_contract(name)
            own = {k: v for k, v in dims.items() if k in contract.dims}
            use = contract.example_dims(**own)
            with create_engine(path, contract, backend=args.backend) as engine:
                inputs = contract.example_inputs(use, names=engine.input_names)
                results.append(benchmark(engine, inputs, warmup=args.warmup, iters=args.iters, label=label,
                                         dims={k: v for k, v in use.items() if any(
                                             k in s.shape for s in engine.bound_inputs)}))
        if tmp is not None:
            tmp.cleanup()
    except (BackendUnavailable, ContractError, ValueError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    print(format_table(results))
    if args.json:
        payload = json.dumps([r.to_dict() for r in results], indent=1)
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(payload + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
