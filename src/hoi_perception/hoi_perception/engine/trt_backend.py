"""TensorRT 10 backend: named-tensor API on a CUDA stream through cuda-python.

set_input_shape / set_tensor_address / execute_async_v3, pinned host staging
buffers, grow-only device buffers, optional CUDA graph capture per input-shape
set. Outputs whose size is data-dependent use an IOutputAllocator. Contract
checks and shape/profile logic come from the shared pure helpers, which the
tests cover on CPU.
"""

from __future__ import annotations

import ctypes
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import DeviceTensor, Engine
from .contract import Contract, check_model_io
from .trt_common import (
    check_shape_in_profile,
    cuda_check,
    engine_tensor_infos,
    import_cudart,
    import_tensorrt,
    nbytes,
    query_gpu,
    read_engine_tensors,
)

log = logging.getLogger(__name__)


class _Buffer:
    """Grow-only device buffer with a pinned host twin."""

    def __init__(self, cudart: Any):
        self.cudart = cudart
        self.dev = 0
        self.host = 0
        self.capacity = 0

    def ensure(self, size: int) -> None:
        if size <= self.capacity:
            return
        self.free()
        size = max(size, 256)
        self.dev = int(cuda_check(self.cudart.cudaMalloc(size)))
        self.host = int(cuda_check(self.cudart.cudaMallocHost(size)))
        self.capacity = size

    def host_view(self, shape: Sequence[int], dtype: np.dtype) -> np.ndarray:
        n = nbytes(shape, dtype)
        raw = np.ctypeslib.as_array((ctypes.c_ubyte * max(n, 1)).from_address(self.host))
        return raw[:n].view(dtype).reshape(shape)

    def free(self) -> None:
        if self.dev:
            self.cudart.cudaFree(self.dev)
        if self.host:
            self.cudart.cudaFreeHost(self.host)
        self.dev = self.host = self.capacity = 0


class TrtDeviceTensor(DeviceTensor):
    """A device allocation owned by this tensor (freed when it is garbage-collected)."""

    device = "cuda"

    def __init__(self, cudart: Any, ptr: int, shape: Sequence[int], dtype: np.dtype, owned: bool = True):
        self.cudart, self.ptr, self._shape, self._dtype, self.owned = cudart, int(ptr), tuple(shape), np.dtype(dtype), owned

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def numpy(self) -> np.ndarray:
        out = np.empty(self._shape, self._dtype)
        if out.nbytes:
            cuda_check(self.cudart.cudaMemcpy(out.ctypes.data, self.ptr, out.nbytes,
                                              self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost))
        return out

    def __del__(self) -> None:
        if self.owned and self.ptr:
            self.cudart.cudaFree(self.ptr)
            self.ptr = 0


def _make_output_allocator(trt: Any, cudart: Any) -> Any:
    class OutputAllocator(trt.IOutputAllocator):
        """Lets TensorRT size data-dependent outputs; buffers persist and only grow."""

        def __init__(self) -> None:
            trt.IOutputAllocator.__init__(self)
            self.buffers: dict[str, _Buffer] = {}
            self.shapes: dict[str, tuple[int, ...]] = {}

        def reallocate_output_async(self, tensor_name: str, memory: int, size: int, alignment: int, stream: int) -> int:
            buf = self.buffers.setdefault(tensor_name, _Buffer(cudart))
            buf.ensure(size)
            return buf.dev

        def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
            return self.reallocate_output_async(tensor_name, memory, size, alignment, 0)

        def notify_shape(self, tensor_name: str, shape: Any) -> None:
            self.shapes[tensor_name] = tuple(shape)

    return OutputAllocator()


def check_engine_sidecar(engine_path: Path, trt_version: str, gpu_name: str, cc: str) -> None:
    """Refuse a plan whose cache sidecar says it was built by another TensorRT or for another GPU."""
    meta = engine_path.with_suffix(".json")
    if not meta.is_file():
        return
    d = json.loads(meta.read_text())
    want = {"tensorrt_version": trt_version, "gpu_name": gpu_name, "compute_capability": cc}
    diff = [f"{k} {d.get(k)!r} (here {v!r})" for k, v in want.items() if d.get(k) != v]
    if diff:
        raise RuntimeError(f"{engine_path.name} was built for another setup: {', '.join(diff)}; "
                           "rebuild it with hoi-engine-build (plans are not portable)")


