"""ONNX Runtime backend: CPU, CUDA EP and TensorRT EP, with IO binding on the GPU."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import BackendUnavailable, DeviceTensor, Engine
from .contract import ORT_TYPE_TO_DTYPE, Contract, TensorInfo, check_model_io

log = logging.getLogger(__name__)

# Preference order when the caller does not choose.
PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_GPU_PROVIDERS = {"TensorrtExecutionProvider", "CUDAExecutionProvider"}
PROVIDER_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
_INSTALL_HINT = {
    "CUDAExecutionProvider": "install onnxruntime-gpu (with CUDA 12 and cuDNN 9) instead of onnxruntime",
    "TensorrtExecutionProvider": "install onnxruntime-gpu and NVIDIA TensorRT 10 libraries on the library path",
}


def ort_available_providers() -> list[str]:
    """Execution providers of the installed onnxruntime ([] when it is missing)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def resolve_providers(requested: Sequence[str] | str | None, available: Sequence[str]) -> list[str]:
    """Providers to use, best first. ``requested`` may use aliases (cpu, cuda, tensorrt).

    Raises BackendUnavailable naming what to install when a requested
    provider is absent; CPU is always appended as the fallback.
    """
    if requested is None or requested == "auto":
        chosen = [p for p in PROVIDER_PREFERENCE if p in available]
    else:
        req = [requested] if isinstance(requested, str) else list(requested)
        chosen = []
        for r in req:
            p = PROVIDER_ALIASES.get(r.lower(), r)
            if p not in available:
                hint = _INSTALL_HINT.get(p, "install an onnxruntime build that has it")
                raise BackendUnavailable(
                    f"onnxruntime execution provider {p} is not available (have: {', '.join(available) or 'none'}): {hint}"
                )
            chosen.append(p)
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in available:
        chosen.append("CPUExecutionProvider")
    if not chosen:
        raise BackendUnavailable("onnxruntime has no usable execution provider: pip install onnxruntime")
    return chosen



# onnxruntime's exception types (onnxruntime_pybind11_state) for a file that is not a valid model
_NOT_A_MODEL = ("InvalidProtobuf", "InvalidGraph", "NoModel", "NoSuchFile", "InvalidArgument")

class OrtDeviceTensor(DeviceTensor):
    """An OrtValue on the GPU (keeps IO-bound tensors device-resident between stages)."""

    device = "cuda"

    def __init__(self, value: Any):  # onnxruntime.OrtValue
        self.value = value

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape())

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(ORT_TYPE_TO_DTYPE[self.value.data_type()])

    def numpy(self) -> np.ndarray:
        return self.value.numpy()


class OnnxRuntimeEngine(Engine):
    """An ONNX model under ONNX Runtime, checked against its contract at load."""

    def __init__(
        self,
        model_path: str | Path,
        contract: Contract,
        *,
        providers: Sequence[str] | str | None = None,
        device_id: int = 0,
        trt_cache_dir: str | Path | None = None,
        fp16: bool = False,
        intra_op_threads: int = 0,
    ):
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - onnxruntime is a core dependency
            raise BackendUnavailable("onnxruntime is not installed: pip install onnxruntime (or onnxruntime-gpu)") from e
        super().__init__(contract, model_path)
        self._ort = ort
        self.device_id = device_id
        chosen = resolve_providers(providers, ort.get_available_providers())
        provider_cfg: list[Any] = []
        for p in chosen:
            if p == "TensorrtExecutionProvider":
                opts: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": fp16}
                if trt_cache_dir is not None:
                    # The EP's own engine/timing caches; keyed by ORT on model + GPU + TensorRT version.
                    Path(trt_cache_dir).mkdir(parents=True, exist_ok=True)
                    opts |= {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(trt_cache_dir),
                             "trt_timing_cache_enable": True, "trt_timing_cache_path": str(trt_cache_dir)}
                provider_cfg.append((p, opts))
            elif p == "CUDAExecutionProvider":
                provider_cfg.append((p, {"device_id": device_id}))
            else:
                provider_cfg.append(p)
        so = ort.SessionOptions()
        so.log_severity_level = 3  # warnings from providers that fall back are noise here
        if intra_op_threads:
            so.intra_op_num_threads = intra_op_threads
        try:
            self.session = ort.InferenceSession(str(model_path), sess_options=so, providers=provider_cfg)
        except Exception as e:
            # a file that is no ONNX model (or a broken one) is a user error, not a crash: one line, exit 2
            if type(e).__name__ in _NOT_A_MODEL:
                raise ValueError(f"{model_path} is not a loadable ONNX model: {str(e).splitlines()[0]}") from None
            raise
        active = self.session.get_providers()
        self.backend_name = f"onnxruntime:{active[0]}"
        self.device = "cuda" if active[0] in _GPU_PROVIDERS else "cpu"

        ins = [TensorInfo(a.name, ORT_TYPE_TO_DTYPE.get(a.type, a.type), tuple(a.shape)) for a in self.session.get_inputs()]
        outs = [TensorInfo(a.name, ORT_TYPE_TO_DTYPE.get(a.type, a.type), tuple(a.shape)) for a in self.session.get_outputs()]
        bound = check_model_io(contract, ins, outs, f"ONNX model {Path(model_path).name}")
        self.bound_inputs, self.bound_outputs = bound.inputs, bound.outputs
        log.debug("loaded %s with %s", model_path, active)

    def _run_host(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = self.session.run(self.output_names, dict(inputs))
        return dict(zip(self.output_names, res, strict=True))

    def to_device(self, array: np.ndarray) -> DeviceTensor:
        if self.device == "cpu":
            return DeviceTensor(array)
        v = self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), "cuda", self.device_id)
        return OrtDeviceTensor(v)

    def _run_device(self, inputs: Mapping[str, DeviceTensor]) -> dict[str, DeviceTensor]:
        if self.device == "cpu":
            return super()._run_device(inputs)
        io = self.session.io_binding()
        for name, t in inputs.items():
            if not isinstance(t, OrtDeviceTensor):
                t = self.to_device(t.numpy())
            io.bind_ortvalue_input(name, t.value)
        for name in self.output_names:
            # ORT allocates outputs on the device; their shapes may depend on the inputs.
            io.bind_output(name, "cuda", self.device_id)
        self.session.run_with_iobinding(io)
        io.synchronize_outputs()
        return {n: OrtDeviceTensor(v) for n, v in zip(self.output_names, io.get_outputs(), strict=True)}

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
