"""BodyPose3DNet adapter: constants vs contract, crop geometry, engine path
with the contract test model, geometry through the ground-truth stand-in."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.bodypose.bodypose3dnet import (
    INPUT_H,
    INPUT_W,
    LIMB_IDX0,
    LIMB_IDX1,
    LIMB_LENGTH_MM,
    MEAN_LIMB_LENGTHS_MM,
    PIXEL_SCALE,
    SCALE_NORMALIZED_MEAN_LIMB_LENGTHS,
    BodyPose3DNetEstimator,
    Preprocessor,
    crop_box,
    decode,
    lift_pose25d,
    preprocess,
    preprocess_reference,
)
from hoi_perception.bodypose.depth import SURFACE_OFFSET_M
from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine, standing_skeleton
from hoi_perception.bodypose.types import PersonBox, PoseEstimator
from hoi_perception.geometry.camera import intrinsics, project_points
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, NUM_JOINTS

K = intrinsics(520.0, 520.0, 320.0, 240.0)


def _box_of(joints: np.ndarray, margin: float = 8.0) -> PersonBox:
    uv = project_points(K, joints)
    return PersonBox(*(uv.min(0) - margin), *(uv.max(0) + margin))


def _mpjpe(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


def test_constants_match_contract_defaults() -> None:
    contract = pytest.importorskip("hoi_perception.engine").load_contract("bodypose3dnet")
    ins = contract.inputs
    np.testing.assert_allclose(ins["mean_limb_lengths"].conventions["default"], MEAN_LIMB_LENGTHS_MM, atol=1e-4)
    np.testing.assert_allclose(ins["scale_normalized_mean_limb_lengths"].conventions["default"],
                               SCALE_NORMALIZED_MEAN_LIMB_LENGTHS, atol=1e-4)
    assert ins["input0"].conventions["channel_order"] == "BGR"
    assert ins["input0"].shape[1:] == (3, INPUT_H, INPUT_W)
    assert abs(1.0 / ins["input0"].conventions["std"][0] - PIXEL_SCALE) < 1e-6
    # the DeepStream placeholder k_inv is a crop camera: f = 800.79 px, principal point at the crop centre
    k_ds = np.linalg.inv(np.array(ins["k_inv"].conventions["default"]))
    np.testing.assert_allclose(k_ds, intrinsics(800.79041, 800.79041, 96.0, 128.0), atol=0.05)


def test_limb_pairs_are_consistent() -> None:
    # pelvis-neck is the normalising limb (1.0) and = 492.7 mm; every pair's mm/normalised ratio is that length
    ratio = LIMB_LENGTH_MM / SCALE_NORMALIZED_MEAN_LIMB_LENGTHS[SCALE_NORMALIZED_MEAN_LIMB_LENGTHS > 0]
    np.testing.assert_allclose(ratio, 492.6854, rtol=0.01)
    assert all(a != b for a, b in zip(LIMB_IDX0, LIMB_IDX1, strict=True))


def test_crop_box_aspect_and_enlargement() -> None:
    cb = crop_box((100.0, 50.0, 200.0, 350.0))  # tall box: 100 x 300
    w, h = cb[2] - cb[0], cb[3] - cb[1]
    assert w / h == pytest.approx(INPUT_W / INPUT_H)
    assert w == pytest.approx(1.25 * 300.0)  # square on the long side, 1.25x
    assert 0.5 * (cb[0] + cb[2]) == pytest.approx(150.0) and 0.5 * (cb[1] + cb[3]) == pytest.approx(200.0)


def test_crop_transform_matches_pixels_and_k_inv() -> None:
    rgb = np.zeros((480, 640, 3), dtype=np.uint8)
    dot = np.array([212.0, 141.0])
    rgb[int(dot[1]) - 1:int(dot[1]) + 2, int(dot[0]) - 1:int(dot[0]) + 2] = (255, 0, 0)  # red 3x3 dot
    box = (150.0, 60.0, 260.0, 330.0)
    inputs, (geom,) = preprocess(rgb, K, [box])
    img = inputs["input0"][0]
    assert img.shape == (3, INPUT_H, INPUT_W) and img.dtype == np.float32
    # BGR planes: red lands in channel 2, scaled to [0, 1]
    assert img[2].max() == pytest.approx(1.0, abs=1e-3) and img[0].max() == 0.0
    ys, xs = np.nonzero(img[2] > 0.2)
    w = img[2][ys, xs]
    found = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    expected = (geom.a @ np.append(dot, 1.0))[:2]
    np.testing.assert_allclose(found, expected, atol=0.35)
    # t_form_inv maps keypoints back to the image in DeepStream's corner convention (a_dec, not the warp's
    # pixel-centre map a; issue 11 point 8); k_inv is the crop's camera in that convention
    keypoint = (geom.a_dec @ np.append(dot, 1.0))[:2]
    np.testing.assert_allclose(inputs["t_form_inv"][0] @ np.append(keypoint, 1.0), np.append(dot, 1.0), atol=1e-3)
    p_cam = np.array([0.3, -0.2, 2.5])
    uv_crop = (geom.a_dec @ np.append(project_points(K, p_cam), 1.0))[:2]
    ray = inputs["k_inv"][0] @ np.append(uv_crop, 1.0)
    np.testing.assert_allclose(ray * p_cam[2], p_cam, atol=1e-4)


def test_engine_path_with_contract_test_model(tmp_path) -> None:
    engine_mod = pytest.importorskip("hoi_perception.engine")
    from hoi_perception.engine.test_models import make_test_model

    contract = engine_mod.load_contract("bodypose3dnet")
    path = make_test_model("bodypose3dnet", tmp_path / "bodypose3dnet_test.onnx")
    engine = engine_mod.create_engine(str(path), contract, backend="onnxruntime")
    est = BodyPose3DNetEstimator(engine, max_batch=2, lift="network")  # the network path's units are checked below
    assert isinstance(est, PoseEstimator)
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = [PersonBox(10, 20, 110, 300), PersonBox(300, 40, 420, 400), PersonBox(500, 100, 600, 460),
             PersonBox(5, 5, 4, 4)]  # the last is degenerate: counted, not run
    results = est.estimate(rgb, K, None, boxes)
    assert len(results) == 3 and est.counters["bad_box"] == 1
    inputs, _ = preprocess(rgb, K, [b.xyxy for b in boxes[:2]])
    raw = engine.run(inputs)
    for r in results:
        assert r.joints_cam.shape == (NUM_JOINTS, 3) and r.joints_2d.shape == (NUM_JOINTS, 2)
        assert np.all(np.isfinite(r.joints_cam)) and np.all((r.confidence >= 0) & (r.confidence <= 1))
        assert not r.depth_used and not r.derived.any()
        assert r.source.startswith("bodypose3dnet:onnxruntime")
    # pose3d is millimetres; joints come back in metres
    np.testing.assert_allclose(results[0].joints_cam, raw["pose3d"][0] * 1e-3, rtol=1e-5, atol=1e-6)


def _scene_people() -> np.ndarray:
    return np.stack([standing_skeleton(1.0) + [0.5, 0.0, 3.0], standing_skeleton(1.0) + [-0.9, 0.1, 4.5]])


@pytest.mark.parametrize("lift", ["network", "pose25d"])
def test_standin_geometry_metres_in_optical_frame(lift: str) -> None:
    people = _scene_people()
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.5, zrel_noise=0.005, seed=1)
    engine.set_people(people)
    est = BodyPose3DNetEstimator(engine, lift=lift)
    assert est.backend_name.startswith("stand-in:")
    results = est.estimate(np.zeros((480, 640, 3), np.uint8), K, None, [_box_of(p) for p in people])
    assert len(results) == 2
    for r, gt in zip(results, people, strict=True):
        assert r.source.startswith("stand-in:")
        # metres, optical frame: the pelvis is in front (z > 0), the head above it (smaller y)
        assert r.joints_cam[JOINT_INDEX["pelvis"], 2] == pytest.approx(gt[0, 2], rel=0.08)
        assert r.joints_cam[JOINT_INDEX["nose"], 1] < r.joints_cam[JOINT_INDEX["pelvis"], 1]
        # the standing skeleton is close to the mean limb lengths, so the network scale is close
        assert _mpjpe(r.joints_cam, gt) < 0.25
        assert np.abs(r.joints_2d - project_points(K, gt)).max() < 4.0


def test_standin_batch_chunking_gives_same_result() -> None:
    people = _scene_people()
    boxes = [_box_of(p) for p in people]
    out = []
    for max_batch in (1, 8):
        engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.0, zrel_noise=0.0)
        engine.set_people(people)
        out.append(BodyPose3DNetEstimator(engine, max_batch=max_batch).estimate(np.zeros((480, 640, 3), np.uint8), K,
                                                                                None, boxes))
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(a.joints_cam, b.joints_cam, atol=1e-6)


def _depth_image(people: np.ndarray, occluder: bool = False) -> np.ndarray:
    """Joint-centred patches at surface depth (joint depth minus its offset), nearest first."""
    depth = np.full((480, 640), np.nan, np.float32)
    order = np.argsort(-people[:, 0, 2])
    for p in people[order]:
        uv = project_points(K, p)
        for j, (u, v) in enumerate(uv):
            r, c = int(round(v)), int(round(u))
            depth[max(0, r - 3):r + 4, max(0, c - 3):c + 4] = p[j, 2] - SURFACE_OFFSET_M[j]
    if occluder:  # something held in front of the right arm and hip
        for name in ("right_wrist", "right_elbow", "right_hip"):
            u, v = project_points(K, people[0][JOINT_INDEX[name]])
            depth[int(v) - 4:int(v) + 5, int(u) - 4:int(u) + 5] = 1.2
    return depth


@pytest.mark.parametrize("occluder", [False, True])
def test_depth_corrects_the_limb_length_scale(occluder: bool) -> None:
    # a tall and a short person: the mean-limb-length scale is wrong by ~ +-12%
    people = np.stack([standing_skeleton(1.12) + [0.5, 0.0, 3.0], standing_skeleton(0.88) + [-0.9, 0.1, 4.5]])
    engine = StandInBodyPose3DNetEngine(K, pixel_noise=0.5, zrel_noise=0.005, seed=2)
    engine.set_people(people)
    est = BodyPose3DNetEstimator(engine)
    rgb = np.zeros((480, 640, 3), np.uint8)
    boxes = [_box_of(p) for p in people]
    without = est.estimate(rgb, K, None, boxes)
    engine.rng = np.random.default_rng(2)
    with_depth = est.estimate(rgb, K, _depth_image(people, occluder), boxes)
    for a, b, gt in zip(without, with_depth, people, strict=True):
        assert not a.depth_used and b.depth_used
        assert _mpjpe(a.joints_cam, gt) > 0.2  # scale ambiguity: ~10% of the distance
        assert _mpjpe(b.joints_cam, gt) < 0.05
        # the correction scales along rays: 2D is untouched
        np.testing.assert_allclose(project_points(K, b.joints_cam), project_points(K, a.joints_cam), atol=1e-6)


def test_depth_unusable_falls_back() -> None:
    people = _scene_people()[:1]
    engine = StandInBodyPose3DNetEngine(K)
    engine.set_people(people)
    est = BodyPose3DNetEstimator(engine)
    r = est.estimate(np.zeros((480, 640, 3), np.uint8), K, np.full((480, 640), np.nan, np.float32),
                     [_box_of(people[0])])[0]
    assert not r.depth_used and r.extras["depth_reason"] == "too few joints with valid depth"


def test_lift_recovers_mean_size_person_exactly() -> None:
    # a person whose limbs are exactly scaled mean lengths is recovered exactly (no noise)
    gt = standing_skeleton(1.0) + [0.2, 0.1, 3.5]
    uv = project_points(K, gt)[None]
    lengths = np.linalg.norm(gt[LIMB_IDX0] - gt[LIMB_IDX1], axis=1) * 1000
    norm = SCALE_NORMALIZED_MEAN_LIMB_LENGTHS[SCALE_NORMALIZED_MEAN_LIMB_LENGTHS > 0]
    s = lengths @ norm / (norm @ norm)
    z_rel = ((gt[:, 2] - gt[0, 2]) * 1000 / s)[None]
    p = lift_pose25d(uv, z_rel, np.ones((1, NUM_JOINTS)), K)[0] * 1e-3
    np.testing.assert_allclose(project_points(K, p), uv[0], atol=1e-6)
    assert p[0, 2] == pytest.approx(3.5, rel=0.06)


def test_bad_input_is_counted_not_raised() -> None:
    est = BodyPose3DNetEstimator(StandInBodyPose3DNetEngine(K))
    assert est.estimate(np.zeros((10, 10), np.uint8), K, None, []) == []
    assert est.counters["bad_input"] == 1

    class Broken:
        backend_name = "broken"

        def run(self, inputs: dict) -> dict:
            raise RuntimeError("engine fell over")

    est = BodyPose3DNetEstimator(Broken())
    assert est.estimate(np.zeros((480, 640, 3), np.uint8), K, None, [PersonBox(10, 10, 100, 200)]) == []
    assert est.counters["engine_error"] == 1


def test_decode_rejects_unknown_lift() -> None:
    inputs, _ = preprocess(np.zeros((480, 640, 3), np.uint8), K, [(10, 10, 100, 200)])
    outputs = {"pose25d": np.zeros((1, NUM_JOINTS, 4), np.float32), "pose3d": np.zeros((1, NUM_JOINTS, 3), np.float32)}
    with pytest.raises(ValueError):
        decode(outputs, inputs, K, lift="magic")


def test_fast_preprocess_equals_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = [(50.0 + 60 * i, 60.0 + 5 * i, 110.3 + 60 * i, 300.7 + 8 * i) for i in range(7)]
    boxes.append((-50.3, 300.7, 60.2, 700.1))  # runs off the frame: zero fill
    ref, g_ref = preprocess_reference(rgb, K, boxes)
    prep = Preprocessor(2)  # grows to the batch
    for n in (8, 1, 3):
        out, g = prep(rgb, K, boxes[:n])
        for key in ref:
            assert out[key].shape[0] == n and out[key].dtype == np.float32
            np.testing.assert_array_equal(out[key], ref[key][:n])
        for a, b in zip(g, g_ref, strict=False):
            np.testing.assert_array_equal(a.a, b.a)
            assert a.box == b.box
    empty, _ = preprocess(rgb, K, [])
    assert empty["input0"].shape == (0, 3, INPUT_H, INPUT_W)
