"""Body pose: BodyPose3DNet adapter on the engine layer, BlazePose GHUM on CPU,
33->34 joint mapping, depth correction, person box sources, human tracking.

ROS-free. Every backend returns ``PoseResult`` on the 34-joint skeleton in
metres in the camera optical frame. Heavy imports (cv2, litert) load lazily.
"""

from __future__ import annotations

from typing import Any

from hoi_perception.bodypose.types import BoxSource, PersonBox, PoseEstimator, PoseResult

__all__ = [
    "BlazePoseDetector", "BlazePoseEstimator", "BodyPose3DNetEstimator", "BoxSource", "ExternalBoxSource",
    "EmptyStreak", "HogPersonDetector", "HumanTracker", "PosePipeline", "PosePipelineConfig", "Preprocessor",
    "UnionBoxSource", "make_box_source", "make_pose_pipeline", "PersonBox", "PoseEstimator", "PoseResult", "ProjectedTrackBoxSource",
    "StandInBodyPose3DNetEngine", "Track3D", "correct_scale_with_depth", "map_to_bodypose34",
]

_LAZY = {
    "BlazePoseDetector": "blazepose_detector", "BlazePoseEstimator": "blazepose", "BodyPose3DNetEstimator": "bodypose3dnet",
    "ExternalBoxSource": "boxes", "ProjectedTrackBoxSource": "boxes", "Track3D": "boxes",
    "HumanTracker": "tracking", "StandInBodyPose3DNetEngine": "standin", "correct_scale_with_depth": "depth",
    "map_to_bodypose34": "mapping", "HogPersonDetector": "hog_detector", "Preprocessor": "bodypose3dnet",
    "UnionBoxSource": "box_sources", "make_box_source": "box_sources", "make_pose_pipeline": "box_sources",
    "PosePipeline": "box_sources", "PosePipelineConfig": "box_sources", "EmptyStreak": "box_sources",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"hoi_perception.bodypose.{_LAZY[name]}"), name)
    raise AttributeError(name)
