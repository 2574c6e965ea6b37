"""33 -> 34 joint mapping and its documentation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hoi_perception.bodypose.mapping import BLAZEPOSE_LANDMARKS, BP, DERIVED_JOINTS, DIRECT, map_to_bodypose34
from hoi_perception.bodypose.standin import standing_skeleton
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "skeleton.md"


def _blazepose_from_34(j34: np.ndarray) -> np.ndarray:
    """Fake 33 landmarks from a 34-joint skeleton (inverse of the direct part)."""
    p = np.zeros((33, j34.shape[1]))
    for name, src in DIRECT.items():
        p[BP[src]] = j34[JOINT_INDEX[name]]
    return p


def test_every_joint_is_direct_or_derived_once() -> None:
    assert len(BLAZEPOSE_LANDMARKS) == 33
    assert set(DIRECT) | set(DERIVED_JOINTS) == set(JOINT_NAMES)
    assert not set(DIRECT) & set(DERIVED_JOINTS)
    assert set(DERIVED_JOINTS) == {"pelvis", "torso", "neck", "left_small_toe", "right_small_toe",
                                   "left_middle_tip", "right_middle_tip"}
    # left maps to left, right to right
    for name, src in DIRECT.items():
        for side in ("left", "right"):
            assert name.startswith(side) == src.startswith(side)


def test_doc_table_lists_all_34_in_order() -> None:
    rows = re.findall(r"^\| (\d+) \| (\w+) \| .* \| (direct|derived)", DOC.read_text(), flags=re.M)
    assert [int(r[0]) for r in rows] == list(range(NUM_JOINTS))
    assert [r[1] for r in rows] == list(JOINT_NAMES)
    assert {r[1] for r in rows if r[2] == "derived"} == set(DERIVED_JOINTS)


def test_mapping_geometry_3d_and_2d() -> None:
    truth = standing_skeleton() + [0.0, 0.0, 3.0]
    conf33 = np.linspace(0.5, 1.0, 33)
    for pts in (truth, truth[:, :2] / truth[:, 2:] * 500 + 300):
        j, conf, derived = map_to_bodypose34(_blazepose_from_34(pts), conf33)
        assert j.shape == (NUM_JOINTS, pts.shape[1]) and derived.sum() == 7
        for name in DIRECT:
            np.testing.assert_allclose(j[JOINT_INDEX[name]], pts[JOINT_INDEX[name]])
        lh, rh, ls, rs = (pts[JOINT_INDEX[n]] for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder"))
        np.testing.assert_allclose(j[JOINT_INDEX["pelvis"]], (lh + rh) / 2)
        np.testing.assert_allclose(j[JOINT_INDEX["neck"]], (ls + rs) / 2)
        np.testing.assert_allclose(j[JOINT_INDEX["torso"]], (lh + rh + ls + rs) / 4)
        assert conf[JOINT_INDEX["pelvis"]] == min(conf33[BP["left_hip"]], conf33[BP["right_hip"]])
        # the small toe is on the outside of each foot; middle tip beyond the knuckles
        assert j[JOINT_INDEX["left_small_toe"], 0] > j[JOINT_INDEX["left_big_toe"], 0]
        assert j[JOINT_INDEX["right_small_toe"], 0] < j[JOINT_INDEX["right_big_toe"], 0]
        assert j[JOINT_INDEX["left_middle_tip"], 1] > j[JOINT_INDEX["left_index_knuckle"], 1]


def test_mapping_is_translation_equivariant() -> None:
    # so world landmarks can be placed before or after mapping
    p = _blazepose_from_34(standing_skeleton())
    a, _, _ = map_to_bodypose34(p, np.ones(33))
    b, _, _ = map_to_bodypose34(p + [1.0, -2.0, 3.0], np.ones(33))
    np.testing.assert_allclose(b - a, np.tile([1.0, -2.0, 3.0], (NUM_JOINTS, 1)), atol=1e-12)
