"""Core types shared by every body pose backend.

Every backend returns ``PoseResult`` on the 34-joint BodyPose3DNet skeleton
(``hoi_perception.skeleton.bodypose34``), metres, in the camera's optical
frame (x right, y down, z forward), so consumers never care which one ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import NUM_JOINTS


@dataclass
class PersonBox:
    """A person box in image pixels (x0, y0, x1, y1), from any box source.

    ``track_id`` is set when the source already tracks people (Sparse4D);
    ``keypoints`` carries the BlazePose detector's 4 alignment keypoints
    (pixels, (4, 2)) so the landmark stage can build its rotated ROI.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    track_id: int | None = None
    source: str = "external"
    keypoints: NDArray[np.float64] | None = None

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (float(self.x0), float(self.y0), float(self.x1), float(self.y1))

    @property
    def width(self) -> float:
        return float(self.x1 - self.x0)

    @property
    def height(self) -> float:
        return float(self.y1 - self.y0)

    def is_valid(self) -> bool:
        vals = np.array(self.xyxy)
        return bool(np.all(np.isfinite(vals)) and self.width > 1.0 and self.height > 1.0)


@dataclass
class PoseResult:
    """One person's pose.

    joints_cam: (34, 3) metres in the camera optical frame.
    confidence: (34,) in [0, 1].
    derived:    (34,) bool, True where the joint was computed from others
                (BlazePose has no pelvis, torso, neck, ...; docs/skeleton.md).
    joints_2d:  (34, 2) pixels in the original image (u right, v down).
    box:        (x0, y0, x1, y1) pixels of the person box the pose came from.
    depth_used: True when the metric scale was corrected with the depth image.
    source:     backend description, e.g. "blazepose_ghum_full:litert" or
                "bodypose3dnet:onnxruntime:CPUExecutionProvider"; starts with
                "stand-in:" when an engine stand-in produced it.
    """

    joints_cam: NDArray[np.float64]
    confidence: NDArray[np.float64]
    derived: NDArray[np.bool_]
    joints_2d: NDArray[np.float64]
    box: tuple[float, float, float, float]
    score: float
    depth_used: bool
    source: str
    track_id: int | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.joints_cam.shape == (NUM_JOINTS, 3), self.joints_cam.shape
        assert self.joints_2d.shape == (NUM_JOINTS, 2), self.joints_2d.shape
        assert self.confidence.shape == (NUM_JOINTS,)
        assert self.derived.shape == (NUM_JOINTS,)

    @property
    def root(self) -> NDArray[np.float64]:
        """Pelvis position (the ``human_<id>`` TF frame origin)."""
        return self.joints_cam[0]


@runtime_checkable
class PoseEstimator(Protocol):
    """What the body pose node calls, whichever backend is configured."""

    backend_name: str

    def estimate(
        self,
        rgb: NDArray[np.uint8],
        k: NDArray[np.float64],
        depth: NDArray[np.float32] | None = None,
        boxes: list[PersonBox] | None = None,
    ) -> list[PoseResult]:
        """rgb (H, W, 3) uint8 RGB; k 3x3 intrinsics of that image; depth (H', W')
        metres registered to rgb (NaN/0 = none) or None; boxes to use instead of
        the estimator's own box source, or None."""
        ...


@runtime_checkable
class BoxSource(Protocol):
    """Pluggable source of person boxes."""

    name: str

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64]) -> list[PersonBox]:
        ...


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pairwise IoU of boxes (N, 4) and (M, 4) in xyxy."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
