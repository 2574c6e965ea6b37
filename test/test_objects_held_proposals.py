"""Held-object proposals from depth (objects/held_proposals.py) on synthetic depth images made
here by ray-casting planes and boxes: a held box is found with its own 2D box; a free hand
over a table, a hand against a wall and a sliver of body beside the skeleton mask give nothing;
a detector box already covering the object wins; bad input gives reasons, not errors."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.objects.detector import ObjectDetection
from hoi_perception.objects.held_proposals import (
    HELD_OBJECT_CLASS,
    HandPoints,
    HeldObjectConfig,
    held_object_proposals,
)
from hoi_perception.objects.pipeline import ObjectsHandsPipeline, PersonInput
from hoi_perception.objects.vocabulary import VOCABULARY

W, H, F = 320, 240, 250.0
K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1.0]])


def _rays() -> np.ndarray:
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    return np.stack([(u - K[0, 2]) / F, (v - K[1, 2]) / F, np.ones_like(u)], -1)


def _scene(boxes: list[tuple[np.ndarray, np.ndarray]], wall_z: float | None = 4.0,
           floor_y: float | None = 1.2) -> np.ndarray:
    """Depth (z) of axis-aligned boxes (centre, half size), a floor (y = floor_y, optical y down)
    and a back wall, as a camera would see them."""
    d = _rays()
    z = np.full((H, W), np.inf)
    if wall_z is not None:
        z[:] = wall_z
    if floor_y is not None:
        t = floor_y / np.where(d[..., 1] > 1e-6, d[..., 1], np.nan)
        z = np.where(np.isfinite(t) & (t > 0) & (t < z), t, z)
    for c, hs in boxes:
        lo, hi = c - hs, c + hs
        with np.errstate(divide="ignore", invalid="ignore"):
            t0, t1 = lo / d, hi / d
        tmin = np.nanmax(np.minimum(t0, t1), -1)
        tmax = np.nanmin(np.maximum(t0, t1), -1)
        hit = (tmax >= tmin) & (tmin > 0) & (tmin < z)
        z = np.where(hit, tmin, z)
    return np.where(np.isfinite(z), z, 0.0).astype(np.float32)


def _project(p: np.ndarray) -> np.ndarray:
    return np.array([F * p[0] / p[2] + K[0, 2], F * p[1] / p[2] + K[1, 2]])


def _hand(centre: np.ndarray, pid: int = 1) -> HandPoints:
    pts = [centre + o for o in (np.zeros(3), [0.03, 0.0, 0.0], [0.0, 0.03, 0.0], [-0.02, 0.02, 0.0])]
    return HandPoints(np.array([_project(p) for p in pts]), pid, 0)


def _hand_box(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hand itself in the depth image (8 x 8 x 6 cm)."""
    return centre, np.array([0.04, 0.04, 0.03])


def _mask_around(points_px: np.ndarray, radius: int, m: np.ndarray | None = None) -> np.ndarray:
    m = np.zeros((H, W), bool) if m is None else m
    for u, v in points_px:
        m[max(0, int(v) - radius):int(v) + radius, max(0, int(u) - radius):int(u) + radius] = True
    return m


HAND = np.array([0.0, 0.1, 2.0])
BOX = (np.array([0.0, 0.1, 2.17]), np.array([0.2, 0.15, 0.12]))  # 40 x 30 x 24 cm, front face 5 cm behind the hand


def test_a_box_in_the_hand_is_proposed_with_its_own_box() -> None:
    depth = _scene([BOX, _hand_box(HAND)])
    hp = _hand(HAND)
    mask = _mask_around(hp.pixels, 5)  # a hand ~10 cm across
    props, why = held_object_proposals(depth, K, (W, H), [hp], mask)
    assert len(props) == 1, why
    p = props[0]
    assert p.hoi_class == HELD_OBJECT_CLASS and VOCABULARY[HELD_OBJECT_CLASS].graspable
    want_lo = _project(BOX[0] - BOX[1] * [1, 1, -1])  # front face corners
    want_hi = _project(BOX[0] + BOX[1] * [1, 1, -1])
    assert abs(p.box[0] - want_lo[0]) < 6 and abs(p.box[2] - want_hi[0]) < 6, (p.box, want_lo, want_hi)
    assert abs(p.box[1] - want_lo[1]) < 6 and abs(p.box[3] - want_hi[1]) < 6, (p.box, want_lo, want_hi)


def test_depth_may_be_downscaled_like_the_zed_publishes_it() -> None:
    depth = _scene([BOX])[::2, ::2].copy()
    props, why = held_object_proposals(depth, K, (W, H), [_hand(HAND)], None)
    assert len(props) == 1, why
    assert props[0].box[2] - props[0].box[0] > 40  # 40 cm at 2.05 m is 49 RGB pixels (24 depth pixels)


def test_free_hand_above_a_table_and_hand_on_a_wall_give_nothing() -> None:
    table = (np.array([0.0, 0.6, 2.1]), np.array([0.8, 0.02, 0.5]))  # a large top, hand 5 cm above it
    for hand, scene, reason in (
            (np.array([0.0, 0.53, 2.0]), [table], "surface goes on beyond reach"),
            (np.array([0.0, 0.0, 2.0]), [], "surface goes on beyond reach"),  # wall 5 cm behind the hand
            (np.array([0.0, -0.3, 2.0]), [], "nothing touches the hand")):  # a hand in free space
        hp = _hand(hand)
        depth = _scene([*scene, _hand_box(hand)], wall_z=2.08 if hand[1] == 0.0 else 4.0)
        props, why = held_object_proposals(depth, K, (W, H), [hp], _mask_around(hp.pixels, 6))
        assert props == [] and why == {reason: 1}, (hand, why)


