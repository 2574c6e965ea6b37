"""Dense triangle meshes and signed distances for the scene's rigid objects.

Meshes live in the object frame with the origin at the centroid (the frame
``ObjectState.world_from_object`` places). Faces are subdivided so that no
edge is longer than ``max_edge`` metres: contact regions are given as vertex
indices, so a hand touching a face must find vertices under it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _dedupe(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Merge vertices shared by adjacent face grids (same position to 1e-6 m)."""
    key = np.round(vertices * 1e6).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # keep first-seen order so indices are stable across numpy versions
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return vertices[first[order]], rank[inverse.reshape(-1)][faces]


def _orient_outward(vertices: NDArray[np.float64], faces: NDArray[np.int64],
                    outward: NDArray[np.float64]) -> NDArray[np.int64]:
    """Flip triangles whose normal disagrees with the given outward direction per face."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    n = np.cross(b - a, c - a)
    flip = np.einsum("ij,ij->i", n, outward) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _grid_faces(nu: int, nv: int, offset: int) -> NDArray[np.int64]:
    """Two triangles per cell of an (nu+1) x (nv+1) vertex grid stored row-major."""
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    v00 = (i * (nv + 1) + j).reshape(-1) + offset
    v10 = v00 + (nv + 1)
    v01 = v00 + 1
    v11 = v10 + 1
    return np.concatenate([np.stack([v00, v10, v11], -1), np.stack([v00, v11, v01], -1)])


def box_mesh(size: ArrayLike, max_edge: float = 0.03) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Closed box mesh of extents ``size`` (x, y, z) centred at the origin, outward-facing triangles."""
    size = np.asarray(size, dtype=np.float64)
    half = size / 2
    verts, faces, normals = [], [], []
    count = 0
    for axis in range(3):
        u_ax, v_ax = [a for a in range(3) if a != axis]
        nu = max(1, math.ceil(size[u_ax] / max_edge))
        nv = max(1, math.ceil(size[v_ax] / max_edge))
        uu, vv = np.meshgrid(np.linspace(-half[u_ax], half[u_ax], nu + 1),
                             np.linspace(-half[v_ax], half[v_ax], nv + 1), indexing="ij")
        for sign in (-1.0, 1.0):
            p = np.zeros((uu.size, 3))
            p[:, axis] = sign * half[axis]
            p[:, u_ax] = uu.reshape(-1)
            p[:, v_ax] = vv.reshape(-1)
            f = _grid_faces(nu, nv, count)
            n = np.zeros((f.shape[0], 3))
            n[:, axis] = sign
            verts.append(p)
            faces.append(f)
            normals.append(n)
            count += p.shape[0]
    v, f = _dedupe(np.concatenate(verts), np.concatenate(faces))
    return v, _orient_outward(v, f, np.concatenate(normals))


def cylinder_mesh(radius: float, height: float, max_edge: float = 0.03) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Closed cylinder mesh, axis along z, centred at the origin (z from -height/2 to +height/2)."""
    n_seg = max(16, math.ceil(2 * math.pi * radius / max_edge))
    n_z = max(1, math.ceil(height / max_edge))
    n_r = max(1, math.ceil(radius / max_edge))
    theta = np.linspace(0, 2 * np.pi, n_seg, endpoint=False)
    ring = np.stack([np.cos(theta), np.sin(theta)], -1)
    verts, faces, normals = [], [], []
    # side: (n_z + 1) rings of n_seg vertices, the seam closed by wrapping j+1 mod n_seg
    z = np.linspace(-height / 2, height / 2, n_z + 1)
    side = np.concatenate([np.column_stack([radius * ring, np.full(n_seg, zi)]) for zi in z])
    i, j = np.meshgrid(np.arange(n_z), np.arange(n_seg), indexing="ij")
    a = (i * n_seg + j).reshape(-1)
    b = (i * n_seg + (j + 1) % n_seg).reshape(-1)
    c, d = a + n_seg, b + n_seg
    f = np.concatenate([np.stack([a, b, d], -1), np.stack([a, d, c], -1)])
    centroid = (side[f[:, 0]] + side[f[:, 1]] + side[f[:, 2]]) / 3
    verts.append(side)
    faces.append(f)
    normals.append(np.column_stack([centroid[:, :2], np.zeros(len(f))]))
    count = side.shape[0]
    # caps: centre vertex plus n_r concentric rings
    for sign in (-1.0, 1.0):
        radii = np.linspace(0, radius, n_r + 1)[1:]
        cap = np.concatenate([np.zeros((1, 3))] + [np.column_stack([r * ring, np.zeros(n_seg)]) for r in radii])
        cap[:, 2] = sign * height / 2
        jj = np.arange(n_seg)
        fan = np.stack([np.zeros(n_seg, dtype=np.int64), 1 + jj, 1 + (jj + 1) % n_seg], -1)
        quads = []
        for k in range(n_r - 1):
            a = 1 + k * n_seg + jj
            b = 1 + k * n_seg + (jj + 1) % n_seg
            quads += [np.stack([a, b, b + n_seg], -1), np.stack([a, b + n_seg, a + n_seg], -1)]
        f = np.concatenate([fan] + quads) + count
        verts.append(cap)
        faces.append(f)
        normals.append(np.tile([0.0, 0.0, sign], (len(f), 1)))
        count += cap.shape[0]
    v, f = _dedupe(np.concatenate(verts), np.concatenate(faces))
    return v, _orient_outward(v, f, np.concatenate(normals))


def merge_meshes(parts: list[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]]
                 ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Concatenate (vertices, faces, parent_from_part 4x4) meshes into one mesh in the parent frame."""
    verts, faces = [], []
    count = 0
    for v, f, t in parts:
        verts.append(v @ t[:3, :3].T + t[:3, 3])
        faces.append(f + count)
        count += v.shape[0]
    return np.concatenate(verts), np.concatenate(faces)


def box_signed_distance(points: ArrayLike, size: ArrayLike) -> NDArray[np.float64]:
    """Signed distance (negative inside) of object-frame points to a centred box of extents ``size``."""
    q = np.abs(np.asarray(points, dtype=np.float64)) - np.asarray(size, dtype=np.float64) / 2
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(np.max(q, axis=-1), 0.0)
    return outside + inside


def cylinder_signed_distance(points: ArrayLike, radius: float, height: float) -> NDArray[np.float64]:
    """Signed distance of object-frame points to a centred z-axis cylinder."""
    p = np.asarray(points, dtype=np.float64)
    q = np.stack([np.linalg.norm(p[..., :2], axis=-1) - radius, np.abs(p[..., 2]) - height / 2], -1)
    return np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(np.max(q, axis=-1), 0.0)


def point_segment_distance(points: ArrayLike, a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Distance of points (N, 3) to segments a->b (M, 3): (N, M)."""
    p = np.asarray(points, dtype=np.float64)[:, None, :]
    a = np.asarray(a, dtype=np.float64)[None]
    ab = np.asarray(b, dtype=np.float64)[None] - a
    denom = np.maximum(np.sum(ab * ab, -1), 1e-12)
    s = np.clip(np.sum((p - a) * ab, -1) / denom, 0.0, 1.0)
    return np.linalg.norm(p - (a + s[..., None] * ab), axis=-1)
