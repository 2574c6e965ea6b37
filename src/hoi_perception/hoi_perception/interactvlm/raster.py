"""Triangle z-buffer rasteriser with per-pixel face ids and barycentric coordinates (numpy).

What PyTorch3D's MeshRasterizer gives InteractVLM for its lifting maps
(pix_to_face, bary_coords with faces_per_pixel=1, blur 0;
saidwivedi/InteractVLM preprocess_data/render_mesh_utils.py
project_vertices_and_create_mask), so a mask pixel maps back to exactly the
three vertices of the face it shows and their weights.

Vectorised by bucketing faces by the size of their screen bounding box: every
face of a bucket is tested on the same S x S pixel grid at once; the nearest
fragment per pixel wins (np.minimum.at on depth). Barycentrics are perspective
correct. Pixel centres at (col + 0.5, row + 0.5); no back-face culling (the
z-buffer decides).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_NEAR = 1e-3
_MAX_CHUNK = 3_000_000  # fragments tested per numpy batch


@dataclass
class Fragments:
    """face (H, W) int32, -1 = background; bary (H, W, 3) float32; depth (H, W) float32 (inf = none)."""

    face: NDArray[np.int32]
    bary: NDArray[np.float32]
    depth: NDArray[np.float32]

    def pixel_to_vertices(self, faces: NDArray[np.int64]) -> NDArray[np.int64]:
        """(H, W, 3) vertex ids of each pixel's face, -1 on background (InteractVLM's pixel_to_vertices_map)."""
        out = np.full(self.face.shape + (3,), -1, dtype=np.int64)
        hit = self.face >= 0
        out[hit] = faces[self.face[hit]]
        return out


def rasterize(vertices_cam: NDArray[np.float64], faces: NDArray[np.int64], k: NDArray[np.float64], width: int,
              height: int) -> Fragments:
    """Rasterise a mesh given in a camera's optical frame (x right, y down, z forward) with intrinsics ``k``."""
    v = np.asarray(vertices_cam, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    z = v[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k[0, 0] * v[:, 0] / z + k[0, 2]
        w = k[1, 1] * v[:, 1] / z + k[1, 2]
    tri_z = z[f]
    ok = np.all(tri_z > _NEAR, axis=1)
    fu, fv = u[f], w[f]
    # pixel centres c + 0.5 inside [min, max]
    c0 = np.floor(fu.min(1) - 0.5).astype(np.int64) + 1
    c1 = np.floor(fu.max(1) - 0.5).astype(np.int64)
    r0 = np.floor(fv.min(1) - 0.5).astype(np.int64) + 1
    r1 = np.floor(fv.max(1) - 0.5).astype(np.int64)
    c0, r0 = np.maximum(c0, 0), np.maximum(r0, 0)
    c1, r1 = np.minimum(c1, width - 1), np.minimum(r1, height - 1)
    ok &= (c1 >= c0) & (r1 >= r0)
    area = (fu[:, 1] - fu[:, 0]) * (fv[:, 2] - fv[:, 0]) - (fu[:, 2] - fu[:, 0]) * (fv[:, 1] - fv[:, 0])
    ok &= np.abs(area) > 1e-12
    ids = np.flatnonzero(ok)
    size = np.maximum(c1 - c0, r1 - r0)[ids] + 1
    zbuf = np.full(width * height, np.inf)
    pix_all, dep_all, face_all, bary_all = [], [], [], []
    bucket = np.ceil(np.log2(np.maximum(size, 1))).astype(np.int64)
    for b in np.unique(bucket):
        s = 1 << int(b)
        sel = ids[bucket == b]
        per = max(1, _MAX_CHUNK // (s * s))
        oy, ox = np.divmod(np.arange(s * s), s)
        for start in range(0, len(sel), per):
            fi = sel[start:start + per]
            px = c0[fi][:, None] + ox[None, :]
            py = r0[fi][:, None] + oy[None, :]
            inside_box = (px <= c1[fi][:, None]) & (py <= r1[fi][:, None])
            x = px + 0.5
            y = py + 0.5
            a = area[fi][:, None]
            u0, u1, u2 = (fu[fi, i][:, None] for i in range(3))
            v0, v1, v2 = (fv[fi, i][:, None] for i in range(3))
            l0 = ((u1 - x) * (v2 - y) - (u2 - x) * (v1 - y)) / a
            l1 = ((u2 - x) * (v0 - y) - (u0 - x) * (v2 - y)) / a
            l2 = 1.0 - l0 - l1
            inside = inside_box & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
            if not inside.any():
                continue
            fr, fc = np.nonzero(inside)
            face_ids = fi[fr]
            lam = np.stack([l0[fr, fc], l1[fr, fc], l2[fr, fc]], -1)
            # perspective-correct: weights / z, renormalised
            iz = lam / tri_z[face_ids]
            depth = 1.0 / iz.sum(1)
            bary = iz * depth[:, None]
            pix = py[fr, fc] * width + px[fr, fc]
            np.minimum.at(zbuf, pix, depth)
            pix_all.append(pix)
            dep_all.append(depth)
            face_all.append(face_ids)
            bary_all.append(bary)
    face_img = np.full(width * height, -1, dtype=np.int32)
    bary_img = np.zeros((width * height, 3), dtype=np.float32)
    if pix_all:
        pix = np.concatenate(pix_all)
        dep = np.concatenate(dep_all)
        win = dep <= zbuf[pix]
        face_img[pix[win]] = np.concatenate(face_all)[win]
        bary_img[pix[win]] = np.concatenate(bary_all)[win]
    depth_img = zbuf.astype(np.float32)
    return Fragments(face_img.reshape(height, width), bary_img.reshape(height, width, 3),
                     depth_img.reshape(height, width))


def fov_intrinsics(size: int, fov_deg: float = 60.0) -> NDArray[np.float64]:
    """Square image intrinsics of a symmetric field of view (PyTorch3D FoVPerspectiveCameras default: 60 deg)."""
    fpx = (size / 2) / math.tan(math.radians(fov_deg) / 2)
    return np.array([[fpx, 0.0, size / 2], [0.0, fpx, size / 2], [0.0, 0.0, 1.0]])


def look_at_camera(distance: float, elevation_deg: float, azimuth_deg: float, x_translation: float = 0.0,
                   y_translation: float = 0.0) -> NDArray[np.float64]:
    """4x4 optical-from-world transform of PyTorch3D's look_at_view_transform(dist, elev, azim) (world y up,
    camera looking at the origin) with InteractVLM's extra view-space shift (T[0] += x, T[1] += y;
    render_mesh_utils.get_rasterizer). PyTorch3D's view space is x left, y up, z forward; the optical
    frame returned here is x right, y down, z forward."""
    e, a = math.radians(elevation_deg), math.radians(azimuth_deg)
    centre = distance * np.array([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)])
    z_axis = -centre / np.linalg.norm(centre)
    up = np.array([0.0, 1.0, 0.0])
    x_axis = np.cross(up, z_axis)
    if np.linalg.norm(x_axis) < 1e-9:  # looking straight up/down: PyTorch3D falls back the same way
        x_axis = np.cross(np.array([1.0, 0.0, 0.0]), z_axis)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    r_view = np.stack([x_axis, y_axis, z_axis])  # rows: view axes in world
    t_view = -r_view @ centre + np.array([x_translation, y_translation, 0.0])
    flip = np.diag([-1.0, -1.0, 1.0])  # PyTorch3D view (x left, y up) -> optical (x right, y down)
    out = np.eye(4)
    out[:3, :3] = flip @ r_view
    out[:3, 3] = flip @ t_view
    return out
