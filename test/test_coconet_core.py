"""CoCoNet core: contract v2, SMPL LBS and 6D against scipy, the joint fit, the window
builder on the synthetic scene, stitching, decoding (stand-in = initial estimate)."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.coconet.decode import assemble_inputs, decode
from hoi_perception.coconet.standin import CocoNetStandIn
from hoi_perception.coconet.window import (
    CROP_SIZE,
    FrameEstimate,
    ObjectShape,
    WindowBuilder,
    WindowRing,
    body_render_shape,
)
from hoi_perception.engine import create_engine, load_contract
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.geometry.rotations import matrix_to_rotation_6d_columns, rotation_6d_columns_to_matrix
from hoi_perception.smpl.fit import N_PARAMS, SmplJointFitter
from hoi_perception.smpl.landmarks import FIT_CORRESPONDENCE, body25_from_smpl
from hoi_perception.smpl.model import PARENTS, SmplFileError, load_smpl
from hoi_perception.smpl.synthetic import synthetic_smpl_arrays, synthetic_smpl_model, write_synthetic_smpl
from scipy.spatial.transform import Rotation


@pytest.fixture(scope="module")
def model():
    return synthetic_smpl_model()


# ---------------------------------------------------------------- contract (issue 11 point 7)
def test_contract_outputs_are_deltas_and_refine_inputs_are_present():
    c = load_contract("coconet")
    assert c.version == 2
    for name in ("obj_pose_init", "body_joints_init", "mesh_diameter"):
        assert name in c.inputs and not c.inputs[name].optional
    assert c.inputs["obj_pose_init"].shape == ("T", 4, 4)
    assert c.inputs["body_joints_init"].shape == ("T", 25, 3)
    assert c.inputs["masks"].shape == (2, "T", 3, 224, 224)  # release config c_in 6 = xyz + 3 masks
    for name in ("hum_pose", "hum_shape", "hum_trans", "rot", "trans"):
        assert c.outputs[name].conventions["kind"] == "delta", name
    assert "@ R_init" in c.outputs["hum_pose"].conventions["apply"]
    assert "mesh_diameter / 2" in c.outputs["trans"].conventions["apply"]
    assert c.outputs["trans_abs"].optional  # unsupervised in the release loss
    assert c.dims["T"].opt == 96 and c.dims["T"].max == 180


def test_test_model_deltas_stay_near_identity(tmp_path):
    c = load_contract("coconet")
    eng = create_engine(make_test_model(c, tmp_path / "c.onnx"), c, backend="onnxruntime")
    out = eng.run(c.example_inputs({"T": 2}))
    ident = np.tile([1, 0, 0, 1, 0, 0], 24)
    assert np.abs(out["hum_pose"] - ident).max() < 0.2
    assert np.abs(out["hum_trans"]).max() < 0.2 and np.abs(out["trans"]).max() < 0.2
    assert np.abs(out["hum_pose"] - ident).max() > 0  # and still depends on the inputs


# ---------------------------------------------------------------- rotations and LBS
def test_6d_columns_layout_against_scipy():
    r = Rotation.random(200, random_state=1).as_matrix()
    d6 = matrix_to_rotation_6d_columns(r)
    assert np.allclose(d6, r[:, :, :2].reshape(-1, 6))  # CARI4D: pose[:3, :2].reshape(6)
    assert np.allclose(rotation_6d_columns_to_matrix(d6), r, atol=1e-12)
    noisy = d6 + 0.01 * np.random.default_rng(0).normal(size=d6.shape)
    m = rotation_6d_columns_to_matrix(noisy)
    assert np.allclose(m @ np.swapaxes(m, 1, 2), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(m), 1.0)


def test_lbs_joints_match_scipy_forward_kinematics(model):
    rng = np.random.default_rng(3)
    pose = rng.normal(size=72) * 0.4
    betas = rng.normal(size=10)
    transl = np.array([0.3, -0.2, 2.0])
    verts, joints = model.forward(pose, betas, transl)
    rest = model.rest_joints(betas)
    rots = Rotation.from_rotvec(pose.reshape(24, 3))
    glob: list[Rotation] = []
    pos = np.zeros((24, 3))
    for j in range(24):
        if PARENTS[j] < 0:
            glob.append(rots[j])
            pos[j] = rest[j]
        else:
            p = PARENTS[j]
            glob.append(glob[p] * rots[j])
            pos[j] = pos[p] + glob[p].apply(rest[j] - rest[p])
    assert np.allclose(joints, pos + transl, atol=1e-10)
    # a global rotation alone moves every vertex rigidly about the root joint
    g = np.zeros(72)
    g[:3] = [0.3, -1.2, 0.5]
    v1, _ = model.forward(g, betas)
    v0, _ = model.forward(None, betas)
    r = Rotation.from_rotvec(g[:3])
    assert np.allclose(v1, r.apply(v0 - rest[0]) + rest[0], atol=1e-10)


def test_npz_round_trip_and_pickle_needs_permission(tmp_path, model):
    p = write_synthetic_smpl(tmp_path / "body.npz")
    m2 = load_smpl(p)
    assert np.allclose(m2.forward(np.full(72, 0.1))[0], model.forward(np.full(72, 0.1))[0])
    pkl = tmp_path / "body.pkl"
    import pickle

    pkl.write_bytes(pickle.dumps(synthetic_smpl_arrays()))
    with pytest.raises(SmplFileError, match="allow_pickle"):
        load_smpl(pkl)
    assert load_smpl(pkl, allow_pickle=True).num_vertices == model.num_vertices
    bad = dict(synthetic_smpl_arrays())
    del bad["weights"]
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(SmplFileError, match="missing weights"):
        load_smpl(tmp_path / "bad.npz")


def test_fit_recovers_joints_and_warm_start_is_cheaper(model):
    from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

    fitter = SmplJointFitter(model)
    rng = np.random.default_rng(1)
    x = np.zeros(N_PARAMS)
    x[:3] = [np.pi, 0, 0]  # SMPL y-up into the camera's y-down
    x[3:72] = rng.normal(size=69) * 0.2
    x[72:82] = rng.normal(size=10) * 0.5
    x[82:85] = [0.2, 0.1, 3.0]
    pts = fitter.points(x[None])[0]
    j34, c34 = np.zeros((34, 3)), np.zeros(34)
    for i, (src, _, _) in enumerate(FIT_CORRESPONDENCE):
        for s in src.split("+"):
            j34[JOINT_INDEX[s]], c34[JOINT_INDEX[s]] = pts[i], 1.0
    j34[JOINT_INDEX["left_wrist"]] += [0.5, 0.0, 0.0]  # one wrong joint: the Huber loss keeps it local
    cold = fitter.fit(j34, c34)
    warm = fitter.fit(j34, c34)
    got = fitter.points(cold.params.vector()[None])[0]
    err = np.linalg.norm(got - pts, axis=1)
    assert np.median(err) < 0.02
    assert warm.warm_started and warm.iterations <= cold.iterations


# ---------------------------------------------------------------- window builder on the synthetic scene
@pytest.fixture(scope="module")
def scene_frame(model):
    from hoi_perception.scene import HUMAN_TRACK_ID, SceneConfig, SyntheticScene
    from hoi_perception.scene import hoi_script as hs
    from hoi_perception.scene.synthetic import BOX_TRACK_ID

    scene = SyntheticScene(SceneConfig(num_static_cameras=0))
    cam = scene.cameras[scene.zed_camera_name]
    i = 61  # carrying the box
    gt = scene.ground_truth(i, with_visibility=False)
    cw = cam.camera_from_world
    fitter = SmplJointFitter(model)
    res = fitter.fit(gt.joints_world @ cw[:3, :3].T + cw[:3, 3], np.ones(34))
    p = res.params
    rot = p.rotmats()
    joints, verts = model.joints_and_vertices(rot, p.betas, p.transl, fitter.vertex_ids)
    est = FrameEstimate(rot, p.betas, p.transl, joints, body25_from_smpl(joints, verts),
                        cw @ gt.object(BOX_TRACK_ID).world_from_object, ObjectShape("box", tuple(hs.BOX_SIZE)), 1.9)
    view = scene.render(i, scene.zed_camera_name)
    return cam, view, est, view.instance_ids == HUMAN_TRACK_ID, view.instance_ids == BOX_TRACK_ID


def test_window_builder_crop_masks_and_xyz(model, scene_frame):
    cam, view, est, gt_h, gt_o = scene_frame
    wb = WindowBuilder(body_render_shape(model))
    f = wb.build(1, view.rgb, view.depth, cam.k, est, gt_h, gt_o)
    assert f.rgb.shape == (2, CROP_SIZE, CROP_SIZE, 3) and f.masks.shape == (2, CROP_SIZE, CROP_SIZE, 3)
    # the crop holds all of the human and the object: every mask pixel maps inside it
    ui, vi = f.crop.source_indices()
    ys, xs = np.nonzero(gt_h | gt_o)
    assert ui[0] <= xs.min() and ui[-1] >= xs.max() and vi[0] <= ys.min() and vi[-1] >= ys.max()
    # observed masks are the ground-truth instance masks resampled
    crop_h = gt_h[np.clip(vi, 0, gt_h.shape[0] - 1)[:, None], np.clip(ui, 0, gt_h.shape[1] - 1)[None, :]]
    assert np.array_equal(f.masks[0, ..., 0] > 0, crop_h)
    # rendered masks of the (fitted) estimate overlap them: IoU on the object (exact pose) and the human
    iou = lambda a, b: np.sum(a & b) / max(np.sum(a | b), 1)  # noqa: E731
    assert iou(f.masks[1, ..., 1] > 0, f.masks[0, ..., 1] > 0) > 0.6
    assert iou(f.masks[1, ..., 0] > 0, f.masks[0, ..., 0] > 0) > 0.4
    # xyz: metres x 2 / diameter minus the SMPL translation; undoing it gives the depth of the pixel
    s = 2.0 / est.mesh_diameter
    fore = (f.masks[0, ..., 0] > 0) | (f.masks[0, ..., 1] > 0)
    z = f.xyz[0, ..., 2][fore] / s + est.transl[2]
    d = view.depth[np.clip(vi, 0, 359)[:, None], np.clip(ui, 0, 639)[None, :]][fore]
    assert np.allclose(z, d, atol=1e-4)
    assert np.all(f.xyz[0][~fore] == 0) and np.all(f.rgb[0][~fore] == 0)
    # masks decided from depth near the estimate agree with the ground truth
    g = wb.build(1, view.rgb, view.depth, cam.k, est)
    assert "depth within" in g.mask_source
    assert iou(g.masks[0, ..., 1] > 0, f.masks[0, ..., 1] > 0) > 0.7  # hands within the margin count as box


def test_window_ring_stitching():
    ring = WindowRing(4, 2)
    out = [ring.push(i) for i in range(8)]  # type: ignore[arg-type]
    due = [(i, o[1], o[0]) for i, o in enumerate(out) if o]
    assert [(i, n) for i, n, _ in due] == [(3, 4), (5, 2), (7, 2)]
    published = [f for _, n, frames in due for f in frames[len(frames) - n:]]
    assert published == list(range(8))  # every frame exactly once
    with pytest.raises(ValueError):
        WindowRing(4, 5)


def test_window_ring_flush_runs_the_last_partial_window_once():
    """The frames after the last window (the end of a stream) come out of flush() as one shrunk
    window, as CARI4D's run_horefine.py shrinks its last clip; a stream that goes on after a
    flush still publishes every frame once."""
    ring = WindowRing(4, 4)
    due = [(o[0], o[1]) for o in (ring.push(i) for i in range(10)) if o]  # type: ignore[arg-type]
    assert [n for _, n in due] == [4, 4] and ring.pending == 2
    tail = ring.flush()
    assert tail == ([8, 9], 2) and ring.pending == 0 and ring.flush() is None
    due += [(o[0], o[1]) for o in (ring.push(i) for i in range(10, 14)) if o]  # type: ignore[arg-type]
    published = [f for frames, n in due for f in frames[len(frames) - n:]]
    assert published == [*range(8), *range(10, 14)]
    # fewer than T frames in all: the flush is the only window, then the stream goes on
    short = WindowRing(4, 2)
    assert [short.push(i) for i in range(3)] == [None] * 3  # type: ignore[arg-type]
    assert short.flush() == ([0, 1, 2], 3)
    out = [short.push(i) for i in range(3, 8)]  # type: ignore[arg-type]
    assert [(o[0], o[1]) for o in out if o] == [([1, 2, 3, 4], 2), ([3, 4, 5, 6], 2)]
    assert short.pending == 1


def test_detected_object_without_a_shape_is_rendered_as_its_measured_box(model, scene_frame):
    """objects_hands' objects (detector classes, held_object) have no object_shapes entry: they are
    rendered as the box objects_hands measured for the pose's track (ObjectExtentArray); before,
    no frame of them was built and no window ran (no_object_shape on every frame)."""
    from dataclasses import replace

    from hoi_perception.coconet.shapes import RenderShapes, parse_object_shapes

    shapes = RenderShapes(parse_object_shapes(["Box=box:0.40,0.36,0.30"]), max_age_ns=1_000_000_000)
    t = 5_000_000_000
    assert shapes.resolve("held_object", 7, t) is None  # nothing measured yet
    assert shapes.add_extent(t - 100_000_000, 7, "held_object", (0.41, 0.30, 0.004), "obb-gravity")
    assert not shapes.add_extent(t, 7, "held_object", (0.41, float("nan"), 0.2))  # ignored
    c = shapes.resolve("held_object", 7, t)
    assert c is not None and c.measured and c.source == "measured:obb-gravity"
    assert c.shape.kind == "box" and np.allclose(c.shape.size, (0.41, 0.30, 0.02))  # flat side >= 2 cm
    assert "0.41x0.30x0.02" in c.detail and "track 7" in c.detail
    assert shapes.resolve("held_object", 8, t) is None            # another track
    assert shapes.resolve("table", 7, t) is None                  # another object
    assert shapes.resolve("held_object", 7, t + 2_000_000_000) is None  # older than max age
    assert shapes.resolve("Box", 3, t).source == "object_shapes"  # a configured shape wins
    assert shapes.summary() == {"Box": {"object_shapes": 1}, "held_object": {"measured:obb-gravity": 1, "none": 3},
                                "table": {"none": 1}}
    assert shapes.counts == {"none": 4, "measured": 1, "object_shapes": 1}
    shapes.drop_older_than(t + 5_000_000_000)
    assert shapes.resolve("held_object", 7, t) is None
    # a measured box renders like the configured primitive: the synthetic object mask covers the box
    from hoi_perception.scene import hoi_script as hs

    shapes.add_extent(t, 3, "held_object", tuple(hs.BOX_SIZE), "obb-gravity")
    c = shapes.resolve("held_object", 3, t)
    cam, view, est, gt_h, gt_o = scene_frame
    f = WindowBuilder(body_render_shape(model)).build(1, view.rgb, view.depth, cam.k,
                                                      replace(est, object_shape=c.shape), gt_h, gt_o)
    iou = np.sum((f.masks[1, ..., 1] > 0) & (f.masks[0, ..., 1] > 0)) / np.sum((f.masks[1, ..., 1] > 0)
                                                                            | (f.masks[0, ..., 1] > 0))
    assert iou > 0.6


def test_objects_hands_publishes_the_measured_box_of_each_pose():
    """ObjectPose has no size: objects_hands sends each pose's box beside it (ObjectExtentArray)."""
    from types import SimpleNamespace

    from hoi_perception.nodes.objects_hands import object_extents
    from std_msgs.msg import Header

    objs = [SimpleNamespace(track_id=4, hoi_class="held_object", size=np.array([0.4, 0.3, 0.2]), method="obb-gravity"),
            SimpleNamespace(track_id=9, hoi_class="table", size=np.array([1.2, 0.8, 0.1]), method="obb")]
    msg = object_extents(Header(frame_id="cam"), objs)
    assert msg.header.frame_id == "cam" and [e.track_id for e in msg.extents] == [4, 9]
    e = msg.extents[0]
    assert (e.object_name, e.method) == ("held_object", "obb-gravity")
    assert np.allclose([e.size.x, e.size.y, e.size.z], [0.4, 0.3, 0.2])


