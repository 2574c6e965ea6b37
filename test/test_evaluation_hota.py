"""3D HOTA through TrackEval on hand-computed cases, and the 3D IoU similarity."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.evaluation import TrackTable, evaluate_hota, iou_3d
from hoi_perception.evaluation.similarity import bev_intersection_area

BOX_A = (0.0, 0.0, 0.9, 0.6, 0.6, 1.8, 0.0)
BOX_B = (5.0, 5.0, 0.9, 0.6, 0.6, 1.8, 0.0)
FAR = (20.0, -20.0, 0.9, 0.6, 0.6, 1.8, 0.0)


def _table(rows):
    t = TrackTable()
    for frame, cls, oid, box in rows:
        t.add("s", frame, cls, oid, box)
    return t


def _gt_two_objects(n=4):
    return _table([(f, "Person", 1, BOX_A) for f in range(n)] + [(f, "Forklift", 7, BOX_B) for f in range(n)])


def test_iou_3d_cases():
    assert iou_3d([BOX_A], [BOX_A])[0, 0] == pytest.approx(1.0)
    assert iou_3d([BOX_A], [BOX_B])[0, 0] == 0.0
    # Half overlap along x: intersection = half the volume -> IoU = 0.5 / 1.5.
    shifted = (0.3, 0.0, 0.9, 0.6, 0.6, 1.8, 0.0)
    assert iou_3d([BOX_A], [shifted])[0, 0] == pytest.approx(1 / 3)
    # Vertical half overlap.
    up = (0.0, 0.0, 1.8, 0.6, 0.6, 1.8, 0.0)
    assert iou_3d([BOX_A], [up])[0, 0] == pytest.approx(1 / 3)
    # A square rotated 45 deg inside its own circumcircle: octagon area = 2 (sqrt(2) - 1) * s^2 for side s.
    rot = (0.0, 0.0, 0.9, 0.6, 0.6, 1.8, np.pi / 4)
    assert bev_intersection_area(BOX_A, rot) == pytest.approx(2 * (np.sqrt(2) - 1) * 0.36, rel=1e-9)
    # 2 x 1 box vs the same box rotated 90 deg: intersection 1 x 1.
    long_x = (0.0, 0.0, 0.5, 2.0, 1.0, 1.0, 0.0)
    long_y = (0.0, 0.0, 0.5, 2.0, 1.0, 1.0, np.pi / 2)
    assert iou_3d([long_x], [long_y])[0, 0] == pytest.approx(1.0 / 3.0)
    assert iou_3d(np.zeros((0, 7)), [BOX_A]).shape == (0, 1)


def test_perfect_tracks():
    gt = _gt_two_objects()
    pred = _table([(f, "Person", 11, BOX_A) for f in range(4)] + [(f, "Forklift", 12, BOX_B) for f in range(4)])
    rep = evaluate_hota(gt, pred)
    for r in rep.per_class.values():
        for f in ("HOTA", "DetA", "AssA", "LocA"):
            assert r.hota[f] == pytest.approx(1.0)
        assert r.idsw == 0
    assert rep.average["HOTA"] == pytest.approx(1.0)
    assert rep.similarity == "iou_3d"


def test_id_switch():
    # One object, 4 frames; tracker id 1 for frames 0-1, id 2 for 2-3.
    # DetA = 1; each TP: TPA = 2, FNA = 2, FPA = 0 -> AssA = 0.5; HOTA = sqrt(0.5).
    gt = _table([(f, "Person", 1, BOX_A) for f in range(4)])
    pred = _table([(f, "Person", 1 if f < 2 else 2, BOX_A) for f in range(4)])
    r = evaluate_hota(gt, pred).per_class["Person"]
    assert r.hota["DetA"] == pytest.approx(1.0)
    assert r.hota["AssA"] == pytest.approx(0.5)
    assert r.hota["HOTA"] == pytest.approx(np.sqrt(0.5))
    assert r.idsw == 1


def test_missed_object():
    # Two people, only one tracked: TP 4, FN 4 -> DetA = 0.5, AssA = 1, HOTA = sqrt(0.5).
    gt = _table([(f, "Person", 1, BOX_A) for f in range(4)] + [(f, "Person", 2, BOX_B) for f in range(4)])
    pred = _table([(f, "Person", 9, BOX_A) for f in range(4)])
    r = evaluate_hota(gt, pred).per_class["Person"]
    assert r.hota["DetA"] == pytest.approx(0.5)
    assert r.hota["AssA"] == pytest.approx(1.0)
    assert r.hota["HOTA"] == pytest.approx(np.sqrt(0.5))


def test_false_track():
    # Perfect track plus a false track far away: TP 4, FP 4 -> DetA = 0.5, HOTA = sqrt(0.5).
    gt = _table([(f, "Person", 1, BOX_A) for f in range(4)])
    pred = _table([(f, "Person", 1, BOX_A) for f in range(4)] + [(f, "Person", 2, FAR) for f in range(4)])
    r = evaluate_hota(gt, pred).per_class["Person"]
    assert r.hota["DetA"] == pytest.approx(0.5)
    assert r.hota["AssA"] == pytest.approx(1.0)
    assert r.hota["HOTA"] == pytest.approx(np.sqrt(0.5))


def test_per_class_bookkeeping_and_average():
    # Person perfect; the forklift is predicted as a Nova Carter: a miss for Forklift and a false positive
    # of Nova_Carter, which has no GT and so stays out of the average (mean over classes with GT).
    gt = _gt_two_objects()
    pred = _table([(f, "Person", 1, BOX_A) for f in range(4)] + [(f, "Nova_Carter", 5, BOX_B) for f in range(4)])
    rep = evaluate_hota(gt, pred)
    assert set(rep.per_class) == {"Person", "Forklift"}
    assert rep.per_class["Person"].hota["HOTA"] == pytest.approx(1.0)
    assert rep.per_class["Forklift"].hota["HOTA"] == 0.0
    assert rep.average["HOTA"] == pytest.approx(0.5)
    d = rep.to_dict()
    assert d["per_class"]["Person"]["HOTA"] == pytest.approx(100.0)
    assert "Average" in rep.table()


def test_multiple_scenes_combine():
    gt = TrackTable()
    pred = TrackTable()
    for scene in ("a", "b"):
        for f in range(3):
            gt.add(scene, f, "Person", 1, BOX_A)
            pred.add(scene, f, "Person", 4, BOX_A)
    rep = evaluate_hota(gt, pred)
    assert rep.scenes == ["a", "b"]
    assert rep.per_class["Person"].hota["HOTA"] == pytest.approx(1.0)
    assert rep.per_class["Person"].num_gt_dets == 6


def test_center_distance_similarity_option():
    gt = _table([(f, "Person", 1, BOX_A) for f in range(3)])
    near = (0.5, 0.0, 0.9, 0.6, 0.6, 1.8, 0.0)
    pred = _table([(f, "Person", 1, near) for f in range(3)])
    rep = evaluate_hota(gt, pred, similarity="center_distance")
    # Similarity 1 - 0.5/2 = 0.75 where matched (TrackEval counts LocA = 1 at thresholds without matches).
    assert 0.75 <= rep.per_class["Person"].hota["LocA"] < 1.0
    assert rep.per_class["Person"].hota["DetA"] < 1.0
    with pytest.raises(ValueError):
        evaluate_hota(gt, pred, similarity="bogus")
