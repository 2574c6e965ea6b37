"""Sparse4DTracker: preprocess -> engine -> host instance bank -> decode, one call per synchronized frame set.

The ROS node calls ``step(images, stamp_ns)`` with the group's frames in camera
order and publishes the returned tracks; ``reset()`` on a bag loop or an
operator request. No ROS here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import ModelFrame
from hoi_perception.sparse4d.decode import Track3D, class_thresholds, decode_tracks
from hoi_perception.sparse4d.instance_bank import HostInstanceBank, InstanceBankParams
from hoi_perception.sparse4d.preprocess import DEFAULT_RESIZE_FILTER, Sparse4DPreprocessor

log = logging.getLogger(__name__)

REQUIRED_OUTPUTS = ("boxes_3d", "scores_3d", "labels_3d", "cls_scores", "instance_ids", "instance_feats")


class EngineLike(Protocol):
    backend_name: str

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass
class Sparse4DParams:
    input_wh: tuple[int, int] = (C.INPUT_W, C.INPUT_H)
    encoding: str = "rgb8"
    class_names: tuple[str, ...] = C.CLASS_NAMES
    # cls score threshold per class name for reporting a track (default TAO tracking_threshold).
    score_threshold: float = C.TRACKING_THRESHOLD
    class_score_thresholds: dict[str, float] = field(default_factory=dict)
    bank: InstanceBankParams = field(default_factory=InstanceBankParams)
    num_threads: int | None = None
    # Pre-processing: "cpu" (host fast path, sparse4d.preprocess) or "graph" (ONNX graph through the
    # engine layer, sparse4d.preprocess_graph: uint8 upload, img stays on the device for a GPU engine).
    preprocess: str = "cpu"
    # create_engine backend of the graph; None = match the Sparse4D engine (tensorrt / onnxruntime:cuda / cpu).
    preprocess_backend: str | None = None
    # Channel order the network is fed; None = the contract's img.conventions.channel_order (BGR for TAO).
    channel_order: str | None = None
    # Resize filter ("pil_bicubic" = TAO's PIL resize, "area" = OpenCV INTER_AREA); None = the contract's.
    resize_filter: str | None = None


@dataclass
class StepTiming:
    preprocess_ms: float = 0.0
    engine_ms: float = 0.0
    bank_decode_ms: float = 0.0

    @property
    def host_ms(self) -> float:
        return self.preprocess_ms + self.bank_decode_ms

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.engine_ms + self.bank_decode_ms


@dataclass
class StepResult:
    tracks: list[Track3D]
    timing: StepTiming
    reset_reason: str | None = None
    source: str = ""
    ok: bool = True


def contract_channel_order(contract: Any, default: str = C.CHANNEL_ORDER) -> str:
    """``img.conventions.channel_order`` of a Sparse4D contract (Contract object or dict), else ``default``."""
    return str(contract_img_convention(contract, "channel_order", default)).upper()


def contract_img_convention(contract: Any, key: str, default: Any) -> Any:
    """``img.conventions[key]`` of a Sparse4D contract (Contract object or dict), else ``default``."""
    if contract is None:
        return default
    specs = getattr(contract, "inputs", None)
    if specs is None and isinstance(contract, Mapping):
        specs = contract.get("inputs")
    if isinstance(specs, Mapping):
        spec = specs.get("img")
    else:
        spec = next((s for s in specs or () if (s.get("name") if isinstance(s, Mapping) else getattr(s, "name", None))
                     == "img"), None)
    conv = (spec.get("conventions") if isinstance(spec, Mapping) else getattr(spec, "conventions", None)) or {}
    return conv.get(key, default)


def _contract_dtypes(contract: Any) -> dict[str, np.dtype]:
    """Best-effort {input name: dtype} from a contract object (engine layer API may vary)."""
    out: dict[str, np.dtype] = {}
    if contract is None:
        return out
    specs = getattr(contract, "inputs", None)
    if specs is None and isinstance(contract, Mapping):
        specs = contract.get("inputs")
    if specs is None:
        return out
    items = specs.items() if isinstance(specs, Mapping) else ((getattr(s, "name", None), s) for s in specs)
    for name, spec in items:
        dt = getattr(spec, "dtype", None) if not isinstance(spec, Mapping) else spec.get("dtype")
        if name is None or dt is None:
            continue
        try:
            out[str(name)] = np.dtype(dt)
        except TypeError:
            continue
    return out


class Sparse4DTracker:
    """Multi-camera 3D detection and tracking with the instance bank kept in host code."""

    def __init__(
        self,
        engine: EngineLike,
        cameras: Sequence[PinholeCamera],
        params: Sparse4DParams | None = None,
        contract: Any = None,
    ) -> None:
        self.engine = engine
        self.params = params or Sparse4DParams()
        self.cameras = list(cameras)
        self.channel_order = self.params.channel_order or contract_channel_order(contract)
        self.frame = ModelFrame(self.params.bank.origin_xy)
        self.resize_filter = self.params.resize_filter or str(
            contract_img_convention(contract, "resize_filter", DEFAULT_RESIZE_FILTER))
        self.preprocess: Any
        if self.params.preprocess == "graph":
            from hoi_perception.sparse4d.preprocess_graph import GraphPreprocessor, default_graph_backend

            self.preprocess = GraphPreprocessor(
                self.cameras, self.params.input_wh, encoding=self.params.encoding,
                num_threads=self.params.num_threads,
                backend=self.params.preprocess_backend or default_graph_backend(engine),
                channel_order=self.channel_order, frame=self.frame,
                resize_filter=self.resize_filter,
            )
        elif self.params.preprocess == "cpu":
            self.preprocess = Sparse4DPreprocessor(
                self.cameras, self.params.input_wh, encoding=self.params.encoding, num_threads=self.params.num_threads,
                channel_order=self.channel_order, frame=self.frame,
                resize_filter=self.resize_filter,
            )
        else:
            raise ValueError(f"preprocess must be 'cpu' or 'graph', got {self.params.preprocess!r}")
        self.bank = HostInstanceBank(self.params.bank)
        self.thresholds = class_thresholds(
            self.params.class_names, self.params.class_score_thresholds, self.params.score_threshold
        )
        self._dtypes = _contract_dtypes(contract)
        self._dtypes.update(getattr(engine, "input_dtypes", {}) or {})
        # TAO's export has an optional float32 'timestamp' input; fed as seconds since the bank's epoch
        # because float32 epoch seconds would lose sub-second resolution.
        self._wants_timestamp = "timestamp" in (getattr(engine, "input_names", None) or [])
        self._epoch_ns: int | None = None
        self.source = str(getattr(engine, "backend_name", "unknown"))
        self.counters = {"frames": 0, "engine_errors": 0, "bad_outputs": 0}

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def reset(self, reason: str = "manual") -> None:
        self.bank.reset(reason)

    def close(self) -> None:
        self.preprocess.close()

    def _cast(self, inputs: dict[str, Any]) -> dict[str, Any]:
        for name, dt in self._dtypes.items():
            if name in inputs and isinstance(inputs[name], np.ndarray) and inputs[name].dtype != dt:
                inputs[name] = inputs[name].astype(dt)
        return inputs

    def step(self, images: Sequence[NDArray[np.uint8] | None], stamp_ns: int) -> StepResult:
        """One synchronized set of frames (camera order of ``cameras``; None = dropped) -> tracks."""
        self.counters["frames"] += 1
        timing = StepTiming()
        t0 = time.perf_counter()
        inputs = dict(self.preprocess(images))
        bank_inputs, reset_reason = self.bank.prepare(stamp_ns)
        inputs.update(bank_inputs)
        if self._wants_timestamp:
            if self._epoch_ns is None or reset_reason is not None:
                self._epoch_ns = int(stamp_ns)
            inputs["timestamp"] = np.array([(stamp_ns - self._epoch_ns) * 1e-9], dtype=np.float32)
        inputs = self._cast(inputs)
        t1 = time.perf_counter()
        try:
            if any(not isinstance(v, np.ndarray) for v in inputs.values()):
                # img is a DeviceTensor from the pre-processing graph: keep it on the device.
                run_device = getattr(self.engine, "run_device", None)
                if run_device is None:
                    inputs = {k: v if isinstance(v, np.ndarray) else v.numpy() for k, v in inputs.items()}
                    outputs = self.engine.run(inputs)
                else:
                    outputs = {k: v if isinstance(v, np.ndarray) else v.numpy() for k, v in run_device(inputs).items()}
            else:
                outputs = self.engine.run(inputs)
        except Exception as exc:  # a failing engine must not take the node down
            self.counters["engine_errors"] += 1
            log.error("sparse4d engine failed: %s", exc)
            timing.preprocess_ms = (t1 - t0) * 1e3
            timing.engine_ms = (time.perf_counter() - t1) * 1e3
            return StepResult([], timing, reset_reason, self.source, ok=False)
        t2 = time.perf_counter()
        missing = [k for k in REQUIRED_OUTPUTS if k not in outputs]
        if missing:
            self.counters["bad_outputs"] += 1
            log.error("sparse4d engine output lacks %s", missing)
            tracks: list[Track3D] = []
            ok = False
        else:
            upd = self.bank.update(outputs)
            tracks = decode_tracks(
                outputs, upd.track_ids, self.thresholds, self.params.class_names, int(stamp_ns), self.source,
                self.frame,
            )
            ok = True
        t3 = time.perf_counter()
        timing.preprocess_ms = (t1 - t0) * 1e3
        timing.engine_ms = (t2 - t1) * 1e3
        timing.bank_decode_ms = (t3 - t2) * 1e3
        return StepResult(tracks, timing, reset_reason, self.source, ok)
