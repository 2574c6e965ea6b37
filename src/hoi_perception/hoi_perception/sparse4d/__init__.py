"""Sparse4D core: pre-processing, host instance bank, decoding, OV<->BEV conventions,
camera groups and fusion, and the noisy-ground-truth engine stand-in. No ROS."""

from hoi_perception.sparse4d.constants import CLASS_NAMES, canonical_class_name
from hoi_perception.sparse4d.decode import Track3D, decode_tracks
from hoi_perception.sparse4d.fusion import FusedTrack, TrackFusion
from hoi_perception.sparse4d.groups import CameraGroup, CameraGroupsConfig, FusionParams, load_camera_groups
from hoi_perception.sparse4d.instance_bank import HostInstanceBank, InstanceBankParams
from hoi_perception.sparse4d.preprocess import Sparse4DPreprocessor, projection_matrix
from hoi_perception.sparse4d.standin import GtBox, Sparse4DStandIn, StandInParams
from hoi_perception.sparse4d.tracker import Sparse4DParams, Sparse4DTracker, StepResult, StepTiming

__all__ = [
    "CLASS_NAMES",
    "CameraGroup",
    "CameraGroupsConfig",
    "FusedTrack",
    "FusionParams",
    "GtBox",
    "HostInstanceBank",
    "InstanceBankParams",
    "Sparse4DParams",
    "Sparse4DPreprocessor",
    "Sparse4DStandIn",
    "Sparse4DTracker",
    "StandInParams",
    "StepResult",
    "StepTiming",
    "Track3D",
    "TrackFusion",
    "canonical_class_name",
    "decode_tracks",
    "load_camera_groups",
    "projection_matrix",
]
