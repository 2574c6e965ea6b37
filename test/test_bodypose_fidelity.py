"""Issue 11 points 2 and 8: BodyPose3DNet fed and decoded as DeepStream's deepstream-bodypose-3d does.

Each test fails on the previous behaviour: lift defaulted to the network's pose3d and the stand-in built
pose3d from the adapter's own k_inv convention (2); the crop was neither rounded nor clipped to the 128 px
padded frame, keypoints were decoded in the pixel-centre convention, the contract called zRel millimetres,
and there was no One-Euro smoothing (8).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hoi_perception.bodypose.bodypose3dnet import (
    DEFAULT_LIFT,
    INPUT_H,
    INPUT_W,
    BodyPose3DNetEstimator,
    crop_geometry,
    decode,
    deepstream_crop_rects,
    deepstream_pad,
    preprocess,
)
from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine, standing_skeleton
from hoi_perception.bodypose.types import PersonBox
from hoi_perception.geometry.camera import intrinsics, project_points
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

K = intrinsics(800.0, 800.0, 640.0, 360.0)  # 1280x720, f = 800 (DeepStream's defaults)
RGB = np.zeros((720, 1280, 3), np.uint8)
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_bodypose3dnet_lift.py"


def _person(z: float = 4.0) -> np.ndarray:
    return standing_skeleton(1.0) + [0.3, 0.0, z]


def _box(joints: np.ndarray) -> PersonBox:
    uv = project_points(K, joints)
    return PersonBox(*(uv.min(0) - 10.0), *(uv.max(0) + 10.0))


# ------------------------------------------------------------------------------------------- point 2
def test_default_lift_is_deepstreams_pose25d():
    assert DEFAULT_LIFT == "pose25d"
    assert BodyPose3DNetEstimator(StandInBodyPose3DNetEngine(K)).lift == "pose25d"
    with pytest.raises(ValueError):
        BodyPose3DNetEstimator(StandInBodyPose3DNetEngine(K), lift="magic")


def test_node_exposes_the_lift_parameter():
    from hoi_perception.bodypose.box_sources import PosePipelineConfig
    from hoi_perception.nodes.body_pose import PARAMETERS

    lift = {p.name: p for p in PARAMETERS}["bodypose3dnet_lift"]
    assert lift.default == "pose25d" and set(lift.choices) == {"pose25d", "network"}
    assert PosePipelineConfig().bodypose3dnet_lift == "pose25d"


def test_standin_pose3d_does_not_depend_on_k_inv():
    person = _person()
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.0, zrel_noise=0.0)
    engine.set_people(person[None])
    inputs, _ = preprocess(RGB, K, [_box(person).xyxy])
    a = engine.run(inputs)["pose3d"]
    other = dict(inputs)
    other["k_inv"] = np.broadcast_to(np.eye(3, dtype=np.float32), inputs["k_inv"].shape).copy()
    b = engine.run(other)["pose3d"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[0] * 1e-3, person, atol=1e-5)  # a perfect network: ground truth, mm


def test_pose25d_lift_recovers_the_person_independently():
    person = _person()
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.3, zrel_noise=0.003, seed=4)
    engine.set_people(person[None])
    (r,) = BodyPose3DNetEstimator(engine).estimate(RGB, K, None, [_box(person)])
    assert r.joints_cam[JOINT_INDEX["pelvis"], 2] == pytest.approx(4.0, rel=0.05)
    assert np.linalg.norm(r.joints_cam - person, axis=1).mean() < 0.15


def test_one_command_check_runs_and_reports(tmp_path):
    out = tmp_path / "lift.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--stand-in", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "STAND-IN" in proc.stdout and "verdict" in proc.stdout
    import json

    res = json.loads(out.read_text())
    assert res["adapter_k_inv"]["root_distance_m"] < 0.3 and "agrees with the lift" in res["verdict"]


# ------------------------------------------------------------------------------------------- point 8
def test_contract_zrel_is_scale_normalised():
    engine = pytest.importorskip("hoi_perception.engine")
    units = engine.load_contract("bodypose3dnet").outputs["pose25d"].conventions["units"]
    assert "scale-normalised" in units and "zRel mm" not in units


def test_deepstream_crop_rounding_and_padded_clipping():
    # Worked by hand from pgie_src_pad_buffer_probe for a 1280x720 frame (pad 128): a box at the right edge.
    assert deepstream_pad(1280) == 128 and deepstream_pad(640) == 64
    rect = deepstream_crop_rects(np.array([[1200.0, 100.0, 1270.0, 400.0]]), (1280, 720))[0]
    np.testing.assert_array_equal(rect, [1048.0, 1.0, 1407.0, 501.0])  # clipped at 1280 + 2*128 - 1 (padded)
    # Unclipped: rounded, 192:256 exactly.
    rect = deepstream_crop_rects(np.array([[600.0, 200.0, 680.0, 500.0]]), (1280, 720))[0]
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    assert w / h == pytest.approx(INPUT_W / INPUT_H) and np.all(rect == np.round(rect))
    # A box far off the frame is clipped at the pad, never beyond.
    rect = deepstream_crop_rects(np.array([[-300.0, -300.0, 50.0, 200.0]]), (1280, 720))[0]
    assert rect[0] == -128.0 and rect[1] == -128.0


def test_clipped_crop_is_stretched_and_keypoints_decode_from_the_corner():
    g = crop_geometry((1200.0, 100.0, 1270.0, 400.0), (1280, 720))
    x0, y0, x1, y1 = g.box
    t = g.t_form_inv
    # DeepStream: image x = x_net * w / 192 + left (corner convention).
    np.testing.assert_allclose((t @ [0.0, 0.0, 1.0])[:2], [x0, y0])
    np.testing.assert_allclose((t @ [INPUT_W, INPUT_H, 1.0])[:2], [x1, y1])
    assert t[0, 0] == pytest.approx((x1 - x0) / INPUT_W) and t[1, 1] == pytest.approx((y1 - y0) / INPUT_H)
    assert t[0, 0] != pytest.approx(t[1, 1])  # stretched after clipping
    # The warp samples pixel centres: its map differs from the decode map by half a pixel either side.
    np.testing.assert_allclose(g.a[:2, 2] - g.a_dec[:2, 2], [0.5 * g.a[0, 0] - 0.5, 0.5 * g.a[1, 1] - 0.5])


def test_padded_pixels_are_black_like_deepstreams_enlarge():
    rgb = np.full((720, 1280, 3), 200, np.uint8)
    inputs, (g,) = preprocess(rgb, K, [(1200.0, 100.0, 1270.0, 400.0)])
    img = inputs["input0"][0]
    # Columns of the crop beyond x = 1280 are the black pad; the rest is the frame.
    u_edge = (g.a @ [1279.5, 300.0, 1.0])[0]
    assert np.all(img[:, :, int(u_edge) + 2:] == 0.0)
    assert img[:, 128, : int(u_edge) - 2].min() == pytest.approx(200 * 0.00392156, rel=1e-4)


def test_smoothing_reduces_jitter_per_track():
    person = _person()
    box = _box(person)
    box.track_id = 7
    results = {}
    for smoothing in (False, True):
        engine = StandInBodyPose3DNetEngine(K, pixel_noise=2.0, zrel_noise=0.02, seed=3)
        engine.set_people(person[None])
        est = BodyPose3DNetEstimator(engine, smoothing=smoothing)
        results[smoothing] = np.stack([est.estimate(RGB, K, None, [box], stamp_s=k / 30.0)[0].joints_2d
                                       for k in range(60)])
    jitter = {s: r[20:].std(axis=0).mean() for s, r in results.items()}
    assert jitter[True] < 0.5 * jitter[False]
    assert est.smoother is not None and est.smoother.counters["smoothed"] == 60


def test_smoothing_without_track_id_is_counted():
    person = _person()
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.0, zrel_noise=0.0)
    engine.set_people(person[None])
    est = BodyPose3DNetEstimator(engine, smoothing=True)
    assert len(est.estimate(RGB, K, None, [_box(person)])) == 1
    assert est.smoother.counters["no_track_id"] == 1


def test_decode_root_depth_filter_is_applied():
    person = _person()
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.0, zrel_noise=0.0)
    engine.set_people(person[None])
    inputs, _ = preprocess(RGB, K, [_box(person).xyxy])
    out = engine.run(inputs)
    from hoi_perception.bodypose.bodypose3dnet import PoseSmoother

    sm = PoseSmoother()
    first = decode(out, inputs, K, smoother=sm, track_ids=[1], t_s=0.0).joints_cam_m[0]
    np.testing.assert_allclose(first, decode(out, inputs, K).joints_cam_m[0])  # first sample passes through
