"""The Engine interface every backend (and every stand-in) implements.

``run`` takes and returns host numpy arrays. ``to_device`` / ``run_device``
keep tensors on the accelerator between stages (CUDA through ONNX Runtime
IO binding or TensorRT); on a CPU backend they degrade to host arrays with
the same API, so pipeline code is written once.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .contract import Contract, TensorSpec, validate_arrays

log = logging.getLogger(__name__)


class BackendUnavailable(RuntimeError):
    """A requested backend (or what it needs) is not installed here; the message says what to install."""


class DeviceTensor:
    """A tensor that may live on an accelerator. The base class is host memory (numpy)."""

    device = "cpu"

    def __init__(self, array: np.ndarray):
        self._array = np.ascontiguousarray(array)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    def numpy(self) -> np.ndarray:
        """Copy (or, on the host, return) the data as a numpy array."""
        return self._array

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={np.dtype(self.dtype).name}, device={self.device})"


HostTensor = DeviceTensor


class Engine(ABC):
    """Named inputs -> named outputs, checked against a :class:`Contract`.

    Subclasses set ``backend_name`` and ``bound_inputs`` / ``bound_outputs``
    (the contract tensors the model has, after the load-time contract check)
    and implement ``_run_host`` (and, for device backends, ``to_device`` and
    ``_run_device``).
    """

    backend_name: str = "unset"
    device: str = "cpu"

    def __init__(self, contract: Contract, model_path: str | Path | None = None):
        self.contract = contract
        self.model_path = Path(model_path) if model_path is not None else None
        self.bound_inputs: tuple[TensorSpec, ...] = tuple(s for s in contract.inputs.values() if not s.optional)
        self.bound_outputs: tuple[TensorSpec, ...] = tuple(s for s in contract.outputs.values() if not s.optional)

    # -- description -------------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.bound_inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.bound_outputs]

    @property
    def input_shapes(self) -> dict[str, tuple[int | str, ...]]:
        """Input shapes with dynamic dims as the contract's dim names."""
        return {s.name: s.shape for s in self.bound_inputs}

    @property
    def output_shapes(self) -> dict[str, tuple[int | str, ...]]:
        return {s.name: s.shape for s in self.bound_outputs}

    @property
    def input_dtypes(self) -> dict[str, np.dtype]:
        return {s.name: s.np_dtype for s in self.bound_inputs}

    @property
    def is_stand_in(self) -> bool:
        return self.backend_name.startswith("stand-in:")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(contract={self.contract.name}, backend={self.backend_name}, model={self.model_path})"

    # -- running -----------------------------------------------------------------------------------
    def validate_inputs(self, inputs: Mapping[str, Any]) -> dict[str, int]:
        """Check names, dtypes, ranks, fixed dims and dim consistency; return the bound dims."""
        return validate_arrays(self.contract, self.bound_inputs, inputs, f"inputs to {self._label()}")

    def validate_outputs(self, outputs: Mapping[str, Any], dims: Mapping[str, int]) -> None:
        validate_arrays(self.contract, self.bound_outputs, outputs, f"outputs of {self._label()}", dims=dims)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on host arrays; inputs are validated before, outputs after."""
        dims = self.validate_inputs(inputs)
        outputs = self._run_host({k: np.ascontiguousarray(v) for k, v in inputs.items()})
        self.validate_outputs(outputs, dims)
        return outputs

    def to_device(self, array: np.ndarray) -> DeviceTensor:
        """Place an array where this engine computes (host memory on CPU backends)."""
        return DeviceTensor(array)

    def run_device(self, inputs: Mapping[str, DeviceTensor | np.ndarray]) -> dict[str, DeviceTensor]:
        """Run with inputs/outputs kept on the engine's device (host arrays are copied there first)."""
        dims = self.validate_inputs(inputs)
        dev = {k: v if isinstance(v, DeviceTensor) else self.to_device(v) for k, v in inputs.items()}
        outputs = self._run_device(dev)
        self.validate_outputs(outputs, dims)
        return outputs

    def _run_device(self, inputs: Mapping[str, DeviceTensor]) -> dict[str, DeviceTensor]:
        # Host fallback: a CPU backend has nothing to keep on a device.
        outs = self._run_host({k: v.numpy() for k, v in inputs.items()})
        return {k: DeviceTensor(v) for k, v in outs.items()}

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on the host)."""
        return None

    @abstractmethod
    def _run_host(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None:
        """Release sessions/buffers. Safe to call twice."""
        return None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _label(self) -> str:
        where = self.model_path.name if self.model_path else self.contract.name
        return f"{where} [{self.backend_name}]"
