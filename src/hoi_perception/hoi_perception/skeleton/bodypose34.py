"""The 34-joint skeleton of NVIDIA BodyPose3DNet.

Joint order is the one of the BodyPose3DNet model card (TAO, NGC
``nvidia/tao/bodypose3dnet``), output tensors ``pose2d``/``pose25d``/
``pose3d`` index joints in this order. Every pose the stack publishes uses
it, whichever backend produced it (hoi_msgs/HumanPose3D.skeleton =
``SKELETON_NAME``).
"""

from __future__ import annotations

SKELETON_NAME = "bodypose3dnet_34"

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "torso", "left_knee", "right_knee",
    "neck", "left_ankle", "right_ankle", "left_big_toe", "right_big_toe",
    "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky_knuckle", "right_pinky_knuckle",
    "left_middle_tip", "right_middle_tip", "left_index_knuckle",
    "right_index_knuckle", "left_thumb_tip", "right_thumb_tip",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}


def _b(a: str, b: str) -> tuple[int, int]:
    return JOINT_INDEX[a], JOINT_INDEX[b]


# Kinematic tree as (parent, child) pairs, used for drawing, synthetic
# animation and limb-length checks. Rooted at the pelvis.
BONES: tuple[tuple[int, int], ...] = (
    _b("pelvis", "left_hip"), _b("pelvis", "right_hip"), _b("pelvis", "torso"),
    _b("torso", "neck"), _b("neck", "nose"), _b("nose", "left_eye"),
    _b("nose", "right_eye"), _b("left_eye", "left_ear"), _b("right_eye", "right_ear"),
    _b("neck", "left_shoulder"), _b("neck", "right_shoulder"),
    _b("left_shoulder", "left_elbow"), _b("right_shoulder", "right_elbow"),
    _b("left_elbow", "left_wrist"), _b("right_elbow", "right_wrist"),
    _b("left_wrist", "left_pinky_knuckle"), _b("right_wrist", "right_pinky_knuckle"),
    _b("left_wrist", "left_middle_tip"), _b("right_wrist", "right_middle_tip"),
    _b("left_wrist", "left_index_knuckle"), _b("right_wrist", "right_index_knuckle"),
    _b("left_wrist", "left_thumb_tip"), _b("right_wrist", "right_thumb_tip"),
    _b("left_hip", "left_knee"), _b("right_hip", "right_knee"),
    _b("left_knee", "left_ankle"), _b("right_knee", "right_ankle"),
    _b("left_ankle", "left_heel"), _b("right_ankle", "right_heel"),
    _b("left_ankle", "left_big_toe"), _b("right_ankle", "right_big_toe"),
    _b("left_ankle", "left_small_toe"), _b("right_ankle", "right_small_toe"),
)


def mirror_indices() -> list[int]:
    """Index permutation that swaps left and right joints (for flip tests)."""
    out = []
    for name in JOINT_NAMES:
        if name.startswith("left_"):
            out.append(JOINT_INDEX["right_" + name[5:]])
        elif name.startswith("right_"):
            out.append(JOINT_INDEX["left_" + name[6:]])
        else:
            out.append(JOINT_INDEX[name])
    return out