def test_stand_in_returns_the_initial_estimate_and_test_model_refines(tmp_path, model, scene_frame):
    cam, view, est, gt_h, gt_o = scene_frame
    wb = WindowBuilder(body_render_shape(model))
    frames = [wb.build(k, view.rgb, view.depth, cam.k, est, gt_h, gt_o) for k in range(3)]
    c = load_contract("coconet")
    stand = CocoNetStandIn(c)
    assert stand.is_stand_in
    inputs = assemble_inputs(frames)
    for mode in ("delta", "abs"):
        out = decode(stand.run(inputs), frames, c, mode)
        for r in out:
            assert np.allclose(r.smpl_rotmats, est.smpl_rotmats, atol=1e-6)
            assert np.allclose(r.transl, est.transl, atol=1e-6) and np.allclose(r.betas, est.betas)
            assert np.allclose(r.obj_pose, est.obj_pose, atol=1e-6)
            assert not r.contact.any()
    eng = create_engine(make_test_model(c, tmp_path / "c.onnx"), c, backend="onnxruntime")
    out = decode(eng.run(inputs), frames, c, "delta")
    assert not np.allclose(out[0].transl, est.transl)
    d = out[0].smpl_rotmats @ np.swapaxes(est.smpl_rotmats, -1, -2)  # the applied delta is a rotation near I
    assert np.allclose(d @ np.swapaxes(d, -1, -2), np.eye(3), atol=1e-6)
    assert np.degrees(np.arccos(np.clip((np.trace(d, axis1=1, axis2=2) - 1) / 2, -1, 1))).max() < 15


