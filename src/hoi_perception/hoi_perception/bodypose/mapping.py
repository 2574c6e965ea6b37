"""BlazePose (33 landmarks) -> BodyPose3DNet 34-joint skeleton.

The table is documented in docs/skeleton.md; keep both in sync (a test
checks every joint appears there). Direct joints copy one landmark;
derived joints are computed from several and flagged ``derived=True``.
The same formulas run on 2D pixels and on 3D metres, so both stay
consistent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

# BlazePose GHUM 33 landmark names, in model output order (mediapipe
# docs/solutions/pose.md "Pose landmark model"; mediapipe/python/solutions/pose.py PoseLandmark).
BLAZEPOSE_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
BP = {n: i for i, n in enumerate(BLAZEPOSE_LANDMARKS)}

# 34-joint name -> BlazePose landmark name, for joints with a counterpart.
DIRECT: dict[str, str] = {
    "left_hip": "left_hip", "right_hip": "right_hip", "left_knee": "left_knee", "right_knee": "right_knee",
    "left_ankle": "left_ankle", "right_ankle": "right_ankle",
    "left_big_toe": "left_foot_index", "right_big_toe": "right_foot_index",
    "left_heel": "left_heel", "right_heel": "right_heel",
    "nose": "nose", "left_eye": "left_eye", "right_eye": "right_eye", "left_ear": "left_ear", "right_ear": "right_ear",
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow", "left_wrist": "left_wrist", "right_wrist": "right_wrist",
    "left_pinky_knuckle": "left_pinky", "right_pinky_knuckle": "right_pinky",
    "left_index_knuckle": "left_index", "right_index_knuckle": "right_index",
    "left_thumb_tip": "left_thumb", "right_thumb_tip": "right_thumb",
}
DERIVED_JOINTS: tuple[str, ...] = tuple(n for n in JOINT_NAMES if n not in DIRECT)

# Middle finger tip beyond the knuckle midpoint, as a multiple of the wrist ->
# knuckle-midpoint distance: middle finger (MCP to tip, ~8-9 cm) is about as
# long as the palm (~9-10 cm) for adults, hence 1.9 from the wrist.
MIDDLE_TIP_FROM_WRIST = 1.9
# Small toe: 80% of the way from heel to big toe, and a third of the foot
# length towards the outside of the foot (the person's left for the left foot).
SMALL_TOE_ALONG = 0.8
SMALL_TOE_LATERAL = 0.33


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def map_to_bodypose34(points33: NDArray[np.float64], conf33: NDArray[np.float64]
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """(33, D) points (D = 2 pixels or 3 metres) and (33,) confidence ->
    (34, D) joints, (34,) confidence, (34,) derived flags.

    A derived joint's confidence is the minimum of its sources'.
    """
    p = np.asarray(points33, dtype=np.float64)
    c = np.asarray(conf33, dtype=np.float64)
    out = np.zeros((NUM_JOINTS, p.shape[1]))
    conf = np.zeros(NUM_JOINTS)
    derived = np.zeros(NUM_JOINTS, dtype=bool)
    for name, src in DIRECT.items():
        out[JOINT_INDEX[name]] = p[BP[src]]
        conf[JOINT_INDEX[name]] = c[BP[src]]

    def put(name: str, value: NDArray[np.float64], sources: list[str]) -> None:
        j = JOINT_INDEX[name]
        out[j] = value
        conf[j] = min(c[BP[s]] for s in sources)
        derived[j] = True

    hips = ["left_hip", "right_hip"]
    shoulders = ["left_shoulder", "right_shoulder"]
    pelvis = 0.5 * (p[BP["left_hip"]] + p[BP["right_hip"]])
    neck = 0.5 * (p[BP["left_shoulder"]] + p[BP["right_shoulder"]])
    put("pelvis", pelvis, hips)
    put("neck", neck, shoulders)
    # BodyPose3DNet's mean limb lengths put the torso joint halfway between
    # pelvis and neck (pelvis-torso = torso-neck = 246.3 mm, pelvis-neck 492.7 mm)
    put("torso", 0.5 * (pelvis + neck), hips + shoulders)
    left_dir = _unit(p[BP["left_hip"]] - p[BP["right_hip"]])  # towards the person's left
    for side, outward in (("left", left_dir), ("right", -left_dir)):
        wrist = p[BP[f"{side}_wrist"]]
        knuckles = 0.5 * (p[BP[f"{side}_index"]] + p[BP[f"{side}_pinky"]])
        put(f"{side}_middle_tip", wrist + MIDDLE_TIP_FROM_WRIST * (knuckles - wrist),
            [f"{side}_wrist", f"{side}_index", f"{side}_pinky"])
        heel, toe = p[BP[f"{side}_heel"]], p[BP[f"{side}_foot_index"]]
        foot = toe - heel
        flen = np.linalg.norm(foot)
        lateral = outward - _unit(foot) * float(outward @ _unit(foot))  # outward, orthogonal to the foot
        put(f"{side}_small_toe", heel + SMALL_TOE_ALONG * foot + SMALL_TOE_LATERAL * flen * _unit(lateral),
            [f"{side}_heel", f"{side}_foot_index", "left_hip", "right_hip"])
    assert not (set(DERIVED_JOINTS) ^ {JOINT_NAMES[i] for i in np.flatnonzero(derived)})
    return out, conf, derived
