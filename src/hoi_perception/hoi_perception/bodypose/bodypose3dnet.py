"""NVIDIA TAO BodyPose3DNet on the engine layer: pre- and post-processing.

Tensor contract: /work/shared/seeds/002_* (model card) and
``load_contract("bodypose3dnet")``: inputs ``input0`` Nx3x256x192, ``k_inv``
Nx3x3, ``t_form_inv`` Nx3x3, ``scale_normalized_mean_limb_lengths`` Nx36,
``mean_limb_lengths`` Nx36; outputs ``pose2d`` Nx34x3 (crop pixels, conf),
``pose2d_org_img`` Nx34x3, ``pose25d`` Nx34x4 (crop pixels, zRel, conf),
``pose3d`` Nx34x3 (camera frame, millimetres).

Conventions are those of NVIDIA's reference application
(github NVIDIA-AI-IOT/deepstream_reference_apps, deepstream-bodypose-3d, read at
commit 9946965e; the copy under deepstream_tao_apps/apps/tao_others/
deepstream-pose-classification has the same constants), cited as [DS]:

* crop [DS sources/deepstream_pose_estimation_app.cpp, pgie_src_pad_buffer_probe]:
  the frame is padded by PAD_DIM=128 px (scaled by width/1280) on every side
  (nvvideoconvert_enlarge, black); in that padded frame the person box is
  enlarged 1.25x about its centre, made square on its long side, rounded,
  enlarged to the 192:256 aspect, rounded again (roundf), and clipped to
  [0, padded size - 1]; a clipped crop is stretched to 192x256
  (maintain-aspect-ratio=0). ``deepstream_crop_rects`` does exactly this;
* crop pixel convention [DS sgie_src_pad_buffer_probe]: pose25d x, y map to the
  image as ``x * width / 192 + left`` (and ``- PAD_DIM``): a scale from the
  crop's corner, no half-pixel shift. ``CropGeometry.a_dec`` is that map
  (decoding, ``t_form_inv``); the warp itself samples pixel centres
  (``CropGeometry.a``), as a bilinear scaler does;
* pixels [DS configs/config_infer_secondary_bodypose3dnet.txt]:
  ``model-color-format=1`` (BGR), ``net-scale-factor=0.00392156`` (1/255),
  no mean, NCHW, ``maintain-aspect-ratio=0`` (no distortion since the crop
  already has the input aspect);
* ``k_inv`` is the inverse camera matrix *of the crop* [DS sources/
  nvdsinfer_custom_impl_BodyPose3DNet/nvdsinitinputlayers_BodyPose3DNet.cpp:
  k_inv = inv([[800.79, 0, 96], [0, 800.79, 128], [0, 0, 1]]), i.e. the default
  focal length FOCAL_LENGTH=800.79041 px with the principal point at the
  centre of the 192x256 crop]; here K_crop = A @ K with A the image->crop
  pixel map, and ``t_form_inv`` = inv(A) maps crop pixels back to the image
  (identity in [DS], where nvinfer does the crop itself);
* limb lengths: the two 36-vectors of [DS nvdsinitinputlayers_BodyPose3DNet.cpp]
  (also ``m_scale_ll``/``m_mean_ll`` in the app); their non-zero entries,
  in order, belong to the 17 (joint, parent) pairs ``idx0``/``idx1`` of the
  app's ``liftKeypoints25DTo3D``/``recoverScale``; scale-normalised units make
  pelvis-neck = 1, mean lengths are millimetres (pelvis-neck 492.7 mm);
* outputs [DS README.md "bodypose_3dbp.json"]: pose25d = [x, y, zRel, conf]
  with zRel the depth relative to the root (pelvis). The README calls x, y,
  zRel "millimeters", but the app's liftKeypoints25DTo3D solves
  |P_n - P_m| = C with C the *scale-normalised* limb lengths (pelvis-neck = 1)
  and depth = zRel + zRoot, so zRel is in scale-normalised units; only
  recoverScale turns the result into millimetres. pose3d "x, y, z are the
  keypoint's 3D position in the world coordinate whose origin is the camera
  ... in millimeters" - the camera frame with x right, y down, z forward (the
  app lifts with K^-1 [u, v, 1]), i.e. the ROS optical frame. We return metres.

Lift (issue 11 point 2). DeepStream never reads ``pose3d``: it maps pose25d
x, y to the image, lifts them with the full-image K (liftKeypoints25DTo3D)
and recovers the metric scale from the mean limb lengths (recoverScale).
That is the default here (``lift="pose25d"``): it does not depend on what the
network does with ``k_inv``/``t_form_inv``. ``lift="network"`` reads
``pose3d`` and feeds k_inv = inv(A_dec K), t_form_inv = inv(A_dec); whether the
network interprets them that way is unverified (DeepStream feeds a constant
k_inv = inv([[800.79, 0, 96], [0, 800.79, 128], [0, 0, 1]]) and identity
t_form_inv and never reads pose3d). scripts/check_bodypose3dnet_lift.py
compares both on one frame with the NGC model (docs/bodypose3dnet_lift.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.depth import correct_scale_with_depth
from hoi_perception.bodypose.types import BoxSource, PersonBox, PoseResult
from hoi_perception.filtering.one_euro import DS_KEYPOINT_XY, DS_KEYPOINT_ZREL, DS_ROOT_DEPTH, OneEuroFilter
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, NUM_JOINTS

log = logging.getLogger(__name__)

INPUT_W, INPUT_H = 192, 256
BOX_ENLARGE = 1.25  # [DS] pgie_src_pad_buffer_probe: sizex *= 1.25f
PIXEL_SCALE = 0.00392156  # [DS] net-scale-factor
DS_FOCAL_LENGTH = 800.79041  # [DS] FOCAL_LENGTH, default --focal (pixels)
PAD_DIM = 128  # [DS] PAD_DIM: frame padding in pixels at the muxer width below, scaled with the frame width
DS_MUXER_WIDTH = 1280  # [DS] MUXER_OUTPUT_WIDTH; _pad_dim = PAD_DIM * width / MUXER_OUTPUT_WIDTH (int division)
LIFTS = ("pose25d", "network")
DEFAULT_LIFT = "pose25d"

# [DS] nvdsinitinputlayers_BodyPose3DNet.cpp, verbatim values.
SCALE_NORMALIZED_MEAN_LIMB_LENGTHS = np.array([
    0.5000, 0.5000, 1.0000, 0.8175, 0.9889, 0.2610, 0.7942, 0.5724, 0.5078,
    0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.3433, 0.8171,
    0.9912, 0.2610, 0.8259, 0.5724, 0.5078, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000, 0.0000, 0.0000, 0.3422, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000], dtype=np.float32)
MEAN_LIMB_LENGTHS_MM = np.array([
    246.3427, 246.3427, 492.6854, 402.4380, 487.0321, 128.6856, 391.6295,
    281.9928, 249.9478, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000, 0.0000, 169.1832, 402.2611, 488.1824, 128.6848, 407.5836,
    281.9897, 249.9489, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000, 0.0000, 168.6137, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000], dtype=np.float32)

# [DS] liftKeypoints25DTo3D / recoverScale: idx0 = {0,3,6,8,5,2,2,21,23,21,7,4,1,1,20,22,20},
# idx1 = {3,6,0,5,2,0,21,23,25,6,4,1,0,20,22,24,6}; written out by name.
LIMB_PAIRS: tuple[tuple[str, str], ...] = (
    ("pelvis", "torso"), ("torso", "neck"), ("neck", "pelvis"),
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
    ("right_hip", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_shoulder", "neck"),
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "pelvis"),
    ("left_hip", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_shoulder", "neck"),
)
LIMB_IDX0 = np.array([JOINT_INDEX[a] for a, _ in LIMB_PAIRS])
LIMB_IDX1 = np.array([JOINT_INDEX[b] for _, b in LIMB_PAIRS])
LIMB_LENGTH_NORM = SCALE_NORMALIZED_MEAN_LIMB_LENGTHS[SCALE_NORMALIZED_MEAN_LIMB_LENGTHS > 0].astype(np.float64)
LIMB_LENGTH_MM = MEAN_LIMB_LENGTHS_MM[MEAN_LIMB_LENGTHS_MM > 0].astype(np.float64)
assert len(LIMB_LENGTH_NORM) == len(LIMB_PAIRS) == len(LIMB_LENGTH_MM)


@dataclass
class CropGeometry:
    """One person's crop: ``a`` the image->crop map of the warp (3x3, pixel centres at integers on both
    sides), ``a_dec`` DeepStream's image->crop map of the keypoints (scale from the crop's corner), the
    crop's box (x0, y0, x1, y1) in the image, and the crop's intrinsics in the decoding convention."""

    a: NDArray[np.float64]
    box: tuple[float, float, float, float]
    a_dec: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if self.a_dec is None:
            self.a_dec = decode_map(np.asarray(self.box, dtype=np.float64)[None])[0]

    @property
    def t_form_inv(self) -> NDArray[np.float64]:
        assert self.a_dec is not None
        return np.linalg.inv(self.a_dec)

    def k_crop(self, k: NDArray[np.float64]) -> NDArray[np.float64]:
        assert self.a_dec is not None
        return self.a_dec @ np.asarray(k, dtype=np.float64)

    def k_inv(self, k: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.linalg.inv(self.k_crop(k))


def crop_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """[DS] box rule: 1.25x about the centre, square on the long side, then
    taller to 192:256. Returns the crop's (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    half = 0.5 * BOX_ENLARGE * max(x1 - x0, y1 - y0)
    hw, hh = half, half * INPUT_H / INPUT_W
    return (cx - hw, cy - hh, cx + hw, cy + hh)