def test_object_delta_decodes_cari4d_targets(model, scene_frame):
    """CARI4D's trainer targets rot = log(D^T) / rot_normalizer and trans = (t_gt - t_init) / radius;
    decoding those targets must give back the ground-truth pose D R_init, t_gt."""
    cam, view, est, gt_h, gt_o = scene_frame
    wb = WindowBuilder(body_render_shape(model))
    frames = [wb.build(0, view.rgb, view.depth, cam.k, est, gt_h, gt_o)]
    c = load_contract("coconet")
    n = c.outputs["rot"].conventions["rot_normalizer"]
    d = Rotation.from_rotvec([0.1, -0.2, 0.15]).as_matrix()
    t_gt = est.obj_pose[:3, 3] + [0.03, -0.02, 0.05]
    out = CocoNetStandIn(c).run(assemble_inputs(frames))
    out["rot"] = (Rotation.from_matrix(d.T).as_rotvec() / n)[None].astype(np.float32)
    out["trans"] = ((t_gt - est.obj_pose[:3, 3]) / (est.mesh_diameter / 2))[None].astype(np.float32)
    r = decode(out, frames, c, "delta")[0]
    assert np.allclose(r.obj_pose[:3, :3], d @ est.obj_pose[:3, :3], atol=1e-5)
    assert np.allclose(r.obj_pose[:3, 3], t_gt, atol=1e-5)


