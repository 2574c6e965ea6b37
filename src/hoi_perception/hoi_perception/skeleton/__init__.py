"""Skeleton definitions shared by every body-pose backend."""

from hoi_perception.skeleton.bodypose34 import (
    BONES,
    JOINT_INDEX,
    JOINT_NAMES,
    NUM_JOINTS,
    SKELETON_NAME,
    mirror_indices,
)

__all__ = ["BONES", "JOINT_INDEX", "JOINT_NAMES", "NUM_JOINTS", "SKELETON_NAME", "mirror_indices"]
