"""CoCoNet pipeline without ROS: initial estimates -> window frames -> engine -> refined stream.

Per frame (the node's per-frame path): fit SMPL to the 34 joints
(smpl/fit.py), take the object's initial pose, build the window frame
(coconet/window.py). Per window (the node's worker thread): assemble the
contract inputs, run the engine, decode (coconet/decode.py), return the
frames the stitching rule publishes (WindowRing). Times are kept per stage:
fit / render (window build) / engine / decode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.coconet.decode import RefinedFrame, assemble_inputs, decode
from hoi_perception.coconet.window import (
    FrameEstimate,
    ObjectShape,
    WindowBuilder,
    WindowFrame,
    WindowRing,
    body_render_shape,
)
from hoi_perception.engine.base import Engine
from hoi_perception.smpl.fit import FitConfig, SmplJointFitter
from hoi_perception.smpl.landmarks import body25_from_smpl
from hoi_perception.smpl.model import SmplModel

DIAMETER_SAMPLES = 1500  # CARI4D samples 8000 surface points (render_fp_nlf.py get_smpl_diameter); vertices here


def tpose_diameter(model: SmplModel, betas: NDArray[np.float64], samples: int = DIAMETER_SAMPLES) -> float:
    """Diameter of the zero-pose body with ``betas`` (max distance between surface samples)."""
    verts, _ = model.forward(betas=betas)
    rng = np.random.default_rng(0)
    if len(verts) > samples:
        verts = verts[rng.choice(len(verts), samples, replace=False)]
    d2 = np.sum(verts**2, axis=1)
    g = d2[:, None] + d2[None, :] - 2 * verts @ verts.T
    return float(np.sqrt(max(float(g.max()), 0.0)))


@dataclass
class WindowResult:
    frames: list[RefinedFrame]            # the frames this window publishes (stitching rule)
    initial: list[WindowFrame]            # their window frames (initial estimates)
    timings_ms: dict[str, float] = field(default_factory=dict)


class CocoNetPipeline:
    """One human-object pair's stream of windows."""

    def __init__(self, model: SmplModel, engine: Engine, window: int, stride: int, object_rotation: str = "delta",
                 crop_scale: float = 1.1, mask_margin_m: float = 0.06, fit_config: FitConfig | None = None) -> None:
        self.model = model
        self.engine = engine
        self.object_rotation = object_rotation
        self.fitter = SmplJointFitter(model, fit_config)
        self.builder = WindowBuilder(body_render_shape(model), crop_scale, mask_margin_m)
        self.ring = WindowRing(window, stride)
        self._diameter: dict[int, float] = {}

    def initial_estimate(self, joints34: NDArray[np.float64], confidence34: NDArray[np.float64], track_id: int,
                         obj_pose_cam: NDArray[np.float64], shape: ObjectShape, shape_source: str = ""
                         ) -> tuple[FrameEstimate, float]:
        """The frame's initial estimate and the fit time in ms (raises ValueError on too few joints)."""
        res = self.fitter.fit(joints34, confidence34, track_id)
        p = res.params
        rot = p.rotmats()
        joints, verts = self.model.joints_and_vertices(rot, p.betas, p.transl, self.fitter.vertex_ids)
        if track_id not in self._diameter:  # fixed per track, as CARI4D fixes it per sequence
            self._diameter[track_id] = tpose_diameter(self.model, p.betas)
        est = FrameEstimate(rot, p.betas, p.transl, joints, body25_from_smpl(joints, verts), obj_pose_cam, shape,
                            self._diameter[track_id], shape_source)
        return est, res.seconds * 1e3

    def add_frame(self, stamp_ns: int, rgb: np.ndarray, depth: np.ndarray, k: np.ndarray, est: FrameEstimate,
                  fit_ms: float, human_mask: np.ndarray | None = None, object_mask: np.ndarray | None = None
                  ) -> tuple[list[WindowFrame], int] | None | bool:
        """Build and buffer the frame; a due window (frames, newest to publish), None, or
        False when the estimate is out of view (frame dropped)."""
        frame = self.builder.build(stamp_ns, rgb, depth, k, est, human_mask, object_mask)
        if frame is None:
            return False
        frame.timings_ms["fit"] = fit_ms
        return self.ring.push(frame)

    def run_window(self, frames: list[WindowFrame], n_publish: int) -> WindowResult:
        """Engine + decoding of one window; returns the frames to publish."""
        t0 = time.perf_counter()
        inputs = assemble_inputs(frames)
        outputs = self.engine.run(inputs)
        t1 = time.perf_counter()
        refined = decode(outputs, frames, self.engine.contract, self.object_rotation)
        t2 = time.perf_counter()
        pub = refined[len(frames) - n_publish:]
        timings = {
            "fit": float(sum(f.timings_ms.get("fit", 0.0) for f in frames[len(frames) - n_publish:])),
            "render": float(sum(sum(v for k, v in f.timings_ms.items() if k != "fit")
                                for f in frames[len(frames) - n_publish:])),
            "engine": (t1 - t0) * 1e3, "decode": (t2 - t1) * 1e3,
        }
        return WindowResult(pub, frames[len(frames) - n_publish:], timings)

    def flush(self) -> tuple[list[WindowFrame], int] | None:
        """End of the stream: the frames no window has published, as one shrunk window (WindowRing.flush)."""
        return self.ring.flush()

    @property
    def pending_frames(self) -> int:
        return self.ring.pending
