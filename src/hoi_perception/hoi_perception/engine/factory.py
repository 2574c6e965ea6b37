"""Backend selection: ``create_engine(model, contract, backend="auto")``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .base import BackendUnavailable, Engine
from .contract import Contract, load_contract
from .ort_backend import OnnxRuntimeEngine, ort_available_providers, resolve_providers
from .trt_common import TRT_MISSING_RUN, tensorrt_available

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "onnxruntime", "onnxruntime:cpu", "onnxruntime:cuda", "onnxruntime:tensorrt")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def available_backends() -> dict[str, str | None]:
    """Each concrete backend -> None if usable here, else why not (with what to install)."""
    providers = ort_available_providers()
    out: dict[str, str | None] = {"tensorrt": tensorrt_available()}
    for alias, prov in (("cpu", "CPUExecutionProvider"), ("cuda", "CUDAExecutionProvider"),
                        ("tensorrt", "TensorrtExecutionProvider")):
        try:
            resolve_providers([prov], providers)
            out[f"onnxruntime:{alias}"] = None
        except BackendUnavailable as e:
            out[f"onnxruntime:{alias}"] = str(e)
    return out


def create_engine(
    model_path: str | Path,
    contract: Contract | str,
    backend: str = "auto",
    **kwargs: Any,
) -> Engine:
    """Load ``model_path`` (ONNX, or a TensorRT plan) behind the Engine interface.

    ``auto`` prefers native TensorRT (building the plan into the engine cache
    on first use), then ONNX Runtime with the TensorRT EP, CUDA EP, CPU; it
    logs what it picked and why. Asking for a backend that is not installed
    raises BackendUnavailable naming what to install. Extra keyword
    arguments go to the backend (e.g. ``cuda_graph``, ``device_id``,
    ``build_options`` for tensorrt; ``providers``, ``trt_cache_dir`` for onnxruntime).
    """
    if isinstance(contract, str):
        contract = load_contract(contract)
    path = Path(model_path)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    is_plan = path.suffix in ENGINE_SUFFIXES

    if backend == "auto":
        why_not_trt = tensorrt_available()
        if why_not_trt is None:
            backend = "tensorrt"
        elif is_plan:
            raise BackendUnavailable(f"{path.name} is a TensorRT plan: {why_not_trt}")
        else:
            engine = OnnxRuntimeEngine(path, contract, providers="auto", **kwargs)
            log.info("engine backend for %s: %s (native tensorrt unavailable: %s)", contract.name, engine.backend_name,
                     why_not_trt)
            return engine

    if backend == "tensorrt":
        why_not = tensorrt_available()
        if why_not is not None:
            raise BackendUnavailable(why_not if "install" in why_not else f"{TRT_MISSING_RUN} ({why_not})")
        from .trt_backend import TensorRTEngine  # imports tensorrt lazily

        build_options = kwargs.pop("build_options", None)
        cache = kwargs.pop("cache", None)
        if not is_plan:
            from .build import build_engine

            path = build_engine(path, contract, build_options, cache)
        engine = TensorRTEngine(path, contract, **kwargs)
        log.info("engine backend for %s: %s (%s)", contract.name, engine.backend_name, path.name)
        return engine

    if is_plan:
        raise ValueError(f"{path.name} is a TensorRT plan; onnxruntime needs the ONNX file")
    providers = backend.split(":", 1)[1] if ":" in backend else kwargs.pop("providers", "auto")
    engine = OnnxRuntimeEngine(path, contract, providers=providers, **kwargs)
    log.info("engine backend for %s: %s", contract.name, engine.backend_name)
    return engine