class TensorRTEngine(Engine):
    """A serialized TensorRT plan, checked against its contract at load."""

    def __init__(
        self,
        engine_path: str | Path,
        contract: Contract,
        *,
        device_id: int = 0,
        cuda_graph: bool = False,
        plugins: Sequence[str | Path] = (),
    ):
        trt = import_tensorrt("run")
        cudart = import_cudart()
        super().__init__(contract, engine_path)
        self._trt, self._cudart = trt, cudart
        path = Path(engine_path)
        cuda_check(cudart.cudaSetDevice(device_id))
        gpu = query_gpu(device_id)
        check_engine_sidecar(path, trt.__version__, gpu.name, gpu.compute_capability)
        for lib in plugins:
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
        self._logger = trt.Logger(trt.Logger.WARNING)
        trt.init_libnvinfer_plugins(self._logger, "")
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise RuntimeError(f"TensorRT {trt.__version__} could not load {path.name} on {gpu.name}: built by another "
                               "TensorRT version, for another GPU, or missing a plugin; rebuild with hoi-engine-build")
        self._context = self._engine.create_execution_context()
        self._stream = cuda_check(cudart.cudaStreamCreate())
        self.tensors = {t.name: t for t in read_engine_tensors(self._engine, trt)}
        ins, outs = engine_tensor_infos(list(self.tensors.values()))
        bound = check_model_io(contract, ins, outs, f"TensorRT engine {path.name}")
        self.bound_inputs, self.bound_outputs = bound.inputs, bound.outputs
        self.backend_name = f"tensorrt:{trt.__version__}"
        self.device = "cuda"
        self.cuda_graph = cuda_graph
        self._bufs: dict[str, _Buffer] = {}
        self._allocator = None
        self._graphs: dict[tuple, Any] = {}

    # -- shared steps ------------------------------------------------------------------------------
    def _set_inputs(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        for name, shape in shapes.items():
            msg = check_shape_in_profile(name, shape, self.tensors[name].profile)  # type: ignore[arg-type]
            if msg:
                raise ValueError(msg)
            if not self._context.set_input_shape(name, tuple(shape)):
                raise ValueError(f"TensorRT rejected shape {list(shape)} for input '{name}'")

    def _bind_outputs(self, allocate: bool) -> dict[str, tuple[int, ...] | None]:
        """Set output addresses; returns known shapes (None: data-dependent, via the allocator)."""
        shapes: dict[str, tuple[int, ...] | None] = {}
        for spec in self.bound_outputs:
            shape = tuple(self._context.get_tensor_shape(spec.name))
            if any(d < 0 for d in shape):
                if self._allocator is None:
                    self._allocator = _make_output_allocator(self._trt, self._cudart)
                self._context.set_output_allocator(spec.name, self._allocator)
                shapes[spec.name] = None
            else:
                shapes[spec.name] = shape
                if allocate:
                    buf = self._bufs.setdefault(spec.name, _Buffer(self._cudart))
                    buf.ensure(nbytes(shape, spec.np_dtype))
                    self._context.set_tensor_address(spec.name, buf.dev)
        return shapes

    def _execute(self, key: tuple, graphable: bool) -> None:
        stream = int(self._stream)
        if not (self.cuda_graph and graphable):
            if not self._context.execute_async_v3(stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            return
        cudart = self._cudart
        exe = self._graphs.get(key)
        if exe is None:
            # One plain run after a shape change lets TensorRT settle its state before capture.
            self._context.execute_async_v3(stream)
            cuda_check(cudart.cudaStreamBeginCapture(self._stream, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal))
            self._context.execute_async_v3(stream)
            graph = cuda_check(cudart.cudaStreamEndCapture(self._stream))
            exe = cuda_check(cudart.cudaGraphInstantiate(graph, 0))
            self._graphs[key] = exe
        cuda_check(cudart.cudaGraphLaunch(exe, self._stream))

    # -- host path ---------------------------------------------------------------------------------
    def _run_host(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart = self._cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._set_inputs({k: tuple(v.shape) for k, v in inputs.items()})
        for name, arr in inputs.items():
            buf = self._bufs.setdefault(name, _Buffer(cudart))
            buf.ensure(arr.nbytes)
            np.copyto(buf.host_view(arr.shape, arr.dtype), arr)
            cuda_check(cudart.cudaMemcpyAsync(buf.dev, buf.host, arr.nbytes, h2d, self._stream))
            self._context.set_tensor_address(name, buf.dev)
        shapes = self._bind_outputs(allocate=True)
        key = tuple((k, tuple(v.shape)) for k, v in sorted(inputs.items()))
        # Graphs capture fixed addresses, so only graph runs whose buffers did not move.
        graphable = all(s is not None for s in shapes.values())
        self._execute(key, graphable)
        outs: dict[str, np.ndarray] = {}
        for spec in self.bound_outputs:
            shape = shapes[spec.name] or self._allocator.shapes[spec.name]  # type: ignore[union-attr]
            buf = self._bufs[spec.name] if shapes[spec.name] else self._allocator.buffers[spec.name]  # type: ignore[union-attr]
            if buf.host == 0 or buf.capacity < nbytes(shape, spec.np_dtype):
                buf.ensure(nbytes(shape, spec.np_dtype))
            view = buf.host_view(shape, spec.np_dtype)
            if view.nbytes:
                cuda_check(cudart.cudaMemcpyAsync(buf.host, buf.dev, view.nbytes, d2h, self._stream))
            outs[spec.name] = view
        cuda_check(cudart.cudaStreamSynchronize(self._stream))
        return {k: v.copy() for k, v in outs.items()}  # staging buffers are reused next call

    # -- device path -------------------------------------------------------------------------------
    def to_device(self, array: np.ndarray) -> DeviceTensor:
        arr = np.ascontiguousarray(array)
        ptr = int(cuda_check(self._cudart.cudaMalloc(max(arr.nbytes, 1))))
        if arr.nbytes:
            cuda_check(self._cudart.cudaMemcpy(ptr, arr.ctypes.data, arr.nbytes,
                                               self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
        return TrtDeviceTensor(self._cudart, ptr, arr.shape, arr.dtype)

    def _run_device(self, inputs: Mapping[str, DeviceTensor]) -> dict[str, DeviceTensor]:
        dev = {k: v if isinstance(v, TrtDeviceTensor) else self.to_device(v.numpy()) for k, v in inputs.items()}
        self._set_inputs({k: v.shape for k, v in dev.items()})
        for name, t in dev.items():
            self._context.set_tensor_address(name, t.ptr)
        shapes = self._bind_outputs(allocate=False)
        outs: dict[str, DeviceTensor] = {}
        for spec in self.bound_outputs:
            shape = shapes[spec.name]
            if shape is not None:
                ptr = int(cuda_check(self._cudart.cudaMalloc(max(nbytes(shape, spec.np_dtype), 1))))
                self._context.set_tensor_address(spec.name, ptr)
                outs[spec.name] = TrtDeviceTensor(self._cudart, ptr, shape, spec.np_dtype)
        if not self._context.execute_async_v3(int(self._stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        cuda_check(self._cudart.cudaStreamSynchronize(self._stream))
        for spec in self.bound_outputs:
            if shapes[spec.name] is None:  # data-dependent: copy out of the allocator's persistent buffer
                shape = self._allocator.shapes[spec.name]  # type: ignore[union-attr]
                src = self._allocator.buffers[spec.name].dev  # type: ignore[union-attr]
                n = nbytes(shape, spec.np_dtype)
                ptr = int(cuda_check(self._cudart.cudaMalloc(max(n, 1))))
                if n:
                    cuda_check(self._cudart.cudaMemcpy(ptr, src, n, self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice))
                outs[spec.name] = TrtDeviceTensor(self._cudart, ptr, shape, spec.np_dtype)
        return outs

    def synchronize(self) -> None:
        cuda_check(self._cudart.cudaStreamSynchronize(self._stream))

    def close(self) -> None:
        for b in self._bufs.values():
            b.free()
        self._bufs.clear()
        if self._allocator is not None:
            for b in self._allocator.buffers.values():
                b.free()
        for exe in self._graphs.values():
            self._cudart.cudaGraphExecDestroy(exe)
        self._graphs.clear()
        if getattr(self, "_stream", None) is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        self._context = None
        self._engine = None
