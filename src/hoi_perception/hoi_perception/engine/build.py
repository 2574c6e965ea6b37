"""ONNX -> TensorRT plan builds through the engine cache (TensorRT 10 builder API)."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import EngineCache, EngineCacheKey, atomic_write, profile_key, sha256_file
from .contract import Contract, Profile, TensorInfo, check_model_io, profile_shapes, tensor_infos_from_onnx
from .trt_common import import_tensorrt, query_gpu, trt_dtype_name_to_dtype

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class BuildOptions:
    precision: str = "fp16"
    workspace_mib: int = 4096
    calibration_cache: Path | None = None  # int8: an existing TensorRT calibration cache
    timing_cache: Path | None = None  # default: <cache dir>/timing-<trt>-<cc>.cache, reused across builds
    profile_overrides: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    plugins: Sequence[Path] = ()
    device_id: int = 0
    verbose: bool = False

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "int8" and not (self.calibration_cache and Path(self.calibration_cache).is_file()):
            raise ValueError("int8 needs --calib-cache pointing at an existing TensorRT calibration cache")
        if self.workspace_mib <= 0:
            raise ValueError("workspace must be positive")


def onnx_profile(contract: Contract, onnx_path: str | Path, overrides: Mapping[str, tuple[int, int, int]]) -> Profile:
    """Check the ONNX file against the contract and derive the optimisation profile for its inputs."""
    ins, outs = tensor_infos_from_onnx(onnx_path)
    bound = check_model_io(contract, ins, outs, f"ONNX model {Path(onnx_path).name}")
    return profile_shapes(contract, [s.name for s in bound.inputs], overrides, bound.fixed_dims)


def make_cache_key(
    contract: Contract, onnx_path: str | Path, precision: str, profile: Profile, trt_version: str, gpu_name: str,
    compute_capability: str, calibration_cache: str | Path | None = None,
) -> EngineCacheKey:
    return EngineCacheKey(
        model=contract.name, onnx_sha256=sha256_file(onnx_path), tensorrt_version=trt_version, gpu_name=gpu_name,
        compute_capability=compute_capability, precision=precision, profile=profile_key(profile),
        calibration_sha256=sha256_file(calibration_cache) if precision == "int8" and calibration_cache else "",
    )


def build_engine(
    onnx_path: str | Path,
    contract: Contract,
    options: BuildOptions | None = None,
    cache: EngineCache | None = None,
) -> Path:
    """Build (or fetch from the cache) the plan for ``onnx_path``; returns its path.

    Raises BackendUnavailable (one line) when TensorRT is missing, and
    ContractError when the ONNX does not match the contract.
    """
    options = options or BuildOptions()
    trt = import_tensorrt("build")
    options.validate()
    cache = cache or EngineCache()
    profile = onnx_profile(contract, onnx_path, options.profile_overrides)
    gpu = query_gpu(options.device_id)
    key = make_cache_key(contract, onnx_path, options.precision, profile, trt.__version__, gpu.name,
                         gpu.compute_capability, options.calibration_cache)
    timing = options.timing_cache or cache.root / f"timing-trt{trt.__version__}-sm{gpu.compute_capability}.cache"
    return cache.get_or_build(key, lambda: _build_plan(trt, Path(onnx_path), contract, profile, options, Path(timing)))


def _build_plan(trt: Any, onnx_path: Path, contract: Contract, profile: Profile, options: BuildOptions,
                timing_cache: Path) -> memoryview:
    for lib in options.plugins:
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    logger = trt.Logger(trt.Logger.VERBOSE if options.verbose else trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")

    # The parsed network is what the plan will expose: check it too (the parser may change dtypes).
    def infos(getter: Any, n: int) -> list[TensorInfo]:
        return [TensorInfo(t.name, trt_dtype_name_to_dtype(t.dtype), tuple(t.shape)) for t in (getter(i) for i in range(n))]

    check_model_io(contract, infos(network.get_input, network.num_inputs), infos(network.get_output, network.num_outputs),
                   f"TensorRT network from {onnx_path.name}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    opt_profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        if any(d < 0 for d in t.shape):  # static inputs need no profile entry
            mn, op, mx = profile[t.name]
            opt_profile.set_shape(t.name, mn, op, mx)
    config.add_optimization_profile(opt_profile)
    if options.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if options.precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _cache_only_calibrator(trt, Path(options.calibration_cache))  # type: ignore[arg-type]
        config.set_calibration_profile(opt_profile)
    blob = timing_cache.read_bytes() if timing_cache.is_file() else b""
    tcache = config.create_timing_cache(blob)
    config.set_timing_cache(tcache, ignore_mismatch=False)

    log.info("building %s (%s) with TensorRT %s, this takes minutes", onnx_path.name, options.precision, trt.__version__)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path.name} (run with --verbose for the builder log)")
    atomic_write(timing_cache, memoryview(config.get_timing_cache().serialize()))
    return memoryview(plan)


def _cache_only_calibrator(trt: Any, cache_path: Path) -> Any:
    """An INT8 calibrator that serves an existing calibration cache (no calibration data needed)."""

    class CacheCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._cache = cache_path.read_bytes()

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> None:
            return None  # no data: TensorRT must take the scales from the cache

        def read_calibration_cache(self) -> bytes:
            return self._cache

        def write_calibration_cache(self, cache: bytes) -> None:
            return None

    return CacheCalibrator()
