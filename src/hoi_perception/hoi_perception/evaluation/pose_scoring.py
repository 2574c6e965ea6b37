"""Published 3D poses scored against ground truth (the demo's RGB-D step).

``score_poses`` is the ROS-free core: predicted poses (camera optical frame)
paired with the ground-truth frame nearest in stamp (within a tolerance),
ground truth brought from the world into the camera through a TF buffer at
the prediction's stamp (so a moving camera is scored right), people matched by
root (pelvis) distance. ``score_recorded_poses`` reads a recording of
``/hoi/humans`` and the bag with ``/ground_truth/humans``, ``/tf(_static)`` and
the camera info, and calls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.evaluation.pose import match_by_root, mpjpe_mm, root_relative_mpjpe_mm
from hoi_perception.geometry.tf_buffer import TfBuffer, TfError
from hoi_perception.sync.nearest import NearestStampBuffer
from hoi_perception.sync.stamps import header_ns, ns_from_stamp


@dataclass
class PredictedPose:
    joints_cam: NDArray[np.float64]  # (J, 3) metres, camera optical frame
    valid: NDArray[np.bool_]  # joints to score (measured, confident)
    joints_2d: NDArray[np.float64] | None = None  # (J, 2) pixels
    depth_used: bool = False


@dataclass
class PredictedFrame:
    stamp_ns: int
    frame_id: str  # the camera's optical frame
    people: list[PredictedPose]


def score_poses(frames: Iterable[PredictedFrame], ground_truth: NearestStampBuffer[list[NDArray[np.float64]]],
                tf: TfBuffer, world_frame: str = "world", k: NDArray[np.float64] | None = None) -> dict[str, Any]:
    """MPJPE, root-relative MPJPE, pelvis error (mm) and 2D joint error (px,
    against ground truth projected with ``k``) over matched people; means over
    pairs. Frames without ground truth in tolerance or without a transform at
    their stamp are counted, not scored."""
    errors, rel_errors, root_errors, px_errors = [], [], [], []
    counts = {"frames": 0, "frames_without_ground_truth": 0, "frames_without_transform": 0, "depth_used": 0}
    for f in frames:
        counts["frames"] += 1
        if not f.people:
            continue
        gt_world = ground_truth.nearest(f.stamp_ns)
        if gt_world is None:
            counts["frames_without_ground_truth"] += 1
            continue
        try:
            cam_from_world = tf.lookup(f.frame_id, world_frame, f.stamp_ns)
        except TfError:
            counts["frames_without_transform"] += 1
            continue
        gts = [g @ cam_from_world[:3, :3].T + cam_from_world[:3, 3] for g in gt_world]
        if not gts:
            continue
        preds = [p.joints_cam for p in f.people]
        for i, j in match_by_root(np.array([p[0] for p in preds]), np.array([g[0] for g in gts])):
            p = f.people[i]
            errors.append(mpjpe_mm(preds[i], gts[j], p.valid))
            rel_errors.append(root_relative_mpjpe_mm(preds[i], gts[j], valid=p.valid))
            root_errors.append(float(np.linalg.norm(preds[i][0] - gts[j][0]) * 1000.0))
            if k is not None and p.joints_2d is not None and len(p.joints_2d) == len(gts[j]) and p.valid.any():
                uvw = gts[j] @ np.asarray(k).T
                uv = uvw[:, :2] / uvw[:, 2:]
                px_errors.append(float(np.median(np.linalg.norm(p.joints_2d[p.valid] - uv[p.valid], axis=1))))
            counts["depth_used"] += int(p.depth_used)

    def mean(v: list[float]) -> float:
        v = [x for x in v if np.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")

    return {**counts, "pairs": len(errors), "mpjpe_mm": mean(errors), "root_relative_mpjpe_mm": mean(rel_errors),
            "root_error_mm": mean(root_errors), "joint_2d_error_px": mean(px_errors)}


def score_recorded_poses(rec: Path, bag: Path, tolerance_ns: int = 50_000_000, min_confidence: float = 0.5,
                         world_frame: str = "world") -> dict[str, Any]:
    """``score_poses`` on a recording of /hoi/humans against the bag's ground truth."""
    from hoi_perception.bag.io import BagReader

    def joints(h: Any) -> NDArray[np.float64]:
        return np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64).reshape(-1, 3)

    tf = TfBuffer()
    gt: NearestStampBuffer[list[NDArray[np.float64]]] = NearestStampBuffer(tolerance_ns)
    k = None
    with BagReader(bag) as reader:
        for m in reader.messages(["/tf_static", "/tf", "/ground_truth/humans", "/zed/zed_node/left/camera_info"]):
            msg = reader.deserialize(m)
            if m.topic in ("/tf_static", "/tf"):
                for t in msg.transforms:
                    tr, q = t.transform.translation, t.transform.rotation
                    tf.set_transform(t.header.frame_id, t.child_frame_id, ns_from_stamp(t.header.stamp), [tr.x, tr.y, tr.z],
                                     [q.x, q.y, q.z, q.w], static=m.topic == "/tf_static")
            elif m.topic.endswith("camera_info"):
                k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
            else:
                gt.add(header_ns(msg), [joints(h) for h in msg.humans])
    frames = []
    with BagReader(rec) as reader:
        for m in reader.messages(["/hoi/humans"]):
            msg = reader.deserialize(m)
            people = [PredictedPose(joints(h), (~np.asarray(h.joint_derived, bool))
                                    & (np.asarray(h.joint_confidence) > min_confidence),
                                    np.array([[q.x, q.y] for q in h.joints_2d], dtype=np.float64).reshape(-1, 2),
                                    bool(h.depth_used)) for h in msg.humans]
            frames.append(PredictedFrame(header_ns(msg), str(msg.header.frame_id), people))
    return {**score_poses(frames, gt, tf, world_frame, k), "recording": str(rec)}
