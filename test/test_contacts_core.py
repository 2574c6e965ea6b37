"""Geometric contact estimator, hands, surfaces, capsule body mesh and contact metrics (no ROS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hoi_perception.contacts.body_mesh import capsule_body_from_joints, template_faces, vitruvian_capsule_body
from hoi_perception.contacts.geometric import (
    ContactConfig,
    GeometricContactEstimator,
    HandInput,
    ObjectInput,
    PersonInput,
    contact_probability,
)
from hoi_perception.contacts.hands import LEFT, RIGHT, hand_from_body_joints, hand_sample_points
from hoi_perception.contacts.metrics import (
    Counts,
    Event,
    event_timing,
    events_from_decisions,
    index_counts,
    point_counts,
)
from hoi_perception.contacts.surfaces import load_mesh, save_mesh_npz, surface_from_box, surface_from_mesh
from hoi_perception.scene import SceneConfig, SyntheticScene
from hoi_perception.scene.meshes import box_mesh
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return SyntheticScene(SceneConfig(num_static_cameras=0, duration_s=6.0))


def _flat_hand(centre: np.ndarray) -> np.ndarray:
    """21 keypoints in a 10 cm x 8 cm plane at height centre[2]."""
    rng = np.random.default_rng(0)
    pts = centre + np.column_stack([rng.uniform(-0.05, 0.05, 21), rng.uniform(-0.04, 0.04, 21), np.zeros(21)])
    return pts


def _table() -> ObjectInput:
    v, f = box_mesh([1.0, 1.0, 0.1], max_edge=0.05)
    pose = np.eye(4)
    pose[2, 3] = 0.75  # top face at z = 0.8
    return ObjectInput.from_pose(7, "table", pose, surface_from_mesh(v, f, "mesh:test"))


def _person(z: float) -> PersonInput:
    return PersonInput(3, hands={LEFT: HandInput(_flat_hand(np.array([0.1, 0.0, z])), "test", 0.01)})


def test_probability_is_logistic_in_the_gap() -> None:
    cfg = ContactConfig()
    p = contact_probability(np.array([-0.01, cfg.hand_contact_m, 0.05]), cfg)
    assert p[0] > 0.99 and p[1] == pytest.approx(0.5) and p[2] < 0.01


def test_hysteresis_and_grasp_events_with_first_frame_stamps() -> None:
    est = GeometricContactEstimator(ContactConfig(min_on_frames=2, min_off_frames=3))
    table = _table()
    # hand height over the table top (0.8 m): far, touching (skin 1 cm below keypoints), a 1-frame blip away, far
    heights = [0.95, 0.95, 0.81, 0.81, 0.81, 0.9, 0.81, 0.81, 0.95, 0.95, 0.95, 0.95]
    decisions, events = [], []
    for i, z in enumerate(heights):
        r = est.update(i * 100_000_000, [_person(z)], [table])
        pair = r.pairs[0]
        decisions.append(bool(pair.hand_decision[LEFT]))
        events += r.events
        assert pair.hand_source == ("test", "")
        assert not pair.hand_decision[RIGHT] and pair.hand_probability[RIGHT] == 0.0
    # on after 2 frames in contact (frame 3), the 1-frame gap does not end it, off after 3 frames away (frame 10)
    assert decisions == [False, False, False, True, True, True, True, True, True, True, False, False]
    assert [(e.start, e.hand, e.stamp_ns) for e in events] == [(True, LEFT, 200_000_000), (False, LEFT, 800_000_000)]
    assert events[1].contact_start_ns == 200_000_000 and events[0].object_track_id == 7
    assert abs(events[0].contact_point[2] - 0.8) < 0.01


def test_object_points_only_where_the_hand_touches() -> None:
    est = GeometricContactEstimator(ContactConfig(min_on_frames=1))
    r = est.update(0, [_person(0.81)], [_table()])
    pair = r.pairs[0]
    assert pair.interacting and len(pair.object_vertex_indices) > 0
    pts = pair.object_points
    assert np.all(np.abs(pts[:, 2] - 0.8) < 1e-6), "contact points on the top face"
    assert np.all(np.abs(pts[:, 0] - 0.1) < 0.1) and np.all(np.abs(pts[:, 1]) < 0.1)


def test_missing_person_ends_contact_and_time_reset() -> None:
    est = GeometricContactEstimator(ContactConfig(min_on_frames=1, min_off_frames=2))
    table = _table()
    est.update(0, [_person(0.81)], [table])
    assert est.active_contacts() == [(3, 7, LEFT)]
    r1 = est.update(100_000_000, [], [table])
    r2 = est.update(200_000_000, [], [table])
    assert not r1.events and [e.start for e in r2.events] == [False]
    est.update(300_000_000, [_person(0.81)], [table])
    est.update(0, [_person(0.95)], [table])  # time went backwards: state cleared
    assert est.active_contacts() == []


def test_config_ranges() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        ContactConfig(enter_probability=0.3, exit_probability=0.5)
    with pytest.raises(ValueError, match="min_on"):
        ContactConfig(min_on_frames=0)


def test_hand_from_body_joints_matches_the_skeleton(scene: SyntheticScene) -> None:
    j = scene.ground_truth(30, with_visibility=False).joints_world
    h = hand_from_body_joints(j, RIGHT)
    assert np.allclose(h[0], j[JOINT_INDEX["right_wrist"]]) and np.allclose(h[4], j[JOINT_INDEX["right_thumb_tip"]])
    assert np.allclose(h[5], j[JOINT_INDEX["right_index_knuckle"]]) and np.allclose(h[12], j[JOINT_INDEX["right_middle_tip"]])
    assert np.all(np.linalg.norm(h - h[0], axis=1) < 0.25)
    assert hand_sample_points(h).shape == (21 + 21 * 3, 3)


def test_capsule_body_from_joints_reproduces_the_scene_vertices(scene: SyntheticScene) -> None:
    for i in (0, 30, 55):
        gt = scene.ground_truth(i, with_visibility=False)
        mesh = capsule_body_from_joints(gt.joints_world, up=np.array([0.0, 0.0, 1.0]))
        assert mesh.model == "hoi_capsules"
        assert np.max(np.linalg.norm(mesh.vertices - gt.body_vertices_world, axis=1)) < 0.006
    faces = template_faces()
    assert faces.min() == 0 and faces.max() == scene.num_body_vertices - 1
    with pytest.raises(ValueError):
        capsule_body_from_joints(np.zeros((10, 3)))


def test_vitruvian_body_is_canonical() -> None:
    b = vitruvian_capsule_body()
    lo, hi = b.vertices.min(0), b.vertices.max(0)
    assert hi[1] - lo[1] > 1.6, "y up, full height"
    assert hi[0] - lo[0] > 1.6, "arms out along x"
    assert hi[2] - lo[2] < 0.5, "thin along z (facing +z)"


def test_surfaces_and_mesh_files(tmp_path: Path) -> None:
    v, f = box_mesh([0.4, 0.3, 0.2])
    p = save_mesh_npz(tmp_path / "b.npz", v, f)
    v2, f2 = load_mesh(p)
    assert np.array_equal(v, v2) and np.array_equal(f, f2)
    obj = tmp_path / "b.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n")
    v3, f3 = load_mesh(obj)
    assert f3.tolist() == [[0, 1, 2], [0, 2, 3]]
    (tmp_path / "b.ply").write_text("ply")
    with pytest.raises(ValueError, match="unsupported"):
        load_mesh(tmp_path / "b.ply")
    s = surface_from_mesh(v, f, "mesh:b")
    d, _ = s.distance(np.array([[0.0, 0.0, 0.15], [0.0, 0.0, 0.0]]))
    assert d[0] == pytest.approx(0.05, abs=0.004) and d[1] == pytest.approx(0.1, abs=0.004)
    assert surface_from_box([0.4, 0.3, 0.2]).source == "box-extent"


def test_metrics_by_hand() -> None:
    c = index_counts([1, 2, 3, 4], [3, 4, 5])
    assert (c.tp, c.fp, c.fn) == (2, 2, 1)
    assert c.precision == 0.5 and c.recall == pytest.approx(2 / 3) and c.f1 == pytest.approx(4 / 7)
    assert Counts().f1 == 0.0
    pc = point_counts(np.array([[0, 0, 0], [1, 0, 0.0]]), np.array([[0, 0, 0.005], [0, 1, 0.0]]), 0.01)
    assert (pc.tp, pc.fp, pc.fn) == (1, 1, 1)
    truth = events_from_decisions([0, 1, 2, 3, 4], [False, True, True, False, False], 0, 11)
    assert [(e.start, e.stamp_ns) for e in truth] == [(True, 1), (False, 3)]
    pred = [Event(True, 0, 11, 1 + 200_000_000), Event(False, 0, 11, 3), Event(True, 1, 11, 2)]
    t = event_timing(pred, truth)
    assert t["matched"] == 2 and t["missed"] == 0 and t["spurious"] == 1
    assert t["mean_abs_error_s"] == pytest.approx(0.1) and t["max_abs_error_s"] == pytest.approx(0.2)


def test_box_surface_distances_are_exact_and_agree_with_a_fine_sampling() -> None:
    """Measured boxes (objects_hands' extents) use closed-form distances: inside, outside, at a
    corner, and the same as a densely sampled box within its sampling error; far points are inf."""
    from hoi_perception.contacts.surfaces import BoxSurface

    box = surface_from_box([1.0, 0.6, 0.8], spacing_m=0.04, exact=True)
    assert isinstance(box, BoxSurface) and len(box.samples) < 5000
    d, i = box.distance([[0.0, 0.0, 0.0], [0.6, 0.0, 0.0], [0.6, 0.4, 0.5], [0.0, 0.0, 0.39]], 1.0)
    np.testing.assert_allclose(d, [0.3, 0.1, np.sqrt(0.1**2 + 0.1**2 + 0.1**2), 0.01], atol=1e-12)
    assert np.all(i >= 0)
    d, i = box.distance([[3.0, 0.0, 0.0]], 0.3)
    assert np.isinf(d[0]) and i[0] == -1
    fine = surface_from_box([1.0, 0.6, 0.8], spacing_m=0.005)
    p = np.random.default_rng(0).uniform(-0.8, 0.8, (1000, 3))
    d_box, _ = box.distance(p, 0.3)
    d_fine, _ = fine.distance(p, 0.3)
    both = np.isfinite(d_box) & np.isfinite(d_fine)
    assert both.sum() > 300 and np.abs(d_box[both] - d_fine[both]).max() < 0.006
