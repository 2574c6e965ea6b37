"""Camera-group configuration and the fusion of per-group tracks into global ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hoi_perception.sparse4d import Track3D, TrackFusion, load_camera_groups
from hoi_perception.sparse4d.groups import FusionParams, parse_camera_groups

REPO = Path(__file__).resolve().parents[1]
NS = 1_000_000_000


def _t(tid: int, x: float, y: float = 0.0, cls: str = "Person", score: float = 0.9, vx: float = 0.0) -> Track3D:
    return Track3D(tid, 0, cls, score, np.array([x, y, 0.9]), np.array([0.5, 0.5, 1.8]), 0.0,
                   np.array([vx, 0.0, 0.0]))


def test_repo_config_loads_and_overlaps():
    cfg = load_camera_groups(REPO / "config" / "camera_groups.yaml")
    assert len(cfg.groups) >= 2
    assert cfg.overlaps(), "groups must share cameras"
    assert cfg.validate(known_cameras=cfg.all_cameras()) == []
    assert cfg.fusion.match_distance_m > 0


def test_config_problems_reported():
    cfg = parse_camera_groups({"groups": [{"name": "a", "cameras": ["c0"]}, {"name": "b", "cameras": ["c1"]}]})
    problems = cfg.validate(known_cameras=["c0", "c1", "c2"])
    assert any("c2 is in no group" in p for p in problems)
    assert any("overlaps no other group" in p for p in problems)
    with pytest.raises(ValueError):
        parse_camera_groups({"groups": [{"name": "a", "cameras": ["c0", "c0"]}]})


def test_handover_keeps_global_id_and_separates_objects():
    fusion = TrackFusion(FusionParams(match_distance_m=1.0, max_age_s=1.0))
    seen_ids = []
    # Object P walks from x=-5 (group A only) through the overlap [-1, 1] to x=5 (group B only).
    # Object Q stands still at y=3 and is seen by both groups all the time with different local ids.
    for k in range(101):
        x = -5.0 + 0.1 * k
        a, b = [], []
        if x <= 1.0:
            a.append(_t(10, x + 0.05, vx=3.0))
        if x >= -1.0:
            b.append(_t(77, x - 0.05, vx=3.0))
        a.append(_t(11, 0.0, 3.0, cls="Forklift"))
        b.append(_t(78, 0.1, 3.0, cls="Forklift"))
        out = fusion.update({"A": a, "B": b}, k * NS // 10)
        ids = {f.track.class_name: f.track.track_id for f in out}
        seen_ids.append(ids)
        assert len(out) == 2
    assert {d["Person"] for d in seen_ids} == {seen_ids[0]["Person"]}
    assert {d["Forklift"] for d in seen_ids} == {seen_ids[0]["Forklift"]}
    assert fusion.counters["handovers"] >= 2


def test_same_group_objects_never_merge_and_class_gate():
    fusion = TrackFusion(FusionParams(match_distance_m=1.0))
    out = fusion.update({"A": [_t(1, 0.0), _t(2, 0.3)], "B": [_t(5, 0.1, cls="Forklift")]}, 0)
    assert len(out) == 3
    assert len({f.track.track_id for f in out}) == 3


def test_late_duplicate_is_merged_into_older_id():
    fusion = TrackFusion(FusionParams(match_distance_m=1.0))
    fusion.update({"A": [_t(1, 0.0)]}, 0)
    # Group B first sees its object 3 m away (a different object as far as fusion can tell) ...
    out = fusion.update({"A": [_t(1, 0.0)], "B": [_t(9, 3.0)]}, NS // 10)
    assert len(out) == 2
    # ... then it turns out to coincide with A's: merged, the older global id survives.
    out = fusion.update({"A": [_t(1, 0.0)], "B": [_t(9, 0.2)]}, 2 * NS // 10)
    assert len(out) == 1 and out[0].track.track_id == 1 and sorted(out[0].groups) == ["A", "B"]
    assert fusion.counters["merges"] == 1


def test_stale_mappings_expire():
    fusion = TrackFusion(FusionParams(max_age_s=0.5))
    fusion.update({"A": [_t(1, 0.0)]}, 0)
    fusion.update({"A": []}, 2 * NS)
    assert not fusion.globals and not fusion.local_to_global
