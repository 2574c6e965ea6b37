"""CoCoNet window builder: per-frame HOI crop, observation and synthetic channels, ring buffer.

Per frame (conventions of contracts/coconet.yaml, each from NVlabs/CARI4D):

* **HOI crop**: the box of the union of the human and object masks, squared
  to 1.1 x its longer side about its centre (run_horefine.py / prep/
  render_fp_nlf.py: ``radius = max(bmax - bmin) * 1.1 / 2``), corners rounded
  (Utils.compute_tf_batch), resampled to 224x224 with nearest neighbour
  (prep/prerender_behave.py crop_color_dmap). When no segmentation is given
  (no mask publisher exists in this stack yet), the box is the projection of
  the initial human and object estimates instead and the observed masks are
  the depth points within ``mask_margin_m`` of those estimates' surfaces
  (said in every output: ``mask_source``).
* **Crop camera**: K_roi = [f s, 0, (c - left) s; 0, f s, (c - top) s]
  (prerender_behave.py Kroi_from_corners), in this project's pixel convention
  (corner origin, centres at +0.5: docs/frames.md), so rendering with K_roi
  lands exactly on the crop of the full image.
* **Observation**: RGB crop; xyz = depth back-projected through the source
  pixel the nearest-neighbour crop picked (CARI4D back-projects at full
  resolution, then warps nearest); masks [human, object, full object render].
* **Synthetic**: the current estimate rendered into the crop with the
  project's ray-cast z-buffer (scene/raycast.py): the body as capsules along
  its 23 bones (radii measured from the body model's surface), the object as
  its box/cylinder primitive; rendered RGB (Lambert-shaded materials, not
  CARI4D's textured nvdiffrast mesh: a documented domain gap), xyz from the
  rendered depth, masks [rendered human = rendered and not visible object,
  visible object, object rendered alone] (video_data.py process_input,
  render_fp_nlf.py mask_o).
* **Normalisation**: xyz * 2 / mesh_diameter, pixels with normalised z < 0.01
  set to 0, then the frame's initial SMPL translation * 2 / mesh_diameter
  subtracted (video_data.py process_input, subtract_transl with
  trans_ref_type 'frame'); observed RGB and xyz outside the human and object
  masks set to 0 (mask_rgb_bkg).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.scene.primitives import Capsule, Cylinder, OrientedBox, Primitive, material
from hoi_perception.scene.raycast import LIGHT_DIRECTION_WORLD, render_view

CROP_SIZE = 224          # contract input_resize
HOI_CROP_SCALE = 1.1     # run_horefine.py / render_fp_nlf.py: radius = max side * 1.1 / 2
MIN_NORMALISED_Z = 0.01  # video_data.py: invalid = z < 0.01 after * 2 / mesh_diameter
HUMAN_ID, OBJECT_ID = 1, 2


def _headlight_world_from_camera() -> NDArray[np.float64]:
    """A world placement of the crop camera whose optical axis points away from the
    renderer's fixed light, so the light sits behind the camera: CARI4D lights along
    the camera axis (Utils.nvdiffrast_render light_dir [0, 0, 1] in camera space).
    Its origin is at height 0, where the renderer draws no floor."""
    z = -LIGHT_DIRECTION_WORLD
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    m = np.eye(4)
    m[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    return m


WORLD_FROM_CROP_CAMERA = _headlight_world_from_camera()


@dataclass(frozen=True)
class ObjectShape:
    """The object's render primitive in its own frame (origin at the centroid)."""

    kind: str                      # "box" (size x, y, z) or "cylinder" (radius, height; axis z)
    size: tuple[float, ...]

    @staticmethod
    def parse(text: str) -> ObjectShape:
        """'box:0.4,0.36,0.3' or 'cylinder:0.22,0.65'."""
        kind, _, rest = text.partition(":")
        try:
            vals = tuple(float(v) for v in rest.split(","))
        except ValueError as e:
            raise ValueError(f"object shape {text!r}: numbers expected after ':'") from e
        if kind == "box" and len(vals) == 3 and min(vals) > 0:
            return ObjectShape("box", vals)
        if kind == "cylinder" and len(vals) == 2 and min(vals) > 0:
            return ObjectShape("cylinder", vals)
        raise ValueError(f"object shape {text!r}: expected 'box:sx,sy,sz' or 'cylinder:radius,height' (metres > 0)")

    def corners(self) -> NDArray[np.float64]:
        if self.kind == "box":
            h = np.asarray(self.size) / 2
        else:
            h = np.array([self.size[0], self.size[0], self.size[1] / 2])
        s = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        return s * h

    def silhouette_points(self) -> NDArray[np.float64]:
        """Object-frame points whose projections' convex hull is the object's silhouette
        (box: its corners; cylinder: 48 points on each cap's rim)."""
        if self.kind == "box":
            return self.corners()
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        rim = np.column_stack([self.size[0] * np.cos(a), self.size[0] * np.sin(a), np.zeros_like(a)])
        top, bottom = rim.copy(), rim.copy()
        top[:, 2], bottom[:, 2] = self.size[1] / 2, -self.size[1] / 2
        return np.concatenate([top, bottom])

    def primitive(self, cam_from_object: NDArray[np.float64], instance_id: int = OBJECT_ID) -> Primitive:
        if self.kind == "box":
            return OrientedBox(cam_from_object, np.asarray(self.size) / 2, material("cardboard"), instance_id)
        return Cylinder(cam_from_object, self.size[0], self.size[1] / 2, material("bin_green"), instance_id)

    def signed_distance(self, points_obj: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.kind == "box":
            q = np.abs(points_obj) - np.asarray(self.size) / 2
            return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0)
        r = np.linalg.norm(points_obj[..., :2], axis=-1) - self.size[0]
        z = np.abs(points_obj[..., 2]) - self.size[1] / 2
        q = np.stack([r, z], axis=-1)
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0)


