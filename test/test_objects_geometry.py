"""Object geometry on synthetic RGB-D with known poses: segmentation inside a
box with a person mask, the gravity-aligned OBB, mesh registration (noise-free
error < 5 mm / 2 deg), and the 3D tracker (ids through occlusion, Sparse4D id reuse)."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.objects.pose import box_symmetries, obb_pose, rotation_error_deg
from hoi_perception.objects.registration import MeshRegistrar, mesh_from_arrays
from hoi_perception.objects.segmentation import person_mask_from_joints, segment_object
from hoi_perception.objects.tracker import ObjectObservation, ObjectTracker
from hoi_perception.scene.meshes import box_mesh
from scipy.spatial.transform import Rotation

K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
W, H = 640, 480


def _render_box(cam_from_obj: np.ndarray, size: np.ndarray, floor_z: float | None = 3.0) -> np.ndarray:
    """Ray-cast depth of one box (and a back wall at floor_z) for the pinhole K."""
    u, v = np.meshgrid(np.arange(W) + 0.0, np.arange(H) + 0.0)
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1).reshape(-1, 3)
    r, t = cam_from_obj[:3, :3], cam_from_obj[:3, 3]
    o = -r.T @ t  # camera centre in the object frame
    dl = d @ r  # directions in the object frame
    half = size / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o) / dl
        t2 = (half - o) / dl
    tmin = np.nanmax(np.minimum(t1, t2), axis=1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (tmax >= tmin) & (tmin > 0)
    z = np.full(len(d), np.nan)
    z[hit] = tmin[hit]  # d has z component 1, so the ray parameter is the depth
    if floor_z is not None:
        z[~hit] = floor_z
    return z.reshape(H, W).astype(np.float32)


def _pose(rot: Rotation, t: list[float]) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rot.as_matrix()
    m[:3, 3] = t
    return m


# camera looking slightly down at a box standing on the world floor; "up" in the camera frame is -y rotated
PITCH = Rotation.from_euler("x", -25, degrees=True)
UP_CAM = PITCH.apply([0.0, -1.0, 0.0])
SIZE = np.array([0.40, 0.30, 0.20])


def _box_pose(yaw_deg: float, t: list[float]) -> np.ndarray:
    # object z = up: columns map object axes to camera axes
    base = np.column_stack([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # x->x, y->forward(z), z->up(-y)
    r = PITCH.as_matrix() @ base @ Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    return m


def _bbox(depth: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(np.isfinite(depth) & (depth < 2.9))
    return float(xs.min()) - 5, float(ys.min()) - 5, float(xs.max()) + 5, float(ys.max()) + 5


def test_segmentation_keeps_the_object_and_drops_background_and_person() -> None:
    pose = _box_pose(30, [0.05, 0.1, 1.5])
    depth = _render_box(pose, SIZE)
    box = _bbox(depth)
    # a "person" arm crossing the box at the box's depth, masked out by its skeleton
    arm = np.zeros((34, 2))
    conf = np.zeros(34)
    from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

    arm[JOINT_INDEX["left_elbow"]] = (box[0] - 40, (box[1] + box[3]) / 2)
    arm[JOINT_INDEX["left_wrist"]] = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    conf[[JOINT_INDEX["left_elbow"], JOINT_INDEX["left_wrist"]]] = 1.0
    pmask = person_mask_from_joints((H, W), [(arm, conf)])
    assert pmask.any()
    seg = segment_object(depth, K, box, pmask)
    assert seg.reason == "ok"
    assert seg.num_person > 0
    # every kept point is on the box surface (within 1 mm), none on the wall at 3 m
    local = (seg.points - pose[:3, 3]) @ pose[:3, :3]
    assert np.all(np.abs(local) <= SIZE / 2 + 1e-3)
    assert seg.points[:, 2].max() < 2.0
    # and none under the person mask
    assert not pmask[seg.pixels[:, 1], seg.pixels[:, 0]].any()


def test_segmentation_bad_box_and_empty_depth_give_reasons_not_crashes() -> None:
    depth = np.full((H, W), np.nan, dtype=np.float32)
    assert segment_object(depth, K, (10, 10, 50, 50)).reason == "too few valid depth pixels in the box"
    assert segment_object(depth, K, (700, 500, 800, 600)).reason == "box outside the image"


@pytest.mark.parametrize("yaw", [0.0, 25.0, 65.0, 120.0])
def test_gravity_aligned_obb_recovers_yaw_up_and_height(yaw: float) -> None:
    pose = _box_pose(yaw, [0.0, 0.05, 1.4])
    depth = _render_box(pose, SIZE, floor_z=None)
    seg = segment_object(depth, K, _bbox(depth), max_points=20000)
    obb = obb_pose(seg.points, UP_CAM)
    assert obb.gravity_aligned
    assert np.allclose(obb.rotation[:, 2], UP_CAM, atol=1e-9)
    # the visible surface spans the full height; the footprint's yaw matches up to the box symmetries
    assert abs(obb.size[2] - SIZE[2]) < 0.01
    err = rotation_error_deg(obb.rotation, pose[:3, :3], box_symmetries())
    assert err < 2.0, err


def test_pca_obb_of_a_full_cloud() -> None:
    rng = np.random.default_rng(0)
    v, f = box_mesh(SIZE)
    model = mesh_from_arrays("box", v, f, n_points=6000)
    r = Rotation.from_euler("xyz", [10, 20, 30], degrees=True)
    pts = r.apply(model.points) + [0.1, -0.2, 1.0]
    obb = obb_pose(pts + rng.normal(0, 1e-4, pts.shape))
    assert not obb.gravity_aligned
    assert np.allclose(np.sort(obb.size), np.sort(SIZE), atol=0.01)  # PCA of sampled faces: ~mm tilt
    assert np.linalg.norm(obb.centre - [0.1, -0.2, 1.0]) < 0.005
    assert rotation_error_deg(obb.rotation, r.as_matrix(), box_symmetries()) < 2.0


@pytest.mark.parametrize("backend", ["small_gicp"])
def test_registration_noise_free_below_5mm_2deg(backend: str) -> None:
    v, f = box_mesh(SIZE)
    model = mesh_from_arrays("box", v, f, n_points=6000)
    reg = MeshRegistrar(backend=backend)
    for yaw, t in ((15.0, [0.1, 0.0, 1.2]), (50.0, [-0.2, 0.1, 1.6]), (100.0, [0.0, -0.1, 1.0])):
        gt = _box_pose(yaw, t)
        depth = _render_box(gt, SIZE, floor_z=None)
        seg = segment_object(depth, K, _bbox(depth), max_points=20000)
        obb = obb_pose(seg.points, UP_CAM)
        inits = []
        for s in (np.eye(3), np.diag([-1.0, -1.0, 1.0])):
            for turn in (np.eye(3), Rotation.from_euler("z", 90, degrees=True).as_matrix()):
                m = np.eye(4)
                m[:3, :3], m[:3, 3] = obb.rotation @ s @ turn, obb.centre
                inits.append(m)
        res = reg.register(model, seg.points, inits)
        assert res is not None
        pos_err = np.linalg.norm(res.cam_from_object[:3, 3] - gt[:3, 3])
        rot_err = rotation_error_deg(res.cam_from_object[:3, :3], gt[:3, :3], box_symmetries())
        assert pos_err < 0.005, (yaw, pos_err)
        assert rot_err < 2.0, (yaw, rot_err)
        assert res.inlier_fraction > 0.95


def test_registration_from_a_perturbed_previous_pose() -> None:
    v, f = box_mesh(SIZE)
    model = mesh_from_arrays("box", v, f, n_points=6000)
    gt = _box_pose(40.0, [0.0, 0.05, 1.3])
    depth = _render_box(gt, SIZE, floor_z=None)
    seg = segment_object(depth, K, _bbox(depth), max_points=20000)
    init = gt.copy()
    init[:3, :3] = gt[:3, :3] @ Rotation.from_euler("xyz", [4, -3, 6], degrees=True).as_matrix()
    init[:3, 3] += [0.02, -0.015, 0.025]
    res = MeshRegistrar().register(model, seg.points, [init])
    assert np.linalg.norm(res.cam_from_object[:3, 3] - gt[:3, 3]) < 0.005
    assert rotation_error_deg(res.cam_from_object[:3, :3], gt[:3, :3]) < 2.0


def _obs(cls: str, p: list[float]) -> ObjectObservation:
    return ObjectObservation(cls, np.array(p, dtype=float), np.eye(3), np.ones(3), 0.9, "obb")


def test_tracker_keeps_ids_through_occlusion_and_drops_after_timeout() -> None:
    tr = ObjectTracker(max_missed_s=0.5, min_hits=2)
    ids = []
    for i in range(10):  # two objects moving 3 cm per frame at 10 Hz
        out = tr.update(i * 0.1, [_obs("box", [0.03 * i, 0, 1]), _obs("cup", [0.5, 0.02 * i, 1])])
        ids.append({t.hoi_class: t.track_id for t in out})
    assert ids[0] == {}  # not confirmed after one hit
    assert len({d["box"] for d in ids[1:]}) == 1 and len({d["cup"] for d in ids[1:]}) == 1
    box_id = ids[-1]["box"]
    # box occluded for 0.4 s (under max_missed_s): it comes back with the same id where it was heading
    for i in range(10, 14):
        tr.update(i * 0.1, [_obs("cup", [0.5, 0.02 * i, 1])])
    out = tr.update(1.4, [_obs("box", [0.03 * 14, 0, 1]), _obs("cup", [0.5, 0.28, 1])])
    assert {t.hoi_class: t.track_id for t in out}.get("box") == box_id
    # a different class at the same place never takes the id
    out = tr.update(1.5, [_obs("bottle", [0.03 * 15, 0, 1])])
    assert all(t.track_id != box_id or t.hoi_class == "box" for t in tr.tracks)
    # after more than max_missed_s unseen the track is gone; time going backwards resets
    tr.update(3.0, [])
    assert not any(t.hoi_class == "box" for t in tr.tracks)
    tr.update(0.0, [])
    assert tr.counters["reset"] == 1


def test_tracker_reuses_sparse4d_ids() -> None:
    tr = ObjectTracker(min_hits=1)
    out = tr.update(0.0, [_obs("box", [1.0, 2.0, 0.5])], external=[(42, "box", np.array([1.05, 2.0, 0.5])),
                                                                   (7, "cup", np.array([1.0, 2.0, 0.5]))])
    assert [t.track_id for t in out] == [42]
    # own ids never collide with external ids seen
    out = tr.update(0.1, [_obs("box", [1.0, 2.0, 0.5]), _obs("cup", [3.0, 0, 0])])
    assert sorted(t.track_id for t in out) == [1, 42] or 7 not in [t.track_id for t in out]
    assert tr.counters["external_id_reused"] == 1
