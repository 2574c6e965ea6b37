"""OV <-> BEV box conventions and the anchor encoding (see docs/sparse4d_conventions.md).

OV ("Omniverse" world, the AI City / MTMC_Tracking_2025 ground truth and the
model's boxes_3d output, card: "converted back to OV world coordinates"):
  x, y, z   box centroid in the world frame, metres, z up (our ``world`` frame);
  w, l, h   extents along the object's local x, y, z axes;
  yaw       the third Euler component of "3d bounding box rotation" [pitch, roll, yaw];
            the box's local x axis points along (cos yaw, sin yaw) in the world.
BEV (OVPKL gt_boxes and the anchors/cached state inside the network):
  [x - ox, y - oy, z, w, l, h, -yaw]: the TAO data service negates the yaw
  (``rots = - anno["3d bounding box rotation"][2]``) and, with group recentering,
  subtracts the BEV group origin (ox, oy) from x, y. NVIDIA's HOTA evaluation
  negates the pkl yaw again to compare with the model output, which confirms that
  boxes_3d are OV and the pkl boxes are BEV.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hoi_perception.sparse4d.constants import ANCHOR_DIM, BOX_DIM, COS_YAW, SIN_YAW, VX, VZ, H, W, X, Z

# Sizes below this are clamped before the log so a degenerate box cannot make -inf anchors.
_MIN_SIZE = 1e-3


def wrap_angle(a: ArrayLike) -> NDArray[np.float64]:
    """Angle(s) wrapped to [-pi, pi)."""
    a = np.asarray(a, dtype=np.float64)
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def ov_to_bev_boxes(boxes: ArrayLike, origin_xy: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
    """OV boxes (..., >=7) [x y z w l h yaw (v...)] -> BEV (yaw negated, recentred)."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    b[..., 0] -= origin_xy[0]
    b[..., 1] -= origin_xy[1]
    b[..., 6] = wrap_angle(-b[..., 6])
    return b


def bev_to_ov_boxes(boxes: ArrayLike, origin_xy: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
    """Inverse of :func:`ov_to_bev_boxes`."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    b[..., 0] += origin_xy[0]
    b[..., 1] += origin_xy[1]
    b[..., 6] = wrap_angle(-b[..., 6])
    return b


def encode_anchors(boxes_bev: ArrayLike, out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """BEV boxes (N, 10) [x y z w l h yaw vx vy vz] -> anchors (N, 11) with log sizes and sin/cos yaw.

    Inverse of the Sparse4D decoder's decode_box (exp of sizes, atan2(sin, cos)).
    """
    b = np.asarray(boxes_bev, dtype=np.float64).reshape(-1, BOX_DIM)
    if out is None:
        out = np.empty((b.shape[0], ANCHOR_DIM), dtype=np.float32)
    out[:, X : Z + 1] = b[:, 0:3]
    out[:, W : H + 1] = np.log(np.maximum(b[:, 3:6], _MIN_SIZE))
    out[:, SIN_YAW] = np.sin(b[:, 6])
    out[:, COS_YAW] = np.cos(b[:, 6])
    out[:, VX : VZ + 1] = b[:, 7:10]
    return out


def decode_anchors(anchors: ArrayLike) -> NDArray[np.float64]:
    """Anchors (N, 11) -> BEV boxes (N, 10) [x y z w l h yaw vx vy vz]."""
    a = np.asarray(anchors, dtype=np.float64).reshape(-1, ANCHOR_DIM)
    out = np.empty((a.shape[0], BOX_DIM))
    out[:, 0:3] = a[:, X : Z + 1]
    out[:, 3:6] = np.exp(a[:, W : H + 1])
    out[:, 6] = np.arctan2(a[:, SIN_YAW], a[:, COS_YAW])
    out[:, 7:10] = a[:, VX : VZ + 1]
    return out


def box_corners_ov(boxes: ArrayLike) -> NDArray[np.float64]:
    """OV boxes (N, >=7) -> world corners (N, 8, 3): geometry.box3d.box_corners
    (4 bottom then 4 top, counter-clockwise seen from +z)."""
    from hoi_perception.geometry.box3d import box_corners

    return box_corners(boxes)


class ModelFrame:
    """The one place that maps between the OV world and the frame the network works in (the "model frame").

    The model frame is the BEV frame of the group: OV with the group origin subtracted from x, y and the
    yaw negated (TAO data service: ``rots = -anno["3d bounding box rotation"][2]``, group recentering).
    Everything the network reads or writes lives in it:

    * ``input_cached_anchor`` / ``output_cached_anchor``: TAO's exported graph concatenates the cached
      anchors with its own (nvidia_tao_pytorch/cv/sparse4d/utils/onnx_export.py memorybank_update), so
      the engine's cached output goes back in unchanged;
    * ``boxes_3d``: TAO's decoder (model/detection3d/decoder.py decode_box) only exponentiates the sizes
      and takes atan2(sin, cos) of the anchors; it changes no frame (contract boxes_3d.conventions.frame);
    * ``projection_mat``: maps model-frame points to pixels, so it includes world_from_model.

    Used by the instance bank (both cache paths), the decoding to tracks, the pre-processing's projection
    matrices and the stand-in.
    """

    def __init__(self, origin_xy: tuple[float, float] = (0.0, 0.0)) -> None:
        self.origin_xy = (float(origin_xy[0]), float(origin_xy[1]))

    def __repr__(self) -> str:
        return f"ModelFrame(origin_xy={self.origin_xy})"

    def boxes_to_ov(self, boxes_model: ArrayLike) -> NDArray[np.float64]:
        """Model-frame boxes (..., >=7) -> OV world boxes."""
        return bev_to_ov_boxes(boxes_model, self.origin_xy)

    def boxes_from_ov(self, boxes_ov: ArrayLike) -> NDArray[np.float64]:
        """OV world boxes (..., >=7) -> model-frame boxes."""
        return ov_to_bev_boxes(boxes_ov, self.origin_xy)

    def anchors_from_ov(self, boxes_ov: ArrayLike) -> NDArray[np.float32]:
        """OV boxes (N, 10) -> model-frame anchors (N, 11)."""
        return encode_anchors(self.boxes_from_ov(np.asarray(boxes_ov, dtype=np.float64).reshape(-1, BOX_DIM)))

    def anchors_to_ov(self, anchors: ArrayLike) -> NDArray[np.float64]:
        """Model-frame anchors (N, 11) -> OV boxes (N, 10)."""
        return self.boxes_to_ov(decode_anchors(anchors))

    def world_from_model(self) -> NDArray[np.float64]:
        """4x4 homogeneous transform of model-frame points to OV world points (translation by the origin)."""
        t = np.eye(4)
        t[0, 3], t[1, 3] = self.origin_xy
        return t
