"""Pose scoring against ground truth (evaluation/pose_scoring.py), ROS-free:
ground truth in the world brought into a moving camera through the TF buffer
at each prediction's stamp."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.bodypose.standin import standing_skeleton
from hoi_perception.evaluation.pose_scoring import PredictedFrame, PredictedPose, score_poses
from hoi_perception.geometry.camera import intrinsics, project_points
from hoi_perception.geometry.tf_buffer import TfBuffer
from hoi_perception.sync.nearest import NearestStampBuffer

S = 1_000_000_000


def _camera_pose(t: float) -> np.ndarray:
    """world_from_camera of a camera sliding along world x at 1 m/s, looking along +y
    (optical z = world y, optical x = world x, optical y = -world z)."""
    m = np.eye(4)
    m[:3, :3] = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    m[:3, 3] = [t, 0.0, 1.0]
    return m


def test_moving_camera_scored_with_the_transform_at_each_stamp() -> None:
    k = intrinsics(500.0, 500.0, 320.0, 240.0)
    tf = TfBuffer()
    for i in range(11):
        tf.set_matrix("world", "cam", i * S // 10, _camera_pose(i / 10))
    person_cam = standing_skeleton() + [0.0, 0.0, 3.0]  # in the camera at t = 0
    person_world = person_cam @ _camera_pose(0)[:3, :3].T + _camera_pose(0)[:3, 3]
    gt: NearestStampBuffer[list[np.ndarray]] = NearestStampBuffer(tolerance_ns=S // 100)
    frames = []
    for i in range(10):
        t = i / 10 + 0.05  # predictions between transform samples: interpolation needed
        stamp = int(t * S)
        gt.add(stamp, [person_world])
        cam_from_world = np.linalg.inv(_camera_pose(t))
        truth = person_world @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
        pred = truth + [0.01, 0.0, 0.0]  # 10 mm off along x, everywhere
        frames.append(PredictedFrame(stamp, "cam", [PredictedPose(pred, np.ones(len(pred), bool),
                                                                  project_points(k, truth), depth_used=True)]))
    frames.append(PredictedFrame(5 * S, "cam", [frames[0].people[0]]))  # no ground truth near it
    frames.append(PredictedFrame(int(0.05 * S), "nowhere", [frames[0].people[0]]))  # no transform
    r = score_poses(frames, gt, tf, "world", k)
    assert r["pairs"] == 10 and r["frames"] == 12 and r["depth_used"] == 10
    assert r["frames_without_ground_truth"] == 1 and r["frames_without_transform"] == 1
    assert r["mpjpe_mm"] == pytest.approx(10.0, abs=1e-6)
    assert r["root_relative_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert r["root_error_mm"] == pytest.approx(10.0, abs=1e-6)
    assert r["joint_2d_error_px"] == pytest.approx(0.0, abs=1e-6)
    # a camera frozen at its first pose (no TF over time) would be 0.5 m off on average
    frozen = TfBuffer()
    frozen.set_matrix("world", "cam", 0, _camera_pose(0), static=True)
    assert score_poses(frames, gt, frozen, "world", k)["mpjpe_mm"] > 300.0