def test_human_delta_decodes_cari4d_targets(model, scene_frame):
    """video_data.py: delta_smpl_rot = R_gt @ R_nlf^T, target = delta[..., :2] (first two columns);
    delta_smpl_trans = t_gt - t_nlf; decoding the targets gives the ground truth back."""
    cam, view, est, gt_h, gt_o = scene_frame
    wb = WindowBuilder(body_render_shape(model))
    frames = [wb.build(0, view.rgb, view.depth, cam.k, est, gt_h, gt_o)]
    c = load_contract("coconet")
    r_gt = Rotation.random(24, random_state=5).as_matrix()
    delta = r_gt @ np.swapaxes(est.smpl_rotmats, -1, -2)
    out = CocoNetStandIn(c).run(assemble_inputs(frames))
    out["hum_pose"] = delta[:, :, :2].reshape(1, 144).astype(np.float32)
    out["hum_trans"] = np.array([[0.01, -0.02, 0.03]], np.float32)
    out["hum_shape"] = np.full((1, 10), 0.5, np.float32)
    r = decode(out, frames, c)[0]
    assert np.allclose(r.smpl_rotmats, r_gt, atol=1e-5)
    assert np.allclose(r.transl, est.transl + [0.01, -0.02, 0.03], atol=1e-6)
    assert np.allclose(r.betas, est.betas + 0.5, atol=1e-6)
