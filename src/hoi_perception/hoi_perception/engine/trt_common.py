"""What the TensorRT build and runtime share: guarded imports, GPU identity, binding resolution.

Nothing here imports tensorrt or cuda at module level; the binding logic is
pure (works on names, dtype names and shapes) so tests exercise it without
TensorRT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import BackendUnavailable
from .contract import Contract, TensorInfo, TensorSpec, trt_dtype_name_to_dtype

TRT_INSTALL_HINT = (
    "install NVIDIA TensorRT 10 (python package tensorrt from NVIDIA's distribution) and cuda-python"
)
TRT_MISSING_BUILD = f"TensorRT is not installed: {TRT_INSTALL_HINT} to build engines"
TRT_MISSING_RUN = f"the tensorrt backend needs TensorRT: {TRT_INSTALL_HINT}"


def import_tensorrt(purpose: str = "run") -> Any:
    """``import tensorrt`` (10.x) or raise BackendUnavailable with one line naming what to install."""
    msg = TRT_MISSING_BUILD if purpose == "build" else TRT_MISSING_RUN
    try:
        import tensorrt as trt
    except ImportError as e:
        raise BackendUnavailable(msg) from e
    # PyPI's bare "tensorrt" can be a stub without the bindings.
    if not hasattr(trt, "Builder") or not hasattr(trt, "__version__"):
        raise BackendUnavailable(msg)
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        raise BackendUnavailable(f"TensorRT {trt.__version__} found; the named-tensor API needs TensorRT 10: {TRT_INSTALL_HINT}")
    return trt


def import_cudart() -> Any:
    """cuda-python's runtime module (``cuda.bindings.runtime``, older ``cuda.cudart``)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError as e:
            raise BackendUnavailable(f"cuda-python is not installed: {TRT_INSTALL_HINT}") from e
    return cudart


def cuda_check(result: Any) -> Any:
    """Unpack a cuda-python ``(err, *values)`` tuple, raising on error."""
    err, *rest = result if isinstance(result, tuple) else (result,)
    code = int(getattr(err, "value", err))
    if code != 0:
        raise RuntimeError(f"CUDA error {err}")
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else tuple(rest)


def tensorrt_available() -> str | None:
    """None when TensorRT 10 + cuda-python + a GPU are usable, else the reason why not."""
    try:
        import_tensorrt()
        cudart = import_cudart()
        if cuda_check(cudart.cudaGetDeviceCount()) < 1:
            return "no CUDA device"
    except BackendUnavailable as e:
        return str(e)
    except RuntimeError as e:
        return f"CUDA not usable: {e}"
    return None


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str


def query_gpu(device_id: int = 0) -> GpuInfo:
    cudart = import_cudart()
    prop = cuda_check(cudart.cudaGetDeviceProperties(device_id))
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    return GpuInfo(name.rstrip("\x00").strip(), f"{prop.major}.{prop.minor}")


# ----------------------------------------------------------------------------- pure binding logic


@dataclass(frozen=True)
class EngineTensor:
    """One IO tensor of a TensorRT engine, as read through the named-tensor API."""

    name: str
    is_input: bool
    dtype: str  # numpy name
    shape: tuple[int, ...]  # -1 where dynamic
    profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None  # inputs only


def engine_tensor_infos(tensors: Sequence[EngineTensor]) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Split engine IO tensors into the (inputs, outputs) the contract check takes."""
    ins = [TensorInfo(t.name, t.dtype, tuple(t.shape)) for t in tensors if t.is_input]
    outs = [TensorInfo(t.name, t.dtype, tuple(t.shape)) for t in tensors if not t.is_input]
    return ins, outs


def read_engine_tensors(engine: Any, trt: Any, profile_index: int = 0) -> list[EngineTensor]:
    """Enumerate a deserialized ICudaEngine's IO tensors (TensorRT 10 named-tensor API)."""
    out = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        prof = None
        if is_input:
            mn, op, mx = engine.get_tensor_profile_shape(name, profile_index)
            prof = (tuple(mn), tuple(op), tuple(mx))
        out.append(EngineTensor(name, is_input, trt_dtype_name_to_dtype(engine.get_tensor_dtype(name)),
                                tuple(engine.get_tensor_shape(name)), prof))
    return out


def check_shape_in_profile(name: str, shape: Sequence[int], profile: tuple[tuple[int, ...], ...]) -> str | None:
    """None if ``shape`` lies within the engine profile of ``name``, else a message."""
    mn, _, mx = profile
    if len(shape) != len(mn) or any(not lo <= s <= hi for s, lo, hi in zip(shape, mn, mx, strict=False)):
        return (f"input '{name}' shape {list(shape)} is outside the engine's profile "
                f"[{list(mn)} .. {list(mx)}]: rebuild with a wider --profile")
    return None


def nbytes(shape: Sequence[int], dtype: str | np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def output_shape_guess(spec: TensorSpec, dims: Mapping[str, int], contract: Contract) -> tuple[int, ...]:
    """Upper-bound allocation for an output whose size TensorRT reports only after running
    (data-dependent dims such as Sparse4D's M): dims bound from the inputs, else the dim's max."""
    return tuple(d if isinstance(d, int) else int(dims.get(d, contract.dims[d].max)) for d in spec.shape)
