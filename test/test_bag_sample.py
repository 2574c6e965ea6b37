"""Sample bag generation from the synthetic scene: topics, stamps = log times,
dropped frames, /tf_static chain, ground-truth content, atomic generation and
reuse. Small scenes (few frames, small images) to stay fast."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hoi_perception.bag import BagReader, is_complete_bag
from hoi_perception.bag import sample as sample_mod
from hoi_perception.bag.sample import (
    TOPIC_GT_CONTACTS,
    TOPIC_GT_HOI,
    TOPIC_GT_HUMANS,
    TOPIC_GT_OBJECTS,
    TOPIC_GT_TRACKS,
    TOPIC_TF_STATIC,
    TOPIC_ZED_DEPTH,
    TOPIC_ZED_IMAGE,
    TOPIC_ZED_INFO,
    camera_image_topic,
    camera_info_topic,
    ensure_sample_bag,
    generate_sample_bag,
)
from hoi_perception.geometry.rotations import quat_to_matrix
from hoi_perception.imaging.encodings import image_to_numpy
from hoi_perception.scene import SceneConfig, SyntheticScene


def _small_config(**kw) -> SceneConfig:
    base = dict(seed=3, num_static_cameras=2, width=96, height=64, zed_width=96, zed_height=64, fps=10.0,
                duration_s=0.8)
    base.update(kw)
    return SceneConfig(**base)


def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _matrix(tf) -> np.ndarray:
    m = np.eye(4)
    q, v = tf.transform.rotation, tf.transform.translation
    m[:3, :3] = quat_to_matrix([q.x, q.y, q.z, q.w])
    m[:3, 3] = [v.x, v.y, v.z]
    return m


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> tuple[Path, SceneConfig, list]:
    cfg = _small_config(drop_probability=0.25)
    out = tmp_path_factory.mktemp("sample") / "bag"
    info = generate_sample_bag(out, cfg, progress=False)
    assert info.path == out.resolve() and info.frames == 8
    with BagReader(out) as r:
        msgs = [(m, r.deserialize(m)) for m in r.messages()]
    return out, cfg, msgs


def test_topics_and_counts_follow_stamps_and_drops(small_sample):
    out, cfg, msgs = small_sample
    scene = SyntheticScene(cfg)
    counts: dict[str, int] = {}
    for m, _ in msgs:
        counts[m.topic] = counts.get(m.topic, 0) + 1
    n = scene.num_frames
    zed_frames = sum(scene.stamp_ns(i, "zed_left_camera") is not None for i in range(n))
    assert counts[TOPIC_ZED_IMAGE] == counts[TOPIC_ZED_DEPTH] == counts[TOPIC_ZED_INFO] == zed_frames
    for cam in ("cam_00", "cam_01"):
        kept = sum(scene.stamp_ns(i, cam) is not None for i in range(n))
        assert counts[camera_image_topic(cam)] == counts[camera_info_topic(cam)] == kept
    for t in (TOPIC_GT_HUMANS, TOPIC_GT_OBJECTS, TOPIC_GT_HOI, TOPIC_GT_CONTACTS, TOPIC_GT_TRACKS):
        assert counts[t] == n
    assert counts[TOPIC_TF_STATIC] == 1
    # some frames were dropped with p = 0.25 over 3 cameras x 8 frames (fixed seed)
    assert sum(counts[t] for t in (TOPIC_ZED_IMAGE, camera_image_topic("cam_00"), camera_image_topic("cam_01"))) < 3 * n
    assert "/clock" not in counts


def test_log_time_is_header_stamp_and_camera_stamps_match_scene(small_sample):
    out, cfg, msgs = small_sample
    scene = SyntheticScene(cfg)
    expected_cam = {
        camera_image_topic("cam_00"): [s for i in range(scene.num_frames) if (s := scene.stamp_ns(i, "cam_00"))],
        TOPIC_ZED_IMAGE: [s for i in range(scene.num_frames) if (s := scene.stamp_ns(i, "zed_left_camera"))],
    }
    got: dict[str, list[int]] = {t: [] for t in expected_cam}
    times = [m.log_time_ns for m, _ in msgs]
    assert times == sorted(times)
    assert msgs[0][0].topic == TOPIC_TF_STATIC
    for m, d in msgs:
        if m.topic == TOPIC_TF_STATIC:
            assert all(_stamp_ns(t.header) == m.log_time_ns for t in d.transforms)
            continue
        assert _stamp_ns(d.header) == m.log_time_ns, m.topic
        if m.topic in got:
            got[m.topic].append(m.log_time_ns)
    assert got == expected_cam
    gt_times = [m.log_time_ns for m, _ in msgs if m.topic == TOPIC_GT_HUMANS]
    assert gt_times == [cfg.epoch_ns + round(i * 1e9 / cfg.fps) for i in range(scene.num_frames)]


def test_images_and_camera_info(small_sample):
    out, cfg, msgs = small_sample
    scene = SyntheticScene(cfg)
    by_topic: dict[str, list] = {}
    for m, d in msgs:
        by_topic.setdefault(m.topic, []).append(d)
    zed = by_topic[TOPIC_ZED_IMAGE][0]
    assert zed.encoding == "bgra8" and zed.header.frame_id == "zed_left_camera_optical_frame"
    depth = by_topic[TOPIC_ZED_DEPTH][0]
    assert depth.encoding == "32FC1" and depth.header.frame_id == "zed_left_camera_optical_frame"
    d = image_to_numpy(depth)
    assert d.dtype == np.float32 and d.shape == (64, 96)
    valid = d[np.isfinite(d)]
    assert valid.size > 0 and np.all(valid > 0) and np.all(valid < 50)  # metres
    # first kept cam_00 image equals the scene's render of that frame
    first = next(i for i in range(scene.num_frames) if scene.stamp_ns(i, "cam_00") is not None)
    img = by_topic[camera_image_topic("cam_00")][0]
    assert img.encoding == "rgb8" and img.header.frame_id == "cam_00_optical_frame"
    np.testing.assert_array_equal(image_to_numpy(img), scene.render(first, "cam_00").rgb)
    bgra = image_to_numpy(zed)
    first_zed = next(i for i in range(scene.num_frames) if scene.stamp_ns(i, "zed_left_camera") is not None)
    np.testing.assert_array_equal(bgra[..., 2::-1], scene.render(first_zed, "zed_left_camera").rgb)
    info = by_topic[camera_info_topic("cam_00")][0]
    assert (info.width, info.height) == (96, 64) and info.distortion_model == "plumb_bob"
    np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), scene.cameras["cam_00"].k)
    np.testing.assert_allclose(np.asarray(info.p).reshape(3, 4)[:, :3], scene.cameras["cam_00"].k)


def test_tf_static_places_every_optical_frame_like_the_scene(small_sample):
    out, cfg, msgs = small_sample
    scene = SyntheticScene(cfg)
    tf = msgs[0][1]
    edges = {(t.header.frame_id, t.child_frame_id): _matrix(t) for t in tf.transforms}
    for cam in ("cam_00", "cam_01"):
        np.testing.assert_allclose(edges[("world", f"{cam}_optical_frame")], scene.cameras[cam].world_from_camera,
                                   atol=1e-9)
    chain = (edges[("world", "zed_camera_link")] @ edges[("zed_camera_link", "zed_camera_center")]
             @ edges[("zed_camera_center", "zed_left_camera_frame")]
             @ edges[("zed_left_camera_frame", "zed_left_camera_optical_frame")])
    np.testing.assert_allclose(chain, scene.cameras["zed_left_camera"].world_from_camera, atol=1e-9)
    # optical frame: z forward = +x of the camera frame, x right = -y, y down = -z (REP 103)
    opt = edges[("zed_left_camera_frame", "zed_left_camera_optical_frame")][:3, :3]
    np.testing.assert_allclose(opt @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(opt @ [1, 0, 0], [0, -1, 0], atol=1e-12)


def test_ground_truth_content(small_sample):
    out, cfg, msgs = small_sample
    scene = SyntheticScene(cfg)
    gts = {i: scene.ground_truth(i, with_visibility=False) for i in range(scene.num_frames)}
    frame_of = {cfg.epoch_ns + round(i * 1e9 / cfg.fps): i for i in range(scene.num_frames)}
    seen_contact = False
    for m, d in msgs:
        if not m.topic.startswith("/ground_truth/"):
            continue
        gt = gts[frame_of[m.log_time_ns]]
        assert d.header.frame_id == "world"
        if m.topic == TOPIC_GT_HUMANS:
            h = d.humans[0]
            assert h.track_id == gt.human_track_id and h.skeleton == "bodypose3dnet_34"
            assert h.source == "ground-truth" and len(h.joints) == 34
            np.testing.assert_allclose([[p.x, p.y, p.z] for p in h.joints], gt.joints_world)
            assert {x.track_id for x in d.humans} == {1, 2}  # Person-class only
        elif m.topic == TOPIC_GT_OBJECTS:
            assert {o.track_id for o in d.objects} == {o.track_id for o in gt.objects}
            assert all(o.source == "ground-truth" for o in d.objects)
        elif m.topic == TOPIC_GT_HOI:
            (s,) = d.states
            assert s.source == "ground-truth"
            assert (s.left_hand_contact, s.right_hand_contact) == tuple(gt.hand_contact)
            assert s.left_hand_contact_prob == float(gt.hand_contact.left)
            assert s.smpl.track_id == gt.human_track_id
            assert not np.any(s.smpl.pose_6d) and not np.any(s.smpl.betas) and s.smpl.gender == ""
            seen_contact |= bool(s.left_hand_contact or s.right_hand_contact)
        elif m.topic == TOPIC_GT_CONTACTS:
            if gt.grasped_object_id is None:
                assert d.contacts == []
            else:
                (c,) = d.contacts
                assert c.body_model == "hoi_capsules" and c.source == "ground-truth"
                assert c.object_track_id == gt.grasped_object_id
                np.testing.assert_array_equal(c.body_vertex_indices, gt.body_contact_vertices)
                assert len(c.body_points) == len(c.body_vertex_indices)
        elif m.topic == TOPIC_GT_TRACKS:
            assert d.source == "ground-truth"
            assert [o.track_id for o in d.objects] == [b.track_id for b in gt.boxes]
            for o, b in zip(d.objects, gt.boxes, strict=True):
                assert o.class_label == b.class_name
                assert (o.size.x, o.size.y, o.size.z) == pytest.approx((b.w, b.l, b.h))
                assert len(o.visible_cameras) == len(o.visibility)
                assert all(0 < v <= 1 for v in o.visibility)
    assert seen_contact or not any(g.hand_contact.left or g.hand_contact.right for g in gts.values())


def test_interrupted_generation_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    out = tmp_path / "bag"
    real = sample_mod.ground_truth_messages
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sample_mod, "ground_truth_messages", dying)
    with pytest.raises(KeyboardInterrupt):
        generate_sample_bag(out, _small_config(duration_s=0.5), progress=False)
    assert not out.exists()
    assert not list(tmp_path.glob(".bag.partial-*"))


def test_ensure_sample_bag_generates_once_then_reuses(tmp_path):
    out = tmp_path / "sample_bag"
    # a stale partial of a dead process is cleaned up
    stale = tmp_path / ".sample_bag.partial-999999999"
    (stale / "sample_bag").mkdir(parents=True)
    kw = dict(scene_config=_small_config(duration_s=0.3, num_static_cameras=1), progress=False)
    p = ensure_sample_bag(out, **kw)
    assert p == out.resolve() and is_complete_bag(p)
    assert not stale.exists()
    mtime = (p / "metadata.yaml").stat().st_mtime_ns
    assert ensure_sample_bag(out, **kw) == out  # reused: not regenerated
    assert (p / "metadata.yaml").stat().st_mtime_ns == mtime
    # an incomplete bag (no metadata.yaml) is regenerated
    os.remove(p / "metadata.yaml")
    assert is_complete_bag(ensure_sample_bag(out, **kw))


def test_cli_writes_bag(tmp_path, capsys):
    out = tmp_path / "cli_bag"
    rc = sample_mod.main(["--out", str(out), "--seconds", "0.2", "--cameras", "1", "--width", "64", "--height", "48",
                          "--quiet"])
    assert rc == 0 and is_complete_bag(out)
    assert "messages" in capsys.readouterr().out
    assert sample_mod.main(["--out", str(out), "--seconds", "0.2", "--quiet"]) == 1  # exists
    assert sample_mod.main(["--out", str(tmp_path / "x"), "--cameras", "99", "--quiet"]) == 2
