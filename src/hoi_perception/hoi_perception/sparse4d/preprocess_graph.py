"""Sparse4D pre-processing as an ONNX graph, run through the engine layer (upload uint8, compute on the device).

``build_preprocess_graph`` writes, with the onnx helper API, a graph that takes the raw frames

* ``frames``: uint8 [N, H, W, 3] (NHWC, the camera's channel order, rgb8 or bgr8),
* ``valid``: float32 [N] (1 = frame present, 0 = dropped / bad: its planes become 0, the mean colour),

and returns ``img``: float32 [1, N, 3, h, w] (the contract's channel order, BGR for TAO Sparse4D;
(pixel - mean) / std per network channel), i.e. exactly the
Sparse4D ``img`` input. Steps: Transpose to NCHW on uint8 (4x less traffic than on float), Cast,
resize, optional rounding to integers, channel swap (bgr8), normalisation as one Mul + Add with
per-channel constants, zeroing of invalid cameras, Unsqueeze.

Resize: when the frame is an integer multiple of the output (1920x1080 -> 960x540) an AveragePool with
kernel = stride = the factors (the exact box mean = OpenCV INTER_AREA); otherwise two MatMuls with the
separable weight matrices that OpenCV itself produces for the CPU path's interpolation (resize of an
identity matrix, float), so the graph reproduces the host path for any size. ``quantize=True``
(default) rounds the resized value to an integer as the host path's uint8 intermediate does
(``floor(x + 0.5)`` = OpenCV's ``(a+b+c+d+2)>>2`` for 2x2 boxes); this is also what the training
pipeline saw (mmdet/Sparse4D resize uint8 images). Tolerances against the host path (tests):
integer factors < 1e-5 (float rounding of the normalisation only); other sizes <= one uint8 step
(1/std, 0.0175) at isolated pixels, because OpenCV's uint8 INTER_LINEAR uses 11-bit fixed-point weights.

``GraphPreprocessor`` wraps it behind the same call interface as ``Sparse4DPreprocessor``. With a
GPU engine (onnxruntime CUDA EP with IO binding, or TensorRT) ``img`` comes back as a DeviceTensor
that stays on the device for the Sparse4D engine's ``run_device``; on a CPU backend it is a numpy
array. Frames of mixed sizes in one call fall back to the host fast path (counted in
``graph_fallback``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.sparse4d.constants import CHANNEL_ORDER, IMAGE_MEAN, IMAGE_STD, INPUT_H, INPUT_W
from hoi_perception.sparse4d.conventions import ModelFrame
from hoi_perception.sparse4d.preprocess import (
    DEFAULT_RESIZE_FILTER,
    RESIZE_FILTERS,
    Sparse4DPreprocessor,
    integer_factors,
    pil_bicubic_weights,
    projection_matrix,
    resize_interpolation,
    source_channels,
)

log = logging.getLogger(__name__)

OPSET = 17
MAX_CAMERAS = 64


def resize_weights(in_size: int, out_size: int, interpolation: int) -> NDArray[np.float32]:
    """[out_size, in_size] matrix M with resized = M @ signal, from OpenCV's own float resize of an identity."""
    eye = np.eye(in_size, dtype=np.float32)
    # Resize along x only: row i of the result is the response to a delta at input column i.
    resp = cv2.resize(eye, (out_size, in_size), interpolation=interpolation)
    return np.ascontiguousarray(resp.T)


