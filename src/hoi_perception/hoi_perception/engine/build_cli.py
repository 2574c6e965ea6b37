"""hoi-engine-build: build a TensorRT plan from an ONNX file into the engine cache.

    hoi-engine-build models/bodypose3dnet_accuracy.onnx --contract bodypose3dnet --precision fp16
    hoi-engine-build sparse4d.onnx --contract sparse4d --profile N=4:6:8 --plugin libnvinfer_plugin_msda.so
    hoi-engine-build model.onnx --contract coconet --precision int8 --calib-cache coconet.calib

Prints the plan's path. Exits 2 with one line when TensorRT is missing,
1 when the ONNX does not match its contract or the build fails.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from .base import BackendUnavailable
from .build import PRECISIONS, BuildOptions, build_engine
from .cache import EngineCache
from .contract import ContractError, available_contracts, load_contract, parse_profile_overrides
from .trt_common import import_tensorrt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoi-engine-build", description=__doc__.split("\n")[0])
    ap.add_argument("onnx", type=Path, help="ONNX model")
    ap.add_argument("--contract", required=True, help=f"contract name ({', '.join(available_contracts())}) or YAML path")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp16")
    ap.add_argument("--calib-cache", type=Path, help="int8: existing TensorRT calibration cache")
    ap.add_argument("--workspace-mib", type=int, default=4096, help="builder workspace limit (MiB)")
    ap.add_argument("--timing-cache", type=Path, help="timing cache to reuse/update (default: one per TensorRT+GPU in the cache dir)")
    ap.add_argument("--profile", nargs="*", default=[], metavar="DIM=MIN:OPT:MAX",
                    help="override a contract dim's optimisation-profile range")
    ap.add_argument("--cache-dir", type=Path, help="engine cache (default $HOI_ENGINE_CACHE or engines/cache)")
    ap.add_argument("--output", type=Path, help="also copy the plan here")
    ap.add_argument("--plugin", action="append", default=[], type=Path, help="TensorRT plugin library to load")
    ap.add_argument("--device", type=int, default=0, help="CUDA device id")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")

    try:
        import_tensorrt("build")  # first, so a machine without TensorRT gets exactly one clear line
    except BackendUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        contract = load_contract(args.contract)
        options = BuildOptions(
            precision=args.precision, workspace_mib=args.workspace_mib, calibration_cache=args.calib_cache,
            timing_cache=args.timing_cache, profile_overrides=parse_profile_overrides(args.profile),
            plugins=tuple(args.plugin), device_id=args.device, verbose=args.verbose,
        )
        if not args.onnx.is_file():
            raise FileNotFoundError(f"no such ONNX file: {args.onnx}")
        path = build_engine(args.onnx, contract, options, EngineCache(args.cache_dir))
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, args.output)
            shutil.copyfile(path.with_suffix(".json"), args.output.with_suffix(".json"))
    except (ContractError, ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(args.output or path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
