"""BodyPose3DNet adapter geometry on the synthetic scene, through the
ground-truth engine stand-in: person boxes from projected 3D tracks, ZED
depth, metres in the ZED left optical frame, MPJPE reported."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.bodypose.bodypose3dnet import BodyPose3DNetEstimator
from hoi_perception.bodypose.boxes import ProjectedTrackBoxSource
from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine
from hoi_perception.bodypose.tracking import HumanTracker
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

scene_mod = pytest.importorskip("hoi_perception.scene")

CAMERA = "zed_left_camera"


def _run(frames: range) -> dict[str, list[float]]:
    scene = scene_mod.SyntheticScene(scene_mod.SceneConfig(seed=0, num_static_cameras=1))
    cam = scene.cameras[CAMERA]
    engine = StandInBodyPose3DNetEngine(cam.k, pixel_noise=1.0, zrel_noise=0.01, seed=0)
    boxes = ProjectedTrackBoxSource()
    est = BodyPose3DNetEstimator(engine, boxes)
    tracker = HumanTracker(first_id=1000)
    out: dict[str, list[float]] = {"mono": [], "depth": [], "depth_used": [], "root_err_depth": [], "id_ok": []}
    for i in frames:
        gt = scene.ground_truth(i, with_visibility=False)
        view = scene.render(i, CAMERA)
        cw = cam.camera_from_world
        joints_cam = gt.joints_world @ cw[:3, :3].T + cw[:3, 3]
        if np.any(joints_cam[:, 2] <= 0.3):
            continue
        engine.set_people(joints_cam[None])
        boxes.set_tracks(gt.boxes, cw)
        mono = est.estimate(view.rgb, cam.k, None)
        engine.rng = np.random.default_rng(i)
        with_depth = est.estimate(view.rgb, cam.k, view.depth)
        human = [r for r in with_depth if r.track_id == gt.human_track_id]
        mono_h = [r for r in mono if r.track_id == gt.human_track_id]
        if not human or not mono_h:
            continue
        r, m = human[0], mono_h[0]
        assert r.source.startswith("stand-in:") and m.joints_cam.shape == (34, 3)
        out["mono"].append(float(np.linalg.norm(m.joints_cam - joints_cam, axis=1).mean()))
        out["depth"].append(float(np.linalg.norm(r.joints_cam - joints_cam, axis=1).mean()))
        out["depth_used"].append(float(r.depth_used))
        out["root_err_depth"].append(float(np.linalg.norm(r.root - joints_cam[JOINT_INDEX["pelvis"]])))
        ids = tracker.update(with_depth, scene.stamp_ns(i, CAMERA) or int(i * 1e8))
        out["id_ok"].append(float(gt.human_track_id in ids))
    return out


def test_standin_on_synthetic_scene_mpjpe() -> None:
    out = _run(range(0, 120, 10))
    n = len(out["mono"])
    assert n >= 6, f"the human was usable in only {n} frames"
    mono, depth = float(np.mean(out["mono"])), float(np.mean(out["depth"]))
    print(f"\nstand-in BodyPose3DNet on synthetic scene ({CAMERA}, {n} frames): "
          f"MPJPE mono (mean-limb scale) {mono * 1000:.0f} mm, with ZED depth {depth * 1000:.0f} mm, "
          f"depth used in {np.mean(out['depth_used']):.0%} of frames")
    assert np.mean(out["depth_used"]) >= 0.8
    assert depth < 0.08  # metres in the optical frame, scale from depth
    assert mono < 0.5  # right frame and units; the scale only as good as the mean limb lengths
    assert all(out["id_ok"])  # Sparse4D/ground-truth track ids reused verbatim
