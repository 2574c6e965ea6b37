"""HumanTracker ids and person box sources."""

from __future__ import annotations

import numpy as np
from hoi_perception.bodypose.boxes import ExternalBoxSource, ProjectedTrackBoxSource
from hoi_perception.bodypose.standin import standing_skeleton
from hoi_perception.bodypose.tracking import HumanTracker
from hoi_perception.bodypose.types import PersonBox, PoseResult
from hoi_perception.geometry.box3d import Box3D
from hoi_perception.geometry.camera import intrinsics, look_at, project_points
from hoi_perception.geometry.rotations import invert_transform

K = intrinsics(500.0, 500.0, 320.0, 240.0)


def _result(offset: np.ndarray, track_id: int | None = None) -> PoseResult:
    joints = standing_skeleton() + offset
    uv = project_points(K, joints)
    return PoseResult(joints_cam=joints, confidence=np.full(34, 0.9), derived=np.zeros(34, bool), joints_2d=uv,
                      box=(*uv.min(0), *uv.max(0)), score=0.9, depth_used=False, source="test", track_id=track_id)


def test_ids_stable_while_people_walk_past_each_other() -> None:
    tracker = HumanTracker()
    ids_by_person: list[set[int]] = [set(), set()]
    for f in range(30):
        a = np.array([-1.0 + 0.07 * f, 0.0, 4.0])  # walks right, in front
        b = np.array([1.0 - 0.07 * f, 0.0, 5.0])  # walks left, behind
        results = [_result(a), _result(b)]
        if f % 2:
            results.reverse()  # detection order must not matter
        ids = tracker.update(results, f * 33_000_000)
        for r, tid in zip(results, ids, strict=True):
            ids_by_person[0 if r.joints_cam[0, 2] < 4.5 else 1].add(tid)
    assert ids_by_person[0] == {1} and ids_by_person[1] == {2}


def test_expired_track_gets_new_id_and_external_ids_are_reused() -> None:
    tracker = HumanTracker(max_age_ns=500_000_000, first_id=100)
    assert tracker.update([_result(np.array([0.0, 0.0, 3.0]))], 0) == [100]
    assert tracker.update([_result(np.array([0.02, 0.0, 3.0]))], 100_000_000) == [100]
    assert tracker.update([_result(np.array([0.02, 0.0, 3.0]))], 2_000_000_000) == [101]
    # Sparse4D ids pass straight through, whether given explicitly or on the result
    assert tracker.update([_result(np.array([1.0, 0.0, 3.0]))], 2_100_000_000, external_ids=[7]) == [7]
    assert tracker.update([_result(np.array([1.0, 0.0, 3.0]), track_id=7)], 2_200_000_000) == [7]


def test_projected_tracks_give_boxes_with_track_ids() -> None:
    world_from_cam = look_at([0.0, -5.0, 1.5], [0.0, 0.0, 1.0])
    cam_from_world = invert_transform(world_from_cam)
    src = ProjectedTrackBoxSource()
    tracks = [Box3D(7, "Person", 0.0, 0.0, 0.9, 0.6, 0.5, 1.8, 0.3),
              Box3D(8, "Person", 0.0, -8.0, 0.9, 0.6, 0.5, 1.8, 0.0),  # behind the camera
              Box3D(9, "Forklift", 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0)]
    src.set_tracks(tracks, cam_from_world)
    boxes = src.boxes(np.zeros((480, 640, 3), np.uint8), K)
    assert [b.track_id for b in boxes] == [7]
    b = boxes[0]
    centre = cam_from_world[:3, :3] @ np.array([0.0, 0.0, 0.9]) + cam_from_world[:3, 3]
    u, v = project_points(K, centre)
    assert b.x0 < u < b.x1 and b.y0 < v < b.y1
    assert b.height > b.width  # a standing person box


def test_external_boxes_filtered_and_clipped() -> None:
    src = ExternalBoxSource(min_score=0.5)
    src.set_detections([(10, 20, 110, 300, 0.9), (5, 5, 4, 4, 0.9), (0, 0, 50, 50, 0.1),
                        PersonBox(600, 100, 700, 400, 0.8)])
    boxes = src.boxes(np.zeros((480, 640, 3), np.uint8), K)
    assert len(boxes) == 2 and src.rejected == 2
    assert boxes[1].x1 == 639.0
