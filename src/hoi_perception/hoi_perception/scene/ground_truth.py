"""Ground-truth types of the synthetic scene.

3D boxes are geometry.box3d.Box3D, in the OV world convention of the TAO
Sparse4D model card (docs/frames.md); their velocity is the time derivative of
the box centre, so a person's reaching arms move it too.
The card words yaw as a rotation "about the y-axis of the object-centered
coordinate system"; with pitch and roll zero and z up, a heading can only be
a rotation about the vertical, i.e. world +z, as docs/frames.md fixes.
Objects' frames: x forward (vehicles drive along +x; the carried box's x is
the carrier's forward), y left, z up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.box3d import Box3D  # noqa: F401 - the scene's box type, re-exported

# Classes Sparse4D (MTMC Tracking 2025) was trained on; everything else in the scene is scenery.
MTMC_CLASSES: tuple[str, ...] = (
    "Person", "Fourier_GR1_T2_Humanoid", "Agility_Digit_Humanoid", "Nova_Carter", "Transporter", "Forklift",
)
# Non-MTMC classes of this scene.
BOX_CLASS = "Box"          # the carried cardboard box
BIN_CLASS = "Bin"          # the cylinder
TABLE_CLASS = "Table"


@dataclass
class ObjectState:
    """A rigid object: mesh (object frame, origin at the centroid) and its pose."""

    track_id: int
    name: str
    world_from_object: NDArray[np.float64]
    vertices: NDArray[np.float64]
    faces: NDArray[np.int64]

    def vertices_world(self) -> NDArray[np.float64]:
        t = self.world_from_object
        return self.vertices @ t[:3, :3].T + t[:3, 3]


class HandContact(NamedTuple):
    left: bool
    right: bool


@dataclass
class FrameGroundTruth:
    """Everything known about one frame.

    joints_world: (34, 3) BodyPose3DNet joints of the interacting human
    (track ``human_track_id``); joint_visibility[camera]: (34,) bool, in the
    image and not occluded (see SyntheticScene for the rule);
    world_from_pelvis: 4x4 root pose; objects: rigid objects with meshes;
    hand_contact: per-hand grasp labels; grasped_object_id: the object held
    (None when neither hand grasps); body_contact_vertices: indices into
    ``body_vertices_world`` near the grasped object's surface;
    object_contact_vertices: indices into the grasped object's ``vertices``
    near the hands; boxes: every actor and object (``mtmc_boxes()`` keeps the
    MTMC classes); other_humans: joints (34, 3) of the other walking
    skeletons (second person, humanoid) by track id.
    """

    frame_index: int
    time_s: float
    human_track_id: int
    joints_world: NDArray[np.float64]
    joint_visibility: dict[str, NDArray[np.bool_]]
    world_from_pelvis: NDArray[np.float64]
    body_vertices_world: NDArray[np.float64]
    objects: list[ObjectState]
    hand_contact: HandContact
    grasped_object_id: int | None
    body_contact_vertices: NDArray[np.int64]
    object_contact_vertices: NDArray[np.int64]
    boxes: list[Box3D]
    other_humans: dict[int, NDArray[np.float64]] = field(default_factory=dict)

    def mtmc_boxes(self) -> list[Box3D]:
        return [b for b in self.boxes if b.class_name in MTMC_CLASSES]

    def box(self, track_id: int) -> Box3D:
        return next(b for b in self.boxes if b.track_id == track_id)

    def object(self, track_id: int) -> ObjectState:
        return next(o for o in self.objects if o.track_id == track_id)