def build_preprocess_graph(
    in_hw: tuple[int, int],
    input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
    mean: Sequence[float] = IMAGE_MEAN,
    std: Sequence[float] = IMAGE_STD,
    encoding: str = "rgb8",
    quantize: bool = True,
    channel_order: str = CHANNEL_ORDER,
    resize_filter: str = DEFAULT_RESIZE_FILTER,
) -> Any:
    """ONNX ModelProto: frames uint8 [N,H,W,3] + valid float32 [N] -> img float32 [1,N,3,h,w] (N dynamic)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    src_ch = source_channels(encoding, channel_order)
    h_in, w_in = int(in_hw[0]), int(in_hw[1])
    w, h = int(input_wh[0]), int(input_wh[1])
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    nodes.append(helper.make_node("Transpose", ["frames"], ["nchw_u8"], perm=[0, 3, 1, 2]))
    nodes.append(helper.make_node("Cast", ["nchw_u8"], ["nchw"], to=TensorProto.FLOAT))
    x = "nchw"
    f = integer_factors((h_in, w_in), (w, h))
    if resize_filter not in RESIZE_FILTERS:
        raise ValueError(f"resize_filter must be one of {RESIZE_FILTERS}, got {resize_filter!r}")
    if resize_filter == "pil_bicubic" and f != (1, 1):
        # Pillow's two passes (horizontal first), each rounded and clipped to uint8 as Pillow does.
        rx = const("pil_xT", pil_bicubic_weights(w_in, w).T.astype(np.float32))  # [W, w]
        ry = const("pil_y", pil_bicubic_weights(h_in, h).astype(np.float32))  # [h, H]
        lo, hi = const("u8_min", np.array(0.0, np.float32)), const("u8_max", np.array(255.0, np.float32))
        half = const("half_pass", np.array(0.5, np.float32))
        nodes.append(helper.make_node("MatMul", [x, rx], ["cols"]))  # [N,3,H,w]
        nodes.append(helper.make_node("Add", ["cols", half], ["cols_h"]))
        nodes.append(helper.make_node("Floor", ["cols_h"], ["cols_r"]))
        nodes.append(helper.make_node("Clip", ["cols_r", lo, hi], ["cols_u8"]))
        nodes.append(helper.make_node("MatMul", [ry, "cols_u8"], ["both"]))  # [N,3,h,w]
        nodes.append(helper.make_node("Add", ["both", half], ["both_h"]))
        nodes.append(helper.make_node("Floor", ["both_h"], ["both_r"]))
        nodes.append(helper.make_node("Clip", ["both_r", lo, hi], ["pil_resized"]))
        x = "pil_resized"
        f = (1, 1)  # resized and already integer: no further resize or rounding
    elif f is not None and f != (1, 1):
        nodes.append(helper.make_node("AveragePool", [x], ["pooled"], kernel_shape=list(f), strides=list(f)))
        x = "pooled"
    elif f is None:
        interp = resize_interpolation(w_in, w)
        ry = const("resize_y", resize_weights(h_in, h, interp))  # [h, H]
        rx = const("resize_xT", resize_weights(w_in, w, interp).T.copy())  # [W, w]
        nodes.append(helper.make_node("MatMul", [ry, x], ["rows"]))  # [N,3,h,W]
        nodes.append(helper.make_node("MatMul", ["rows", rx], ["resized"]))  # [N,3,h,w]
        x = "resized"
    if quantize and f != (1, 1):
        nodes.append(helper.make_node("Add", [x, const("half", np.array(0.5, np.float32))], ["plus_half"]))
        nodes.append(helper.make_node("Floor", ["plus_half"], ["rounded"]))
        x = "rounded"
    if src_ch != (0, 1, 2):
        nodes.append(helper.make_node("Gather", [x, const("channel_swap", np.array(src_ch, np.int64))],
                                      ["swapped"], axis=1))
        x = "swapped"
    mean_a = np.asarray(mean, np.float64)
    std_a = np.asarray(std, np.float64)
    scale = (1.0 / std_a).astype(np.float32).reshape(1, 3, 1, 1)
    bias = (-mean_a / std_a).astype(np.float32).reshape(1, 3, 1, 1)
    nodes.append(helper.make_node("Mul", [x, const("scale", scale)], ["scaled"]))
    nodes.append(helper.make_node("Add", ["scaled", const("bias", bias)], ["normalised"]))
    nodes.append(helper.make_node("Reshape", ["valid", const("valid_shape", np.array([-1, 1, 1, 1], np.int64))],
                                  ["valid4"]))
    nodes.append(helper.make_node("Mul", ["normalised", "valid4"], ["masked"]))
    nodes.append(helper.make_node("Unsqueeze", ["masked", const("axis0", np.array([0], np.int64))], ["img"]))
    graph = helper.make_graph(
        nodes, "sparse4d_preprocess",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["N", h_in, w_in, 3]),
         helper.make_tensor_value_info("valid", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, "N", 3, h, w])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hoi_perception")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def preprocess_contract(in_hw: tuple[int, int], input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
                        channel_order: str = CHANNEL_ORDER) -> Any:
    """Engine-layer Contract of the graph for one frame size (built in code: it is parametric in H, W)."""
    from hoi_perception.engine.contract import contract_from_dict

    h_in, w_in = int(in_hw[0]), int(in_hw[1])
    w, h = int(input_wh[0]), int(input_wh[1])
    return contract_from_dict({
        "name": "sparse4d_preprocess",
        "version": 1,
        "description": "uint8 NHWC frames -> Sparse4D img (resize, channel order, (x - mean) / std, NCHW)",
        "dims": {"N": {"min": 1, "opt": 10, "max": MAX_CAMERAS, "example": 2,
                       "description": "cameras in the BEV group"}},
        "inputs": [
            {"name": "frames", "dtype": "uint8", "shape": ["N", h_in, w_in, 3],
             "conventions": {"layout": "N H W C"}},
            {"name": "valid", "dtype": "float32", "shape": ["N"]},
        ],
        "outputs": [{"name": "img", "dtype": "float32", "shape": [1, "N", 3, h, w],
                     "conventions": {"layout": "B N C H W", "channel_order": channel_order}}],
    })


def default_graph_backend(engine: Any) -> str:
    """Backend for the pre-processing graph that keeps ``img`` where ``engine`` computes."""
    name = str(getattr(engine, "backend_name", ""))
    if name.startswith("tensorrt"):
        return "tensorrt"
    if getattr(engine, "device", "cpu") != "cpu":
        return "onnxruntime:cuda"
    return "onnxruntime:cpu"


class GraphPreprocessor:
    """Same interface as :class:`Sparse4DPreprocessor`; the work runs in an ONNX graph through the engine layer.

    One engine per input frame size (built lazily, usually one). ``backend`` is a ``create_engine``
    backend ("onnxruntime:cpu", "onnxruntime:cuda", "tensorrt", "auto"). ``num_threads`` sizes the
    pool that copies frames into the uint8 staging tensor and the host fallback.
    """

    def __init__(
        self,
        cameras: Sequence[PinholeCamera],
        input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
        mean: Sequence[float] = IMAGE_MEAN,
        std: Sequence[float] = IMAGE_STD,
        encoding: str = "rgb8",
        num_threads: int | None = None,
        backend: str = "onnxruntime:cpu",
        quantize: bool = True,
        engine_kwargs: dict[str, Any] | None = None,
        channel_order: str = CHANNEL_ORDER,
        frame: ModelFrame | None = None,
        resize_filter: str = DEFAULT_RESIZE_FILTER,
    ) -> None:
        self.cameras = list(cameras)
        if len(self.cameras) > MAX_CAMERAS:
            raise ValueError(f"at most {MAX_CAMERAS} cameras per graph, got {len(self.cameras)}")
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.mean, self.std = tuple(mean), tuple(std)
        self.encoding = encoding
        self.channel_order = str(channel_order).upper()
        self.resize_filter = resize_filter
        self.backend = backend
        self.quantize = quantize
        self.engine_kwargs = dict(engine_kwargs or {})
        # Host fast path: frame checks, the fallback for mixed sizes, and projection matrices.
        self._host = Sparse4DPreprocessor(self.cameras, self.input_wh, mean, std, encoding, num_threads,
                                          channel_order=self.channel_order, frame=frame,
                                          resize_filter=resize_filter)
        self.counters = self._host.counters
        self.counters.setdefault("graph_fallback", 0)
        self.projection_mat = self._host.projection_mat
        self.image_wh = self._host.image_wh
        self._pool = ThreadPoolExecutor(self._host.num_threads) if self._host.num_threads > 1 else None
        self._engines: dict[tuple[int, int], Any] = {}
        self._staging: dict[tuple[int, int], NDArray[np.uint8]] = {}
        self._valid = np.zeros(len(self.cameras), np.float32)
        self._tmp = tempfile.TemporaryDirectory(prefix="sparse4d_pre_")

    @property
    def device(self) -> str:
        """Where ``img`` is returned: "cuda" for GPU backends, else "cpu"."""
        if self._engines:
            return str(next(iter(self._engines.values())).device)
        return "cpu" if self.backend in ("onnxruntime:cpu",) else "unknown"

    @property
    def backend_name(self) -> str:
        return ",".join(str(e.backend_name) for e in self._engines.values()) or f"(not built: {self.backend})"

    def engine_for(self, in_hw: tuple[int, int]) -> Any:
        """The engine of the graph for frames of ``in_hw`` = (H, W), built on first use."""
        key = (int(in_hw[0]), int(in_hw[1]))
        eng = self._engines.get(key)
        if eng is None:
            import onnx

            from hoi_perception.engine import create_engine

            model = build_preprocess_graph(key, self.input_wh, self.mean, self.std, self.encoding,
                                           self.quantize, self.channel_order, self.resize_filter)
            path = Path(self._tmp.name) / (f"preprocess_{key[1]}x{key[0]}_{self.encoding}_{self.channel_order}_"
                                           f"{self.resize_filter}.onnx")
            onnx.save(model, str(path))
            eng = create_engine(path, preprocess_contract(key, self.input_wh, self.channel_order), backend=self.backend,
                                **self.engine_kwargs)
            log.info("sparse4d pre-processing graph for %dx%d on %s", key[1], key[0], eng.backend_name)
            self._engines[key] = eng
        return eng

    def _copy(self, args: tuple[NDArray[np.uint8], NDArray[np.uint8]]) -> None:
        np.copyto(args[0], args[1])

    def __call__(self, frames: Sequence[NDArray[np.uint8] | None]) -> dict[str, Any]:
        """Frames in camera order -> {"img" (numpy or DeviceTensor), "projection_mat", "image_wh"}."""
        n = len(self.cameras)
        if len(frames) != n:
            raise ValueError(f"expected {n} frames, got {len(frames)}")
        checked = [self._host.check_frame(i, f) for i, f in enumerate(frames)]
        shapes = {c[0].shape[:2] for c in checked if c[0] is not None}
        if len(shapes) > 1:
            self.counters["graph_fallback"] += 1
            log.debug("frames of mixed sizes %s: host pre-processing for this set", sorted(shapes))
            return self._host(frames)
        for i, (_, tag) in enumerate(checked):
            self._host._count(i, tag)
        in_hw = next(iter(shapes)) if shapes else (self.cameras[0].height, self.cameras[0].width) if n else (1, 1)
        staging = self._staging.get(in_hw)
        if staging is None:
            staging = self._staging[in_hw] = np.zeros((n, in_hw[0], in_hw[1], 3), np.uint8)
        copies = []
        for i, (frame, _) in enumerate(checked):
            self._valid[i] = 1.0 if frame is not None else 0.0
            if frame is not None:
                copies.append((staging[i], frame))
        if self._pool is not None and len(copies) > 1:
            for _ in self._pool.map(self._copy, copies):
                pass
        else:
            for c in copies:
                self._copy(c)
        eng = self.engine_for(in_hw)
        feed = {"frames": staging, "valid": self._valid}
        img = eng.run_device(feed)["img"] if eng.device != "cpu" else eng.run(feed)["img"]
        return {"img": img, "projection_mat": self.projection_mat, "image_wh": self.image_wh}

    def close(self) -> None:
        for eng in self._engines.values():
            eng.close()
        self._engines.clear()
        self._host.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self._tmp.cleanup()


__all__ = [
    "GraphPreprocessor",
    "build_preprocess_graph",
    "default_graph_backend",
    "preprocess_contract",
    "projection_matrix",
    "resize_weights",
]