def test_body_beside_the_skeleton_mask_is_not_an_object() -> None:
    """A torso 44 cm wide, drawn into the mask 30 cm wide: the 7 cm rims either side hug the mask."""
    torso = (np.array([0.0, 0.0, 2.1]), np.array([0.22, 0.25, 0.1]))
    depth = _scene([torso])
    mask = np.zeros((H, W), bool)
    lo, hi = _project(np.array([-0.15, -0.25, 2.0])), _project(np.array([0.15, 0.25, 2.0]))
    mask[int(lo[1]):int(hi[1]), int(lo[0]):int(hi[0])] = True
    hand = np.array([0.19, 0.0, 1.95])
    hp = _hand(hand)
    depth = _scene([torso, _hand_box(hand)])
    mask = _mask_around(hp.pixels, 6, mask)
    props, why = held_object_proposals(depth, K, (W, H), [hp], mask)
    assert props == [], why
    assert why == {"hugs the person's outline": 1}, why
    # the rule is what rejects it: switched off, the rim is taken for an object
    props, why = held_object_proposals(depth, K, (W, H), [hp], mask, config=HeldObjectConfig(max_hug_fraction=1.0))
    assert props, why


def test_a_detector_box_covering_it_wins_and_bad_hands_are_reasons() -> None:
    depth = _scene([BOX])
    first, _ = held_object_proposals(depth, K, (W, H), [_hand(HAND)], None)
    det = ObjectDetection(first[0].box, 0.9, "Box", "box", "ssd")
    props, why = held_object_proposals(depth, K, (W, H), [_hand(HAND)], None, [det])
    assert props == [] and why == {"already detected or proposed": 1}
    bad = [HandPoints(np.full((4, 2), np.nan), 1, 0), HandPoints(np.array([[-500.0, 10.0]]), 1, 1),
           HandPoints(np.array([[10.0, 10.0]]), 2, 0)]
    holes = depth.copy()
    holes[:30, :30] = np.nan
    props, why = held_object_proposals(holes, K, (W, H), bad, None)
    assert props == [] and why == {"no hand pixels": 1, "hand outside the image": 1, "no depth at the hand": 1}
    with pytest.raises(ValueError):
        HeldObjectConfig(reach_m=0.1, touch_m=0.2)


def test_pipeline_poses_and_tracks_the_held_object_without_a_detector() -> None:
    """Through ObjectsHandsPipeline: no detector, people from a skeleton whose hand holds the box."""
    from hoi_perception.skeleton.bodypose34 import JOINT_INDEX as J

    depth = _scene([BOX])
    rgb = np.zeros((H, W, 3), np.uint8)
    joints = np.full((34, 2), np.nan)
    conf = np.zeros(34)
    for name, off in (("wrist", [0, 0, 0]), ("index_knuckle", [0.03, 0, 0]), ("pinky_knuckle", [0, 0.03, 0]),
                      ("thumb_tip", [-0.02, 0.02, 0])):
        joints[J[f"left_{name}"]] = _project(HAND + off)
        conf[J[f"left_{name}"]] = 1.0
    pipe = ObjectsHandsPipeline(None, None, held_objects=HeldObjectConfig())
    tracked = []
    for i in range(3):
        r = pipe.process(rgb, depth, K, i * 0.1, [PersonInput(7, joints, conf)])
        tracked.append([(o.hoi_class, o.track_id) for o in r.objects])
        assert "held" in r.timings_ms
    assert tracked[-1] and tracked[-1][0][0] == HELD_OBJECT_CLASS, tracked
    obj = r.objects[0]
    assert np.linalg.norm(obj.cam_from_object[:3, 3] - BOX[0]) < 0.15  # OBB of the visible faces
    assert pipe.counters["held_proposals"] == 3
    # switched off: nothing
    off = ObjectsHandsPipeline(None, None)
    assert off.process(rgb, depth, K, 0.0, [PersonInput(7, joints, conf)]).objects == []


def test_class_matching_for_scoring() -> None:
    """The scorers compare classes through the vocabulary: "box" is the bag's "Box", a held_object
    may be any graspable object but never a table."""
    from hoi_perception.evaluation.metrics.contacts import GraspEvent, as_truth_names, match_events
    from hoi_perception.objects.vocabulary import same_object_class

    assert same_object_class("box", "Box") and same_object_class("held_object", "Box")
    assert not same_object_class("held_object", "Table") and not same_object_class("cup", "Box")
    gt = {"Box": {"left": True, "right": False}, "Table": {"left": False, "right": False}}
    pred = {"held_object": {"left": True, "right": False}, "table": {"left": False, "right": True}}
    assert as_truth_names(pred, gt) == {"Box": {"left": True, "right": False}, "Table": {"left": False, "right": True}}
    errors, missed, spurious = match_events([GraspEvent(0, "left", "grasp", "Box")],
                                            [GraspEvent(10_000_000, "left", "grasp", "held_object")], 500_000_000)
    assert errors == [10.0] and missed == spurious == 0
