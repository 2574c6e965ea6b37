"""Synthetic scene: determinism by seed, stamps with jitter and drops, camera rig."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.scene import SceneConfig, SyntheticScene


def _stamps(scene: SyntheticScene, cam: str) -> list[int | None]:
    return [scene.stamp_ns(i, cam) for i in range(scene.num_frames)]


def test_same_seed_same_scene() -> None:
    a, b = SyntheticScene(SceneConfig(seed=7)), SyntheticScene(SceneConfig(seed=7))
    for i in (0, 33, 90):
        ga, gb = a.ground_truth(i, with_visibility=False), b.ground_truth(i, with_visibility=False)
        assert np.array_equal(ga.joints_world, gb.joints_world)
        assert [x.to_array().tolist() for x in ga.boxes] == [x.to_array().tolist() for x in gb.boxes]
        assert np.array_equal(ga.body_contact_vertices, gb.body_contact_vertices)
    for cam in a.camera_names:
        assert _stamps(a, cam) == _stamps(b, cam)
    va, vb = a.render(33, "cam_01"), b.render(33, "cam_01")
    assert np.array_equal(va.rgb, vb.rgb)


def test_seed_changes_actors_and_stamps_not_the_interaction() -> None:
    a, b = SyntheticScene(SceneConfig(seed=0)), SyntheticScene(SceneConfig(seed=1))
    ga, gb = a.ground_truth(40, with_visibility=False), b.ground_truth(40, with_visibility=False)
    assert np.array_equal(ga.joints_world, gb.joints_world)  # the HOI script is fixed
    assert not np.allclose(ga.box(2).center, gb.box(2).center)  # the second walker is not
    assert _stamps(a, "cam_00") != _stamps(b, "cam_00")


def test_stamps_monotone_jittered_bounded_and_nonzero() -> None:
    cfg = SceneConfig(seed=4, num_static_cameras=6, jitter_std_ms=1.5, jitter_max_ms=4.0)
    scene = SyntheticScene(cfg)
    assert scene.num_frames == round(cfg.duration_s * cfg.fps)
    offsets = []
    for cam in scene.camera_names:
        stamps = np.array(_stamps(scene, cam), dtype=np.int64)
        assert stamps.min() > 0
        assert np.all(np.diff(stamps) > 0)
        nominal = cfg.epoch_ns + np.round(np.arange(scene.num_frames) * 1e9 / cfg.fps).astype(np.int64)
        off = stamps - nominal
        assert np.abs(off).max() <= 4_000_000
        assert off.std() > 100_000  # there is real jitter, not a constant offset
        offsets.append(off)
    assert len({tuple(o) for o in offsets}) == len(offsets), "cameras jitter independently"
    assert scene.stamp_ns(0, "zed_left_camera") // 1_000_000_000 == 1_700_000_000


def test_camera_stamps_independent_of_camera_count() -> None:
    small = SyntheticScene(SceneConfig(seed=2, num_static_cameras=2))
    large = SyntheticScene(SceneConfig(seed=2, num_static_cameras=30))
    assert _stamps(small, "cam_01") == _stamps(large, "cam_01")
    assert len(large.cameras) == 31 and "cam_29" in large.cameras


def test_dropped_frames() -> None:
    assert all(s is not None for s in _stamps(SyntheticScene(SceneConfig(seed=5)), "cam_00"))
    cfg = SceneConfig(seed=5, drop_probability=0.3, duration_s=40.0)
    scene = SyntheticScene(cfg)
    dropped = []
    for cam in scene.camera_names:
        stamps = _stamps(scene, cam)
        dropped.append(np.mean([s is None for s in stamps]))
        kept = [s for s in stamps if s is not None]
        assert np.all(np.diff(kept) > 0)
    assert 0.2 < np.mean(dropped) < 0.4
    again = SyntheticScene(cfg)
    assert _stamps(again, "cam_02") == _stamps(scene, "cam_02")
    assert all(s is None for s in _stamps(SyntheticScene(SceneConfig(drop_probability=1.0)), "cam_00"))


def test_config_validation_and_frame_range() -> None:
    with pytest.raises(ValueError):
        SceneConfig(num_static_cameras=31)
    with pytest.raises(ValueError):
        SceneConfig(fps=30.0, jitter_max_ms=20.0)
    scene = SyntheticScene()
    with pytest.raises(IndexError):
        scene.stamp_ns(scene.num_frames, "cam_00")
    with pytest.raises(IndexError):
        scene.ground_truth(-1, with_visibility=False)


def test_camera_rig() -> None:
    scene = SyntheticScene(SceneConfig(num_static_cameras=4, width=800, height=450))
    zed = scene.cameras["zed_left_camera"]
    assert (zed.width, zed.height) == (640, 360)
    assert zed.k[0, 0] == pytest.approx(264.0)
    assert zed.world_from_camera[2, 3] == pytest.approx(1.4, abs=0.05)
    assert zed.optical_frame == "zed_left_camera_optical_frame"
    link = scene.zed_world_from_camera_link
    # the left sensor is half a baseline to the left (+y) of the camera link
    assert (zed.world_from_camera[:3, 3] - link[:3, 3]) @ link[:3, 1] == pytest.approx(0.06)
    centre = np.array([0.0, 0.3, 0.7])
    for i in range(4):
        cam = scene.cameras[f"cam_{i:02d}"]
        assert (cam.width, cam.height) == (800, 450)
        r = cam.world_from_camera[:3, :3]
        assert np.allclose(r.T @ r, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
        uv, z = cam.project(centre[None])
        assert z[0] > 0 and np.allclose(uv[0], [400, 225], atol=1.0)  # looking at the scene centre
