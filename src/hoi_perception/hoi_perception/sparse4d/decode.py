"""Decoding of the Sparse4D outputs to world-frame tracked objects.

boxes_3d are in the model frame (what TAO's decoder emits: nvidia_tao_pytorch/cv/sparse4d/model/
detection3d/decoder.py decode_box only exponentiates sizes and takes atan2 of the anchors); they are
converted to the OV world (our ``world`` frame: z up, metres, yaw = heading about +z) by
conventions.ModelFrame, the same module the instance bank and the projection matrices use
(docs/sparse4d_conventions.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.rotations import yaw_to_quat
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import ModelFrame


@dataclass
class Track3D:
    """One tracked object in the world frame (OV box convention)."""

    track_id: int
    class_id: int
    class_name: str
    score: float
    position: NDArray[np.float64]  # x, y, z of the box centroid (m)
    size: NDArray[np.float64]  # w, l, h (m) along the object's x, y, z
    yaw: float  # rad about world +z
    velocity: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    stamp_ns: int = 0
    source: str = ""

    @property
    def quaternion_xyzw(self) -> NDArray[np.float64]:
        return yaw_to_quat(self.yaw)

    def box(self) -> NDArray[np.float64]:
        """[x, y, z, w, l, h, yaw]."""
        return np.concatenate([self.position, self.size, [self.yaw]])


def class_thresholds(
    class_names: Sequence[str], per_class: Mapping[str, float] | None, default: float
) -> NDArray[np.float32]:
    """Per-label cls score threshold array; unknown names in ``per_class`` raise."""
    th = np.full(len(class_names), default, dtype=np.float32)
    for name, value in (per_class or {}).items():
        if name not in class_names:
            raise ValueError(f"threshold for unknown class {name!r}; classes: {list(class_names)}")
        th[list(class_names).index(name)] = float(value)
    return th


def decode_tracks(
    outputs: Mapping[str, NDArray],
    track_ids: NDArray[np.int64],
    thresholds: NDArray[np.float32],
    class_names: Sequence[str] = C.CLASS_NAMES,
    stamp_ns: int = 0,
    source: str = "",
    frame: ModelFrame | None = None,
) -> list[Track3D]:
    """Rows with a track id, a known label and cls score >= its class threshold -> Track3D (OV world), best first."""
    boxes = (frame or ModelFrame()).boxes_to_ov(np.asarray(outputs["boxes_3d"], dtype=np.float64).reshape(-1, C.BOX_DIM))
    m = boxes.shape[0]
    labels = np.asarray(outputs["labels_3d"]).reshape(-1)[:m].astype(np.int64)
    cls = np.asarray(outputs["cls_scores"], dtype=np.float32).reshape(-1)[:m]
    scores = np.asarray(outputs.get("scores_3d", cls), dtype=np.float32).reshape(-1)[:m]
    valid = (labels >= 0) & (labels < len(class_names)) & (track_ids >= 0) & np.isfinite(boxes).all(axis=1)
    lab = np.clip(labels, 0, len(class_names) - 1)
    valid &= cls >= thresholds[lab]
    rows = np.flatnonzero(valid)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    out = []
    for r in rows:
        b = boxes[r]
        out.append(
            Track3D(
                track_id=int(track_ids[r]),
                class_id=int(labels[r]),
                class_name=class_names[labels[r]],
                score=float(scores[r]),
                position=b[0:3].copy(),
                size=b[3:6].copy(),
                yaw=float(b[6]),
                velocity=b[7:10].copy(),
                stamp_ns=stamp_ns,
                source=source,
            )
        )
    return out
