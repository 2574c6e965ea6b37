"""Rotation helpers agree with scipy on random inputs, 6D included."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.geometry import rotations as r
from scipy.spatial.transform import Rotation

N = 500


@pytest.fixture(scope="module")
def rots() -> Rotation:
    return Rotation.random(N, random_state=1234)


def _same_quat(a: np.ndarray, b: np.ndarray) -> None:
    # q and -q are the same rotation
    np.testing.assert_allclose(np.abs(np.sum(a * b, axis=-1)), 1.0, atol=1e-9)


def test_quat_matrix_both_ways(rots: Rotation) -> None:
    np.testing.assert_allclose(r.quat_to_matrix(rots.as_quat()), rots.as_matrix(), atol=1e-12)
    _same_quat(r.matrix_to_quat(rots.as_matrix()), rots.as_quat())
    assert np.all(r.matrix_to_quat(rots.as_matrix())[:, 3] >= 0)


def test_axis_angle_both_ways(rots: Rotation) -> None:
    rv = rots.as_rotvec()
    np.testing.assert_allclose(r.axis_angle_to_matrix(rv), rots.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(r.matrix_to_axis_angle(rots.as_matrix()), rv, atol=1e-9)
    _same_quat(r.axis_angle_to_quat(rv), rots.as_quat())
    np.testing.assert_allclose(r.quat_to_axis_angle(rots.as_quat()), rv, atol=1e-9)


def test_edge_angles() -> None:
    for rv in ([0.0, 0.0, 0.0], [1e-12, 0, 0], [np.pi, 0, 0], [0, -np.pi + 1e-9, 0]):
        ref = Rotation.from_rotvec(rv)
        np.testing.assert_allclose(r.axis_angle_to_matrix(rv), ref.as_matrix(), atol=1e-9)
        # at pi the axis sign is ambiguous: compare the rotations, and the angle
        np.testing.assert_allclose(np.linalg.norm(r.matrix_to_axis_angle(ref.as_matrix())), ref.magnitude(), atol=1e-6)
        np.testing.assert_allclose(r.axis_angle_to_matrix(r.matrix_to_axis_angle(ref.as_matrix())),
                                   ref.as_matrix(), atol=1e-9)


def test_6d_round_trip_and_gram_schmidt(rots: Rotation) -> None:
    m = rots.as_matrix()
    d6 = r.matrix_to_rotation_6d(m)
    assert d6.shape == (N, 6)
    # PyTorch3D convention: the first two rows
    np.testing.assert_array_equal(d6[:, :3], m[:, 0, :])
    np.testing.assert_array_equal(d6[:, 3:], m[:, 1, :])
    np.testing.assert_allclose(r.rotation_6d_to_matrix(d6), m, atol=1e-12)
    # a perturbed, unnormalised 6D vector still decodes to a proper rotation
    noisy = 3.0 * d6 + np.random.default_rng(0).normal(scale=0.05, size=d6.shape)
    out = r.rotation_6d_to_matrix(noisy)
    np.testing.assert_allclose(out @ np.swapaxes(out, -1, -2), np.broadcast_to(np.eye(3), out.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-9)
    np.testing.assert_allclose(out, m, atol=0.1)


def test_smpl_pose_6d_layout() -> None:
    # 24 joints x 6D -> 144, joint-major, as hoi_msgs/SmplParams.pose_6d
    rv = Rotation.random(24, random_state=3).as_rotvec()
    pose_6d = r.matrix_to_rotation_6d(r.axis_angle_to_matrix(rv)).reshape(-1)
    assert pose_6d.shape == (144,)
    back = r.matrix_to_axis_angle(r.rotation_6d_to_matrix(pose_6d.reshape(24, 6)))
    np.testing.assert_allclose(r.axis_angle_to_matrix(back), r.axis_angle_to_matrix(rv), atol=1e-9)


def test_yaw_and_transforms(rots: Rotation) -> None:
    yaw = np.linspace(-3.1, 3.1, 50)
    q = r.yaw_to_quat(yaw)
    _same_quat(q, Rotation.from_rotvec(np.outer(yaw, [0.0, 0.0, 1.0])).as_quat())
    np.testing.assert_allclose(r.quat_to_yaw(q), yaw, atol=1e-12)
    t = r.make_transform(rots.as_matrix()[:5], np.arange(15.0).reshape(5, 3))
    inv = r.invert_transform(t)
    np.testing.assert_allclose(t @ inv, np.broadcast_to(np.eye(4), t.shape), atol=1e-12)
    pts = np.random.default_rng(1).normal(size=(10, 3))
    np.testing.assert_allclose(r.transform_points(t[0], pts), rots[0].apply(pts) + [0, 1, 2], atol=1e-12)
