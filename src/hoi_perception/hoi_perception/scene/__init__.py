"""Synthetic human-object interaction scene: the stack's test data and sample-bag source.

Numpy/OpenCV only, deterministic by seed. See synthetic.py for actors, track
ids, box convention (OV world: w along the object's x, l along y, h along z,
yaw about world +z, centre at the centroid) and visibility rules.
"""

from hoi_perception.scene.ground_truth import (
    MTMC_CLASSES,
    Box3D,
    FrameGroundTruth,
    HandContact,
    ObjectState,
)
from hoi_perception.scene.raycast import RenderedView
from hoi_perception.scene.synthetic import HUMAN_TRACK_ID, SceneConfig, SyntheticScene

__all__ = [
    "HUMAN_TRACK_ID",
    "MTMC_CLASSES",
    "Box3D",
    "FrameGroundTruth",
    "HandContact",
    "ObjectState",
    "RenderedView",
    "SceneConfig",
    "SyntheticScene",
]
