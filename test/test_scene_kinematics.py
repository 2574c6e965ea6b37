"""Synthetic scene kinematics: skeleton proportions, grasp/carry consistency, contact labels, boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.scene import MTMC_CLASSES, SceneConfig, SyntheticScene
from hoi_perception.scene.hoi_script import BOX_SIZE
from hoi_perception.scene.meshes import box_signed_distance
from hoi_perception.skeleton.bodypose34 import BONES, JOINT_INDEX

BOX_ID = 11


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return SyntheticScene(SceneConfig(seed=3))


@pytest.fixture(scope="module")
def frames(scene: SyntheticScene) -> list:
    return [scene.ground_truth(i, with_visibility=False) for i in range(scene.num_frames)]


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(joints[b] - joints[a]) for a, b in BONES])


def test_bone_lengths_constant_and_plausible(frames: list) -> None:
    lengths = np.stack([_bone_lengths(gt.joints_world) for gt in frames])
    assert np.ptp(lengths, axis=0).max() < 1e-6, "a bone changes length over time"
    ref = dict(zip(BONES, lengths[0], strict=True))
    j = JOINT_INDEX
    assert ref[(j["left_hip"], j["left_knee"])] == pytest.approx(0.42, abs=0.03)
    assert ref[(j["left_knee"], j["left_ankle"])] == pytest.approx(0.42, abs=0.03)
    assert ref[(j["left_shoulder"], j["left_elbow"])] == pytest.approx(0.30, abs=0.03)
    assert ref[(j["left_elbow"], j["left_wrist"])] == pytest.approx(0.26, abs=0.03)
    # left/right symmetric
    for a, b in BONES:
        na, nb = [k for k, v in j.items() if v == a][0], [k for k, v in j.items() if v == b][0]
        if na.startswith("left_") or nb.startswith("left_"):
            mirror = (j[na.replace("left_", "right_")], j[nb.replace("left_", "right_")])
            assert ref[(a, b)] == pytest.approx(ref[mirror], abs=1e-9)


def test_standing_height_and_feet_on_floor(frames: list) -> None:
    gt = frames[0]
    head_top = gt.joints_world[JOINT_INDEX["left_eye"], 2] + 0.1
    assert 1.65 < head_top < 1.85
    ankles = gt.joints_world[[JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 2]
    assert np.all(np.abs(ankles - 0.08) < 0.02)
    for g in frames:
        feet = g.joints_world[[JOINT_INDEX[n] for n in ("left_heel", "right_heel", "left_big_toe", "right_big_toe")]]
        assert feet[:, 2].min() > -0.01  # never below the floor


def test_motion_is_smooth(scene: SyntheticScene, frames: list) -> None:
    joints = np.stack([gt.joints_world for gt in frames])
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=2) * scene.fps
    assert speed.max() < 6.0, "a joint jumps (m/s)"


def test_script_walks_grasps_carries_and_releases(frames: list) -> None:
    contact = np.array([gt.hand_contact.left and gt.hand_contact.right for gt in frames])
    assert contact.any() and not contact[0] and not contact[-1]
    idx = np.flatnonzero(contact)
    assert np.all(np.diff(idx) == 1), "one grasp episode"
    pelvis = np.stack([gt.world_from_pelvis[:3, 3] for gt in frames])
    assert np.linalg.norm(pelvis[idx[0], :2] - pelvis[0, :2]) > 1.5, "walks to the object first"
    box = np.stack([gt.object(BOX_ID).world_from_object[:3, 3] for gt in frames])
    assert np.linalg.norm(box[idx[-1]] - box[idx[0]]) > 1.0, "box carried somewhere else"
    assert box[idx, 2].max() > box[0, 2] + 0.05, "box lifted"


def test_object_at_rest_without_contact(frames: list) -> None:
    free = [gt for gt in frames if not (gt.hand_contact.left or gt.hand_contact.right)]
    first = [gt for gt in free if gt.time_s < 5.0]
    last = [gt for gt in free if gt.time_s > 5.0]
    for group in (first, last):
        poses = np.stack([gt.object(BOX_ID).world_from_object for gt in group])
        assert np.abs(poses - poses[0]).max() < 1e-12
        assert np.allclose(group[0].box(BOX_ID).velocity, 0.0)
    # resting on a table top (0.78 m) both times
    for gt in (first[0], last[-1]):
        assert gt.object(BOX_ID).world_from_object[2, 3] == pytest.approx(0.78 + BOX_SIZE[2] / 2)


def test_hands_on_object_and_moving_with_it(frames: list) -> None:
    grasped = [gt for gt in frames if gt.hand_contact.left and gt.hand_contact.right]
    wrists = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]
    in_box = []
    for gt in grasped:
        t = gt.object(BOX_ID).world_from_object
        local = (gt.joints_world[wrists] - t[:3, 3]) @ t[:3, :3]
        in_box.append(local)
        # wrists at the side faces, within a few cm of the surface
        assert np.all(np.abs(box_signed_distance(local, BOX_SIZE)) < 0.05)
        assert local[0, 1] > 0 > local[1, 1], "left hand on +y face, right on -y"
    in_box = np.stack(in_box)
    assert np.abs(in_box - in_box[0]).max() < 1e-3, "hands slide on the box while carrying"
    assert grasped[0].grasped_object_id == BOX_ID


def test_contact_regions(scene: SyntheticScene, frames: list) -> None:
    parts = np.array(scene.body_vertex_parts)
    for gt in frames:
        has = gt.hand_contact.left or gt.hand_contact.right
        assert (gt.body_contact_vertices.size > 0) == has
        assert (gt.object_contact_vertices.size > 0) == has
        if has:
            touching = set(parts[gt.body_contact_vertices])
            hands = {f"{s}_{p}" for s in ("left", "right") for p in ("hand", "palm", "thumb")}
            # the forearm near the wrist may brush the box edge too; nothing else may
            assert touching <= hands | {"left_forearm", "right_forearm"}
            assert {"left_palm", "right_palm"} <= touching
            obj = gt.object(BOX_ID)
            assert gt.object_contact_vertices.max() < obj.vertices.shape[0]
            # both sides of the box are touched
            ys = obj.vertices[gt.object_contact_vertices, 1]
            assert ys.max() > 0.15 and ys.min() < -0.15
    assert frames[0].body_vertices_world.shape == (scene.num_body_vertices, 3)


def test_body_vertices_index_stable(scene: SyntheticScene, frames: list) -> None:
    parts = np.array(scene.body_vertex_parts)
    head = parts == "head"
    for gt in frames[::10]:
        head_centre = gt.body_vertices_world[head].mean(axis=0)
        eyes = gt.joints_world[[JOINT_INDEX["left_eye"], JOINT_INDEX["right_eye"]]].mean(axis=0)
        assert np.linalg.norm(head_centre - eyes) < 0.12


def test_boxes_contain_their_actors(frames: list) -> None:
    for gt in frames[::6]:
        human = gt.box(gt.human_track_id)
        assert human.class_name == "Person"
        assert human.contains(gt.joints_world).all()
        for tid, joints in gt.other_humans.items():
            assert gt.box(tid).contains(joints).all()
        assert gt.box(BOX_ID).contains(gt.object(BOX_ID).vertices_world(), margin=1e-6).all()
        for obj in gt.objects:
            assert gt.box(obj.track_id).contains(obj.vertices_world(), margin=1e-6).all()


def test_box_fields_and_mtmc_filter(frames: list) -> None:
    gt = frames[60]
    classes = {b.class_name for b in gt.boxes}
    assert {"Person", "Nova_Carter", "Forklift", "Box"} <= classes
    assert classes & {"Fourier_GR1_T2_Humanoid", "Agility_Digit_Humanoid"}
    mtmc = gt.mtmc_boxes()
    assert all(b.class_name in MTMC_CLASSES for b in mtmc)
    assert {b.class_name for b in gt.boxes} - {b.class_name for b in mtmc} == {"Box", "Bin", "Table"}
    assert len({b.track_id for b in gt.boxes}) == len(gt.boxes)
    person2 = gt.box(2)
    assert 1.6 < person2.h < 1.85 and person2.to_array().shape == (10,)
    assert 0.8 < np.linalg.norm(person2.velocity[:2]) < 1.6  # walking speed


def test_rigid_actor_velocity_matches_motion(scene: SyntheticScene, frames: list) -> None:
    for tid in (3, 4):
        b0, b1 = frames[30].box(tid), frames[31].box(tid)
        finite = (b1.center - b0.center) * scene.fps
        assert np.allclose(finite, (b0.velocity + b1.velocity) / 2, atol=0.1)
        assert b0.w > b0.l  # w along the heading (x) axis: vehicles are longer than wide


def test_object_meshes_closed_and_outward(frames: list) -> None:
    for obj in frames[0].objects:
        v, f = obj.vertices, obj.faces
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6
        assert volume > 0
        if obj.name == "Box":
            assert volume == pytest.approx(np.prod(BOX_SIZE), rel=1e-6)
        # every edge shared by exactly two faces (closed surface)
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert np.all(counts == 2), obj.name