def _roundf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """C roundf: halves away from zero (numpy's round is half-to-even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def deepstream_pad(image_w: int) -> int:
    """[DS] _pad_dim = PAD_DIM * width / MUXER_OUTPUT_WIDTH in C integer arithmetic."""
    return (PAD_DIM * int(image_w)) // DS_MUXER_WIDTH


def deepstream_crop_rects(boxes: NDArray[np.float64], image_wh: tuple[int, int]) -> NDArray[np.float64]:
    """Person boxes (N, 4) x0 y0 x1 y1 -> DeepStream's crop boxes (N, 4) x0 y0 x1 y1 in image pixels.

    [DS] pgie_src_pad_buffer_probe on the frame padded by ``deepstream_pad`` on every side: 1.25x about
    the centre, square on the long side, roundf, widen or heighten to 192:256, roundf, clip left/top to
    0 and right/bottom to padded size - 1. The crop may extend up to the pad past the image (black there)
    and a clipped crop no longer has the 192:256 aspect (it is stretched). float64 here, float32 in [DS].
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w_img, h_img = int(image_wh[0]), int(image_wh[1])
    pad = float(deepstream_pad(w_img))
    wp, hp = 2 * pad + w_img, 2 * pad + h_img
    sx, sy = (b[:, 2] - b[:, 0]) * 0.5, (b[:, 3] - b[:, 1]) * 0.5
    cx, cy = b[:, 0] + pad + sx, b[:, 1] + pad + sy
    half = np.maximum(sx, sy) * BOX_ENLARGE
    width, height = _roundf(2.0 * half), _roundf(2.0 * half)
    left, top = _roundf(cx - width / 2.0), _roundf(cy - height / 2.0)
    sx, sy = width * 0.5, height * 0.5
    cx, cy = left + sx, top + sy
    with np.errstate(divide="ignore", invalid="ignore"):
        x_scale, y_scale = INPUT_W / sx, INPUT_H / sy
        taller = x_scale < y_scale
        sy = np.where(taller, INPUT_H / x_scale, sy)
        sx = np.where(taller, sx, INPUT_W / y_scale)
    width, height = _roundf(2.0 * sx), _roundf(2.0 * sy)
    left, top = _roundf(cx - width / 2.0), _roundf(cy - height / 2.0)
    left, top = np.maximum(left, 0.0), np.maximum(top, 0.0)
    width = np.where(left + width > wp - 1, wp - 1 - left, width)
    height = np.where(top + height > hp - 1, hp - 1 - top, height)
    return np.stack([left - pad, top - pad, left - pad + width, top - pad + height], axis=1)


