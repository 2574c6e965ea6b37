"""One-Euro smoothing of tracked 3D joints (body_pose ``smoothing``): jitter goes down on a still
person, a real move is followed, tracks are independent, missing joints pass through, unseen
tracks start over."""

from __future__ import annotations

import numpy as np
from hoi_perception.filtering.joint_smoother import TrackedJointSmoother


def _still(n: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0.0, 1.0, 34 * 3).reshape(34, 3)
    return base + rng.normal(0.0, noise, (n, 34, 3))


def test_jitter_of_a_still_person_goes_down() -> None:
    frames = _still(90, 0.02)
    sm = TrackedJointSmoother()
    out = np.array([sm.smooth(1, f, i / 30.0) for i, f in enumerate(frames)])
    raw_std = frames[30:].std(axis=0).mean()
    smooth_std = out[30:].std(axis=0).mean()
    assert smooth_std < 0.5 * raw_std, (raw_std, smooth_std)


def test_a_move_is_followed() -> None:
    sm = TrackedJointSmoother()
    pose = np.zeros((34, 3))
    for i in range(30):
        sm.smooth(1, pose, i / 30.0)
    moved = pose + np.array([0.5, 0.0, 0.0])
    out = [sm.smooth(1, moved, (30 + i) / 30.0) for i in range(15)]
    assert 0.45 < out[-1][0, 0] <= 0.5  # within 5 cm of a 50 cm step after 0.5 s


def test_tracks_are_independent_and_missing_joints_pass_through() -> None:
    sm = TrackedJointSmoother()
    a, b = np.zeros((34, 3)), np.ones((34, 3))
    sm.smooth(1, a, 0.0)
    sm.smooth(2, b, 0.0)
    with_gap = a.copy()
    with_gap[5] = np.nan
    out = sm.smooth(1, with_gap, 1 / 30.0)
    assert np.all(np.isnan(out[5])) and np.allclose(out[:5], 0.0)
    assert np.allclose(sm.smooth(2, b, 1 / 30.0), 1.0)


def test_an_unseen_track_starts_over() -> None:
    sm = TrackedJointSmoother(max_age_s=1.0)
    sm.smooth(1, np.zeros((34, 3)), 0.0)
    out = sm.smooth(1, np.ones((34, 3)), 2.0)  # gone for 2 s: a new person, not a jump to smooth
    assert np.allclose(out, 1.0)
    sm.reset()
    assert len(sm) == 0