@dataclass(frozen=True)
class CropBox:
    left: int
    top: int
    side: int            # square, pixels of the source image

    @property
    def scale(self) -> float:
        return CROP_SIZE / self.side

    def k_roi(self, k: NDArray[np.float64]) -> NDArray[np.float64]:
        s = self.scale
        return np.array([[k[0, 0] * s, 0.0, (k[0, 2] - self.left) * s],
                         [0.0, k[1, 1] * s, (k[1, 2] - self.top) * s], [0.0, 0.0, 1.0]])

    def source_indices(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Nearest source column/row of every crop column/row (pixel centres at +0.5)."""
        d = (np.arange(CROP_SIZE) + 0.5) / self.scale - 0.5
        return np.floor(d + self.left + 0.5).astype(np.int64), np.floor(d + self.top + 0.5).astype(np.int64)


def hoi_crop_box(xmin: float, ymin: float, xmax: float, ymax: float, scale: float = HOI_CROP_SCALE) -> CropBox:
    """Square crop about a box's centre with side ``scale`` x its longer side, corners rounded."""
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    r = max(xmax - xmin, ymax - ymin, 1.0) * scale / 2
    left, right = int(round(cx - r)), int(round(cx + r))
    top = int(round(cy - r))
    return CropBox(left, top, max(right - left, 1))


def mask_box(*masks: NDArray[np.bool_]) -> tuple[float, float, float, float] | None:
    """Pixel box (corner convention, exclusive max) of the union of masks, or None when empty."""
    union = np.logical_or.reduce([np.asarray(m, bool) for m in masks])
    ys, xs = np.nonzero(union)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def projected_box(points_cam: NDArray[np.float64], k: NDArray[np.float64]) -> tuple[float, float, float, float] | None:
    """Pixel box of the projection of camera-frame points in front of the camera."""
    p = points_cam[points_cam[:, 2] > 0.05]
    if len(p) == 0:
        return None
    u = k[0, 0] * p[:, 0] / p[:, 2] + k[0, 2]
    v = k[1, 1] * p[:, 1] / p[:, 2] + k[1, 2]
    return float(u.min()), float(v.min()), float(u.max()), float(v.max())


@dataclass
class BodyShapeForRender:
    """Per-bone capsule radii of the body model (bone = parent -> joint j, j >= 1)."""

    parents: NDArray[np.int64]
    radii: NDArray[np.float64]

    def capsules(self, joints_cam: NDArray[np.float64], instance_id: int = HUMAN_ID) -> list[Capsule]:
        mat = material("shirt_blue")
        return [Capsule(joints_cam[self.parents[j]], joints_cam[j], float(self.radii[j]), mat, instance_id)
                for j in range(1, len(self.parents)) if self.radii[j] > 0]

    def distance(self, points: NDArray[np.float64], joints_cam: NDArray[np.float64],
                 limit: float = np.inf) -> NDArray[np.float64]:
        """Distance (N,) from points (N, 3) to the capsule surface (negative inside); with a
        finite ``limit`` only points within ``limit`` of a capsule's box are measured
        (the rest stay inf), which skips most of a crop's background."""
        best = np.full(points.shape[0], np.inf)
        for j in range(1, len(self.parents)):
            a, b = joints_cam[self.parents[j]], joints_cam[j]
            if np.isfinite(limit):
                pad = self.radii[j] + limit
                lo, hi = np.minimum(a, b) - pad, np.maximum(a, b) + pad
                idx = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
                if idx.size == 0:
                    continue
                pts = points[idx]
            else:
                idx, pts = slice(None), points
            ab = b - a
            t = np.clip(((pts - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
            d = np.linalg.norm(pts - (a + t[:, None] * ab), axis=1) - self.radii[j]
            best[idx] = np.minimum(best[idx], d)
        return best


def body_render_shape(model: object) -> BodyShapeForRender:
    """Capsule radii per bone from the model's rest surface: median distance of the
    vertices mostly skinned to the bone's parent joint to the bone segment."""
    v, j = model.v_template, model.j_template
    parents = np.asarray(model.parents)
    owner = np.argmax(model.weights, axis=1)
    radii = np.zeros(len(parents))
    for c in range(1, len(parents)):
        p = parents[c]
        a, b = j[p], j[c]
        ab = b - a
        pts = v[owner == p]
        if len(pts) == 0 or float(ab @ ab) < 1e-8:
            continue
        t = ((pts - a) @ ab) / float(ab @ ab)
        near = pts[(t > 0.1) & (t < 0.9)]
        if len(near) == 0:
            continue
        tt = np.clip(((near - a) @ ab) / float(ab @ ab), 0, 1)
        d = np.linalg.norm(near - (a + tt[:, None] * ab), axis=1)
        radii[c] = float(np.clip(np.median(d), 0.02, 0.2))
    return BodyShapeForRender(parents, radii)


@dataclass
class FrameEstimate:
    """The initial estimate of one frame, camera optical frame, metres."""

    smpl_rotmats: NDArray[np.float64]   # (24, 3, 3) local joint rotations
    betas: NDArray[np.float64]          # (10,)
    transl: NDArray[np.float64]         # (3,) SMPL transl
    joints: NDArray[np.float64]         # (24, 3) posed SMPL joints
    body25: NDArray[np.float64]         # (25, 3) BODY_25 keypoints of the posed body
    obj_pose: NDArray[np.float64]       # (4, 4) object -> camera
    object_shape: ObjectShape
    mesh_diameter: float
    shape_source: str = ""              # where object_shape came from (coconet/shapes.py)


@dataclass
class WindowFrame:
    """One frame's network inputs (HWC, crop size) plus what decoding needs."""

    stamp_ns: int
    estimate: FrameEstimate
    crop: CropBox
    k_roi: NDArray[np.float64]
    rgb: NDArray[np.float32]            # (2, 224, 224, 3) in [0, 255]: observed, rendered
    xyz: NDArray[np.float32]            # (2, 224, 224, 3) normalised
    masks: NDArray[np.float32]          # (2, 224, 224, 3) 0/1
    mask_source: str
    timings_ms: dict[str, float] = field(default_factory=dict)


def backproject(depth: NDArray[np.float32], k: NDArray[np.float64], us: NDArray[np.float64],
                vs: NDArray[np.float64]) -> NDArray[np.float32]:
    """xyz (H, W, 3) of depth (H, W) at pixel centres us (W,), vs (H,) (corner convention)."""
    x = ((us - k[0, 2]) / k[0, 0])[None, :]
    y = ((vs - k[1, 2]) / k[1, 1])[:, None]
    out = np.empty(depth.shape + (3,), dtype=np.float32)
    out[..., 0] = x * depth
    out[..., 1] = y * depth
    out[..., 2] = depth
    return out


class WindowBuilder:
    """Builds the per-frame network inputs of one human-object pair."""

    def __init__(self, body_shape: BodyShapeForRender, crop_scale: float = HOI_CROP_SCALE,
                 mask_margin_m: float = 0.06) -> None:
        self.body_shape = body_shape
        self.crop_scale = crop_scale
        self.mask_margin_m = mask_margin_m

    def crop_for(self, est: FrameEstimate, k: NDArray[np.float64], human_mask: NDArray[np.bool_] | None,
                 object_mask: NDArray[np.bool_] | None) -> CropBox | None:
        if human_mask is not None and object_mask is not None:
            box = mask_box(human_mask, object_mask)
        else:
            r = float(np.max(self.body_shape.radii))
            pts = [est.joints + d for d in (np.zeros(3), [r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0])]
            corners = est.object_shape.corners() @ est.obj_pose[:3, :3].T + est.obj_pose[:3, 3]
            box = projected_box(np.concatenate(pts + [corners]), k)
        return None if box is None else hoi_crop_box(*box, scale=self.crop_scale)

    def render(self, est: FrameEstimate, k_roi: NDArray[np.float64]
               ) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
        """Rendered rgb, depth (0 where empty), human mask, visible-object mask, full-object mask."""
        w = WORLD_FROM_CROP_CAMERA
        cam = PinholeCamera("coconet_crop", CROP_SIZE, CROP_SIZE, k_roi, world_from_camera=w)
        obj = est.object_shape.primitive(w @ est.obj_pose)
        view = render_view(cam, self.body_shape.capsules(est.joints @ w[:3, :3].T) + [obj])
        depth = np.nan_to_num(view.depth, nan=0.0)
        rendered = view.instance_ids > 0
        vis_obj = view.instance_ids == OBJECT_ID
        full_obj = self.object_silhouette(est, k_roi, vis_obj)
        rgb = view.rgb
        rgb[~rendered] = 0  # CARI4D's render has a black background (nvdiffrast colour x alpha)
        return rgb, depth, rendered & ~vis_obj, vis_obj, full_obj

    @staticmethod
    def object_silhouette(est: FrameEstimate, k_roi: NDArray[np.float64], visible: NDArray[np.bool_]
                          ) -> NDArray[np.bool_]:
        """The object rendered alone (occlusion ignored): a convex solid's silhouette is the convex
        hull of its projected outline points, filled at pixel centres (a second ray-cast costs more).
        Falls back to the visible part when part of the object is behind the camera."""
        pts = est.object_shape.silhouette_points() @ est.obj_pose[:3, :3].T + est.obj_pose[:3, 3]
        if np.any(pts[:, 2] <= 0.05):
            return visible.copy()
        uv = np.column_stack([k_roi[0, 0] * pts[:, 0] / pts[:, 2] + k_roi[0, 2],
                              k_roi[1, 1] * pts[:, 1] / pts[:, 2] + k_roi[1, 2]]) - 0.5  # cv2: centres at integers
        hull = cv2.convexHull(np.round(uv * 16).astype(np.int32))
        mask = np.zeros((CROP_SIZE, CROP_SIZE), np.uint8)
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool) | visible

    def build(self, stamp_ns: int, rgb: NDArray[np.uint8], depth: NDArray[np.float32], k: NDArray[np.float64],
              est: FrameEstimate, human_mask: NDArray[np.bool_] | None = None,
              object_mask: NDArray[np.bool_] | None = None) -> WindowFrame | None:
        """One frame's inputs, or None when the estimate is not in view."""
        t0 = time.perf_counter()
        crop = self.crop_for(est, k, human_mask, object_mask)
        if crop is None:
            return None
        k_roi = crop.k_roi(k)
        h, w = depth.shape
        ui, vi = crop.source_indices()
        inside_u, inside_v = (ui >= 0) & (ui < w), (vi >= 0) & (vi < h)
        uc, vc = np.clip(ui, 0, w - 1), np.clip(vi, 0, h - 1)
        valid = inside_v[:, None] & inside_u[None, :]
        rgb_c = rgb[vc[:, None], uc[None, :]]
        rgb_c[~valid] = 0
        d_c = depth[vc[:, None], uc[None, :]].astype(np.float32)
        d_c[~valid | ~np.isfinite(d_c)] = 0.0
        xyz_obs = backproject(d_c, k, uc + 0.5, vc + 0.5)  # through the source pixel, as CARI4D
        t1 = time.perf_counter()
        r_rgb, r_depth, r_hum, r_obj, r_full = self.render(est, k_roi)
        xyz_ren = backproject(r_depth, k_roi, np.arange(CROP_SIZE) + 0.5, np.arange(CROP_SIZE) + 0.5)
        t2 = time.perf_counter()
        if human_mask is not None and object_mask is not None:
            m_h = np.asarray(human_mask, bool)[vc[:, None], uc[None, :]] & valid
            m_o = np.asarray(object_mask, bool)[vc[:, None], uc[None, :]] & valid
            source = "segmentation"
        else:
            m_h, m_o = self.geometric_masks(xyz_obs, d_c > 0, est)
            source = f"depth within {self.mask_margin_m:.2f} m of the initial estimate"
        t3 = time.perf_counter()
        s = np.float32(2.0 / est.mesh_diameter)
        ref = (est.transl * s).astype(np.float32)
        fore = m_h | m_o
        xyz = np.empty((2, CROP_SIZE, CROP_SIZE, 3), np.float32)
        np.multiply(xyz_obs, s, out=xyz[0])
        np.multiply(xyz_ren, s, out=xyz[1])
        keep = xyz[..., 2] >= MIN_NORMALISED_Z  # tested before the reference is subtracted
        keep[0] &= fore                          # mask_rgb_bkg: observed background is 0
        xyz -= ref
        xyz *= keep[..., None]
        rgb_c *= fore[..., None]
        rgb = np.empty((2, CROP_SIZE, CROP_SIZE, 3), np.float32)
        rgb[0], rgb[1] = rgb_c, r_rgb
        masks = np.empty((2, CROP_SIZE, CROP_SIZE, 3), np.float32)
        for i, m in enumerate((m_h, m_o, r_full, r_hum, r_obj, r_full)):
            masks[i // 3, ..., i % 3] = m
        frame = WindowFrame(stamp_ns, est, crop, k_roi, rgb, xyz, masks, source)
        frame.timings_ms = {"crop": (t1 - t0) * 1e3, "render": (t2 - t1) * 1e3, "masks": (t3 - t2) * 1e3,
                            "normalise": (time.perf_counter() - t3) * 1e3}
        return frame

    def geometric_masks(self, xyz: NDArray[np.float32], valid: NDArray[np.bool_], est: FrameEstimate
                        ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Observed points within the margin of the body capsules / object primitive,
        decided on every second pixel and row and spread to the 2x2 block (4x fewer
        distance evaluations; the masks' edges are 1 px coarser)."""
        sub, vsub = xyz[::2, ::2], valid[::2, ::2]
        pts = sub[vsub].astype(np.float64)
        m_h = np.zeros(vsub.shape, bool)
        m_o = np.zeros(vsub.shape, bool)
        if len(pts):
            d_h = self.body_shape.distance(pts, est.joints, limit=self.mask_margin_m)
            r, t = est.obj_pose[:3, :3], est.obj_pose[:3, 3]
            d_o = est.object_shape.signed_distance((pts - t) @ r)
            margin = self.mask_margin_m
            o = (d_o < margin) & (d_o <= d_h)
            m_o[vsub] = o
            m_h[vsub] = (d_h < margin) & ~o
        h, w = valid.shape
        up = (lambda m: np.repeat(np.repeat(m, 2, axis=0), 2, axis=1)[:h, :w] & valid)  # noqa: E731
        return up(m_h), up(m_o)


class WindowRing:
    """Ring buffer of the last T frames; a window is due every ``stride`` frames once T are in.

    Stitching rule (one stream out of overlapping windows): every frame is
    published once, from the first window that contains it: the first window
    publishes all its T frames, each later window its newest ``stride`` frames.
    With stride = T (the default, CARI4D's run_horefine.py: non-overlapping
    clip_len windows) no frame is in two windows.

    End of a stream: the frames after the last window (up to stride - 1, or
    all of them when fewer than T came) are published by no window until
    ``flush()`` returns them as one shrunk window, as run_horefine.py shrinks
    its last clip to the frames left (the contract's T min is 1). After a
    flush the stream may go on: the next window publishes the frames pushed
    since, so every frame is still published once."""

    def __init__(self, t: int, stride: int) -> None:
        if not 1 <= stride <= t:
            raise ValueError(f"window stride must be in [1, T={t}], got {stride}")
        self.t, self.stride = t, stride
        self.frames: deque[WindowFrame] = deque(maxlen=t)
        self._since_last = 0  # frames pushed and not yet published by a window

    def push(self, frame: WindowFrame) -> tuple[list[WindowFrame], int] | None:
        """Add a frame; returns (window frames, number of newest frames to publish) when a window is due."""
        self.frames.append(frame)
        self._since_last += 1
        if len(self.frames) < self.t or self._since_last < self.stride:
            return None
        # the first window: _since_last == T (all of it); later ones: stride (or, after a
        # flush before the first full window, the frames pushed since the flush)
        n, self._since_last = min(self._since_last, self.t), 0
        return list(self.frames), n

    @property
    def pending(self) -> int:
        """Frames pushed that no window has published yet."""
        return min(self._since_last, len(self.frames))

    def flush(self) -> tuple[list[WindowFrame], int] | None:
        """The unpublished tail as one window of just those frames (all of them published), or None."""
        n = self.pending
        if n == 0:
            return None
        self._since_last = 0
        return list(self.frames)[-n:], n

    def reset(self) -> None:
        self.frames.clear()
        self._since_last = 0