def decode_map(crop_boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """[DS] keypoint map image -> crop (N, 3, 3): u_c = (u - x0) * 192 / w, v_c = (v - y0) * 256 / h."""
    cb = np.asarray(crop_boxes, dtype=np.float64).reshape(-1, 4)
    sx, sy = INPUT_W / (cb[:, 2] - cb[:, 0]), INPUT_H / (cb[:, 3] - cb[:, 1])
    a = np.zeros((len(cb), 3, 3))
    a[:, 0, 0], a[:, 1, 1], a[:, 2, 2] = sx, sy, 1.0
    a[:, 0, 2], a[:, 1, 2] = -sx * cb[:, 0], -sy * cb[:, 1]
    return a


def warp_map(crop_boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Image -> crop map of the pixel warp (N, 3, 3), pixel centres at integers: continuous coordinates
    (pixel i covers [i, i+1)) map by s (x - x0), so u_c = s (u + 0.5 - x0) - 0.5."""
    cb = np.asarray(crop_boxes, dtype=np.float64).reshape(-1, 4)
    sx, sy = INPUT_W / (cb[:, 2] - cb[:, 0]), INPUT_H / (cb[:, 3] - cb[:, 1])
    a = np.zeros((len(cb), 3, 3))
    a[:, 0, 0], a[:, 1, 1], a[:, 2, 2] = sx, sy, 1.0
    a[:, 0, 2] = sx * (0.5 - cb[:, 0]) - 0.5
    a[:, 1, 2] = sy * (0.5 - cb[:, 1]) - 0.5
    return a


def crop_geometry(box: tuple[float, float, float, float], image_wh: tuple[int, int]) -> CropGeometry:
    cb = deepstream_crop_rects(np.asarray(box, dtype=np.float64)[None], image_wh)
    return CropGeometry(a=warp_map(cb)[0], box=tuple(float(v) for v in cb[0]), a_dec=decode_map(cb)[0])  # type: ignore[arg-type]


def preprocess_reference(rgb: NDArray[np.uint8], k: NDArray[np.float64],
                         boxes: list[tuple[float, float, float, float]]
                         ) -> tuple[dict[str, NDArray[np.float32]], list[CropGeometry]]:
    """The straightforward per-person version of ``preprocess`` (one RGB warp,
    transpose, flip and scale per person): kept as the definition the fast
    path is tested against, and as the benchmark's "before"."""
    n = len(boxes)
    input0 = np.empty((n, 3, INPUT_H, INPUT_W), dtype=np.float32)
    k_inv = np.empty((n, 3, 3), dtype=np.float32)
    t_inv = np.empty((n, 3, 3), dtype=np.float32)
    geoms = []
    for i, b in enumerate(boxes):
        g = crop_geometry(b, (rgb.shape[1], rgb.shape[0]))
        crop = cv2.warpAffine(rgb, g.a[:2], (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        np.multiply(np.ascontiguousarray(crop.transpose(2, 0, 1)[::-1]), np.float32(PIXEL_SCALE), out=input0[i])
        k_inv[i] = g.k_inv(k)
        t_inv[i] = g.t_form_inv
        geoms.append(g)
    return _inputs(input0, k_inv, t_inv), geoms


def _inputs(input0: NDArray[np.float32], k_inv: NDArray[np.float32],
            t_inv: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
    n = len(input0)
    return {
        "input0": input0,
        "k_inv": k_inv,
        "t_form_inv": t_inv,
        "scale_normalized_mean_limb_lengths": np.broadcast_to(SCALE_NORMALIZED_MEAN_LIMB_LENGTHS, (n, 36)).copy(),
        "mean_limb_lengths": np.broadcast_to(MEAN_LIMB_LENGTHS_MM, (n, 36)).copy(),
    }


def crop_matrices(boxes: NDArray[np.float64], image_wh: tuple[int, int]
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised ``crop_geometry`` for boxes (N, 4): warp maps (N, 3, 3), decode maps (N, 3, 3) and
    crop boxes (N, 4), the same float64 operations as the scalar version (bitwise equal)."""
    cb = deepstream_crop_rects(boxes, image_wh)
    return warp_map(cb), decode_map(cb), cb


class Preprocessor:
    """Batched BodyPose3DNet pre-processing into preallocated buffers.

    Per frame: one RGB -> BGRA conversion (the channel swap, and 4-channel
    pixels, which OpenCV's bilinear warp handles ~2x faster than 3-channel).
    Per person: only one ``cv2.warpAffine`` straight into a (N, 256, 192, 4)
    uint8 batch. Per batch: one uint8 NHWC -> NCHW copy (BGR planes), one
    float32 pass with the 1/255 scale, batched ``np.linalg.inv`` for ``t_form_inv`` and ``k_inv``.
    Output equals ``preprocess_reference`` bit for bit (bilinear warps are
    per channel, the matrices the same float64 operations).

    The returned arrays are views of the buffers: valid until the next call
    (``BodyPose3DNetEstimator`` runs the engine and decodes in between).
    """

    def __init__(self, capacity: int = 8) -> None:
        self._u8 = np.empty((0, INPUT_H, INPUT_W, 4), np.uint8)
        self._planes = np.empty((0, 3, INPUT_H, INPUT_W), np.uint8)
        self._f32 = np.empty((0, 3, INPUT_H, INPUT_W), np.float32)
        self._reserve(capacity)

    def _reserve(self, n: int) -> None:
        if n > len(self._u8):
            self._u8 = np.zeros((n, INPUT_H, INPUT_W, 4), np.uint8)  # zeros: pages touched once, here
            self._planes = np.zeros((n, 3, INPUT_H, INPUT_W), np.uint8)
            self._f32 = np.zeros((n, 3, INPUT_H, INPUT_W), np.float32)

    def __call__(self, rgb: NDArray[np.uint8], k: NDArray[np.float64],
                 boxes: list[tuple[float, float, float, float]] | NDArray[np.float64]
                 ) -> tuple[dict[str, NDArray[np.float32]], list[CropGeometry]]:
        a, a_dec, cb = crop_matrices(np.asarray(boxes, dtype=np.float64), (rgb.shape[1], rgb.shape[0]))
        n = len(a)
        self._reserve(n)
        u8, input0 = self._u8[:n], self._f32[:n]
        if n:
            bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
            for i in range(n):
                cv2.warpAffine(bgra, a[i, :2], (INPUT_W, INPUT_H), dst=u8[i], flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
            # planar uint8 copy first: the strided read is cheaper on bytes than inside the float pass
            planes = self._planes[:n]
            np.copyto(planes, u8[..., :3].transpose(0, 3, 1, 2))
            np.multiply(planes, np.float32(PIXEL_SCALE), out=input0)
        t_inv = np.linalg.inv(a_dec).astype(np.float32)
        k_inv = np.linalg.inv(a_dec @ np.asarray(k, dtype=np.float64)).astype(np.float32)
        geoms = [CropGeometry(a=a[i], box=(float(cb[i, 0]), float(cb[i, 1]), float(cb[i, 2]), float(cb[i, 3])),
                              a_dec=a_dec[i]) for i in range(n)]
        return _inputs(input0, k_inv, t_inv), geoms


def preprocess(rgb: NDArray[np.uint8], k: NDArray[np.float64],
               boxes: list[tuple[float, float, float, float]]) -> tuple[dict[str, NDArray[np.float32]], list[CropGeometry]]:
    """Image + person boxes -> the five network inputs for a batch of N people
    (fresh arrays; ``Preprocessor`` reuses its buffers across calls)."""
    return Preprocessor(len(boxes))(rgb, k, boxes)


def crop_to_image(points_crop: NDArray[np.float64], t_form_inv: NDArray[np.float64]) -> NDArray[np.float64]:
    """(..., 2) crop pixels -> image pixels through the affine t_form_inv."""
    t = np.asarray(t_form_inv, dtype=np.float64)
    return points_crop @ t[:2, :2].T + t[:2, 2]


def lift_pose25d(uv: NDArray[np.float64], z_rel: NDArray[np.float64], conf: NDArray[np.float64],
                 k: NDArray[np.float64],
                 root_depth_filter: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None
                 ) -> NDArray[np.float64]:
    """pose25d -> camera-frame joints in millimetres, our own implementation of
    the method [DS] uses (Iqbal et al., "Hand pose estimation via latent 2.5D
    heatmap regression", arXiv 1804.09534, Sec. 3.3): each limb of known
    scale-normalised length C gives a quadratic in the root depth; take the
    median root; then the metric scale is the confidence-weighted least
    squares fit of the mean limb lengths.

    uv (N, 34, 2) image pixels, z_rel (N, 34) scale-normalised, conf (N, 34), k 3x3 of the full image.
    ``root_depth_filter`` (N,) -> (N,) smooths the median root depth before the joints are built, where
    [DS] applies its One-Euro m_filterRootDepth.
    """
    uv = np.asarray(uv, dtype=np.float64)
    z_rel = np.array(z_rel, dtype=np.float64)
    z_rel[:, JOINT_INDEX["pelvis"]] = 0.0
    k_inv = np.linalg.inv(np.asarray(k, dtype=np.float64))
    rays = uv @ k_inv[:2, :2].T + k_inv[:2, 2]  # (N, 34, 2) normalised x, y (z = 1)
    x0, y0 = rays[:, LIMB_IDX0, 0], rays[:, LIMB_IDX0, 1]
    x1, y1 = rays[:, LIMB_IDX1, 0], rays[:, LIMB_IDX1, 1]
    z0, z1 = z_rel[:, LIMB_IDX0], z_rel[:, LIMB_IDX1]
    c = LIMB_LENGTH_NORM[None, :]
    qa = (x1 - x0) ** 2 + (y1 - y0) ** 2
    qb = 2.0 * (z1 * (x1 * x1 + y1 * y1 - x1 * x0 - y1 * y0) + z0 * (x0 * x0 + y0 * y0 - x1 * x0 - y1 * y0))
    qc = (x1 * z1 - x0 * z0) ** 2 + (y1 * z1 - y0 * z0) ** 2 + (z1 - z0) ** 2 - c * c
    eps = np.finfo(np.float64).eps
    disc = np.maximum(qb * qb - 4.0 * qa * qc, eps)
    roots = (-qb + np.sqrt(disc)) / (2.0 * np.maximum(qa, eps))
    z_root = np.median(roots, axis=1)  # (N,)
    if root_depth_filter is not None:
        z_root = np.asarray(root_depth_filter(z_root), dtype=np.float64)
    depth = z_rel + z_root[:, None]
    p = np.concatenate([rays, np.ones_like(rays[..., :1])], axis=-1) * depth[..., None]
    # metric scale: s = sum(w L T) / sum(w L^2), w = conf product of the limb's joints
    unit = np.linalg.norm(p[:, LIMB_IDX0] - p[:, LIMB_IDX1], axis=-1)
    w = np.clip(conf[:, LIMB_IDX0] * conf[:, LIMB_IDX1], 1e-6, None)
    s = (w * unit * LIMB_LENGTH_MM[None, :]).sum(1) / np.maximum((w * unit * unit).sum(1), eps)
    return p * s[:, None, None]


@dataclass
class DecodedBatch:
    joints_cam_m: NDArray[np.float64]  # (N, 34, 3)
    joints_2d: NDArray[np.float64]  # (N, 34, 2) original image pixels
    confidence: NDArray[np.float64]  # (N, 34)


class PoseSmoother:
    """[DS]'s One-Euro smoothing of pose25d per tracked person: image x, y, zRel and the root depth.

    DeepStream keeps one filter set per object id (g_filter_pose25d) with its fixed constants
    (filtering.one_euro.DS_*) and, by a quirk, a single root-depth filter for all objects; here each
    track has its own. Rows without a track id are not smoothed (counted). Tracks unseen for
    ``max_age_s`` are forgotten.
    """

    def __init__(self, max_age_s: float = 1.0) -> None:
        self.max_age_s = float(max_age_s)
        self._tracks: dict[int, tuple[OneEuroFilter, OneEuroFilter, OneEuroFilter, float | None]] = {}
        self.counters = {"smoothed": 0, "no_track_id": 0}

    def _filters(self, track_id: int, t_s: float | None) -> tuple[OneEuroFilter, OneEuroFilter, OneEuroFilter]:
        f = self._tracks.get(track_id)
        if f is None or (t_s is not None and f[3] is not None and t_s - f[3] > self.max_age_s):
            f = (OneEuroFilter(DS_KEYPOINT_XY), OneEuroFilter(DS_KEYPOINT_ZREL), OneEuroFilter(DS_ROOT_DEPTH), t_s)
        self._tracks[track_id] = (f[0], f[1], f[2], t_s)
        return f[0], f[1], f[2]

    def smooth(self, uv: NDArray[np.float64], z_rel: NDArray[np.float64], track_ids: list[int | None],
               t_s: float | None) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                           Callable[[NDArray[np.float64]], NDArray[np.float64]]]:
        """Smoothed (uv, z_rel) and the root-depth filter for ``lift_pose25d`` of this batch."""
        uv, z_rel = uv.copy(), z_rel.copy()
        roots: list[OneEuroFilter | None] = []
        for i, tid in enumerate(track_ids):
            if tid is None or tid < 0:
                self.counters["no_track_id"] += 1
                roots.append(None)
                continue
            fxy, fz, froot = self._filters(int(tid), t_s)
            uv[i], z_rel[i] = fxy(uv[i], t_s), fz(z_rel[i], t_s)
            roots.append(froot)
            self.counters["smoothed"] += 1

        def root_filter(z_root: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.array([float(f(z, t_s)) if f is not None else z for f, z in zip(roots, z_root, strict=True)])

        return uv, z_rel, root_filter


def decode(outputs: dict[str, NDArray[np.float32]], inputs: dict[str, NDArray[np.float32]],
           k: NDArray[np.float64], lift: str = DEFAULT_LIFT, smoother: PoseSmoother | None = None,
           track_ids: list[int | None] | None = None, t_s: float | None = None) -> DecodedBatch:
    """Network outputs -> metres in the optical frame, image pixels, confidence.

    lift="pose25d" (default, [DS]'s path) lifts ``pose25d`` with this camera's K; lift="network" takes
    ``pose3d`` (mm) as is. 2D joints come from ``pose25d`` crop pixels mapped through t_form_inv
    ([DS]'s corner convention). ``smoother`` applies [DS]'s One-Euro filters per track before the lift.
    """
    if lift not in LIFTS:
        raise ValueError(f"lift must be one of {LIFTS}, not {lift!r}")
    p25 = np.asarray(outputs["pose25d"], dtype=np.float64)
    t_inv = np.asarray(inputs["t_form_inv"], dtype=np.float64)
    conf = np.clip(p25[..., 3], 0.0, 1.0)
    uv = np.einsum("nij,nkj->nki", t_inv[:, :2, :2], p25[..., :2]) + t_inv[:, None, :2, 2]
    z_rel = p25[..., 2]
    root_filter = None
    if smoother is not None:
        uv, z_rel, root_filter = smoother.smooth(uv, z_rel, list(track_ids or [None] * len(uv)), t_s)
    if lift == "network":
        p3d_mm = np.asarray(outputs["pose3d"], dtype=np.float64)[..., :3]
    else:
        p3d_mm = lift_pose25d(uv, z_rel, conf, k, root_filter)
    return DecodedBatch(joints_cam_m=p3d_mm * 1e-3, joints_2d=uv, confidence=conf)


class BodyPose3DNetEstimator:
    """PoseEstimator on an ``Engine`` running BodyPose3DNet (or its stand-in).

    engine: object with ``run(dict) -> dict`` and ``backend_name``.
    box_source: where person boxes come from when ``estimate`` gets none.
    """

    def __init__(self, engine: Any, box_source: BoxSource | None = None, max_batch: int = 8,
                 lift: str = DEFAULT_LIFT, use_depth: bool = True, min_box_score: float = 0.0,
                 min_pose_confidence: float = 0.05, smoothing: bool = False) -> None:
        if lift not in LIFTS:
            raise ValueError(f"lift must be one of {LIFTS}, not {lift!r}")
        self.engine = engine
        # [DS] One-Euro smoothing of pose25d per track (teleoperation jitter); needs boxes with track ids.
        self.smoother = PoseSmoother() if smoothing else None
        self.box_source = box_source
        self.max_batch = max(1, int(max_batch))  # [DS] batch-size=8; TensorRT engines have a max batch
        self.lift = lift
        self.use_depth = use_depth
        self.min_box_score = min_box_score
        self.min_pose_confidence = min_pose_confidence
        self.backend_name = f"bodypose3dnet:{getattr(engine, 'backend_name', type(engine).__name__)}"
        if getattr(engine, "backend_name", "").startswith("stand-in:"):
            self.backend_name = "stand-in:" + self.backend_name
        self._prep = Preprocessor(self.max_batch)
        self.counters: dict[str, int] = {"frames": 0, "people": 0, "bad_input": 0, "bad_box": 0, "engine_error": 0,
                                         "empty_pose": 0}

    def estimate(self, rgb: NDArray[np.uint8], k: NDArray[np.float64], depth: NDArray[np.float32] | None = None,
                 boxes: list[PersonBox] | None = None, stamp_s: float | None = None) -> list[PoseResult]:
        self.counters["frames"] += 1
        if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or np.asarray(k).shape != (3, 3):
            self.counters["bad_input"] += 1
            log.warning("bodypose3dnet: bad input image %s or K", getattr(rgb, "shape", None))
            return []
        if boxes is None:
            boxes = self.box_source.boxes(rgb, k) if self.box_source is not None else []
        good = [b for b in boxes if b.is_valid() and b.score >= self.min_box_score]
        self.counters["bad_box"] += len(boxes) - len(good)
        results: list[PoseResult] = []
        h, w = rgb.shape[:2]
        for start in range(0, len(good), self.max_batch):
            chunk = good[start:start + self.max_batch]
            inputs, _ = self._prep(rgb, k, [b.xyxy for b in chunk])
            try:
                outputs = self.engine.run(inputs)
                dec = decode(outputs, inputs, k, self.lift, self.smoother, [b.track_id for b in chunk], stamp_s)
            except Exception as exc:  # engine failure: count, log, keep the node alive
                self.counters["engine_error"] += 1
                log.warning("bodypose3dnet: engine/decode failed: %s", exc)
                continue
            for i, b in enumerate(chunk):
                if float(dec.confidence[i].max()) < self.min_pose_confidence:
                    self.counters["empty_pose"] += 1  # the network found nobody in this crop
                    continue
                joints = dec.joints_cam_m[i]
                corr_used = False
                extras: dict[str, object] = {}
                if self.use_depth and depth is not None:
                    joints, corr = correct_scale_with_depth(joints, dec.joints_2d[i], dec.confidence[i], depth, (w, h))
                    corr_used = corr.used
                    extras["depth_scale"] = corr.scale
                    extras["depth_reason"] = corr.reason
                if not np.all(np.isfinite(joints)):
                    self.counters["engine_error"] += 1
                    log.warning("bodypose3dnet: non-finite joints dropped")
                    continue
                results.append(PoseResult(
                    joints_cam=joints, confidence=dec.confidence[i], derived=np.zeros(NUM_JOINTS, dtype=bool),
                    joints_2d=dec.joints_2d[i], box=b.xyxy, score=float(b.score), depth_used=corr_used,
                    source=self.backend_name, track_id=b.track_id, extras=extras))
        self.counters["people"] += len(results)
        return results
