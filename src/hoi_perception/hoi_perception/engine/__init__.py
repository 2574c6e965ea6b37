"""Inference engines: model contracts, ONNX Runtime and TensorRT backends, engine cache.

    from hoi_perception.engine import load_contract, create_engine, Engine
    contract = load_contract("sparse4d")
    engine = create_engine("model.onnx", contract, backend="auto")
    outputs = engine.run({"img": ..., ...})

Nothing here imports tensorrt or cuda at module level: they are imported
inside the functions that need them, so the package works without them.
"""

from .base import BackendUnavailable, DeviceTensor, Engine, HostTensor
from .cache import EngineCache, EngineCacheKey, default_cache_dir
from .contract import (
    Contract,
    ContractError,
    DimSpec,
    Mismatch,
    TensorInfo,
    TensorSpec,
    available_contracts,
    check_model_io,
    load_contract,
    profile_shapes,
    validate_arrays,
)
from .factory import BACKENDS, available_backends, create_engine
from .ort_backend import OnnxRuntimeEngine

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "Contract",
    "ContractError",
    "DeviceTensor",
    "DimSpec",
    "Engine",
    "EngineCache",
    "EngineCacheKey",
    "HostTensor",
    "Mismatch",
    "OnnxRuntimeEngine",
    "TensorInfo",
    "TensorSpec",
    "available_backends",
    "available_contracts",
    "check_model_io",
    "create_engine",
    "default_cache_dir",
    "load_contract",
    "profile_shapes",
    "validate_arrays",
]
