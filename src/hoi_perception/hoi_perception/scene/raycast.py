"""Z-buffer renderer that ray-casts analytic primitives, vectorised over pixels.

Rays are built in the camera's optical frame with direction
``((u - cx) / fx, (v - cy) / fy, 1)`` through pixel centres (``u = col + 0.5``,
the top-left-corner pixel origin of docs/frames.md). With the optical z
component fixed at 1, the ray parameter of a hit *is* its depth along the
optical axis, and every per-pixel dot product is separable into a column and a
row term, so no (H, W, 3) direction array is ever built.

Each primitive is tested only inside its projected screen-space bounding
rectangle (projection of its 3D bounding box); the nearest hit per pixel wins.
The floor is the plane z = 0 limited to a square of ``floor_half_extent``
with a checker texture; anything else is background: depth NaN, instance 0.
Shading is Lambert with one directional light plus ambient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.scene.primitives import PALETTE, Capsule, OrientedBox, Primitive, material

_NEAR = 0.05  # metres; nearer surfaces are not rendered
_AMBIENT = 0.38
_DIFFUSE = 0.62
LIGHT_DIRECTION_WORLD = np.array([0.35, -0.25, 0.90]) / np.linalg.norm([0.35, -0.25, 0.90])  # towards the light


@dataclass
class RenderedView:
    """One camera's rendering.

    rgb: uint8 (H, W, 3) in RGB order; depth: float32 (H, W) metres along the
    optical z axis, NaN where no surface; instance_ids: int32 (H, W), 0 for
    floor/background, else the owner's track id. ``silhouette_pixels`` maps
    each instance id to the number of pixels its primitives cover ignoring
    occlusion by others (used for visibility fractions).
    """

    camera: str
    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    instance_ids: NDArray[np.int32]
    silhouette_pixels: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FloorSpec:
    half_extent: float = 9.0
    tile: float = 0.5


def _rect(corners_cam: NDArray[np.float64], k: NDArray[np.float64], width: int, height: int
          ) -> tuple[int, int, int, int] | None:
    """Pixel rectangle (u0, u1, v0, v1), half-open, bounding the projection of camera-frame points'
    axis-aligned box cut at the near plane (so a primitive reaching behind the camera keeps a tight rectangle)."""
    lo, hi = corners_cam.min(axis=0), corners_cam.max(axis=0)
    if hi[2] < _NEAR:
        return None
    lo[2] = max(lo[2], _NEAR)
    xs = np.array([lo[0], hi[0]])
    ys = np.array([lo[1], hi[1]])
    zs = np.array([lo[2], hi[2]])
    u = k[0, 0] * (xs[:, None] / zs[None, :]) + k[0, 2]
    v = k[1, 1] * (ys[:, None] / zs[None, :]) + k[1, 2]
    # pixel col c spans u in [c, c+1)
    u0, u1 = max(int(np.floor(u.min())) - 1, 0), min(int(np.ceil(u.max())) + 1, width)
    v0, v1 = max(int(np.floor(v.min())) - 1, 0), min(int(np.ceil(v.max())) + 1, height)
    if u0 >= u1 or v0 >= v1:
        return None
    return u0, u1, v0, v1


_UNIT_CUBE = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)


def _capsule_hit(x: NDArray, y: NDArray, a: NDArray, b: NDArray, r: float, light: NDArray
                 ) -> tuple[NDArray, NDArray]:
    """Ray (origin 0, direction (x, y, 1)) vs capsule in the camera frame -> (t with inf on miss, n.L)."""
    ba = b - a
    oa = -a
    baba = ba @ ba
    baoa = ba @ oa
    oaoa = oa @ oa
    rdrd = x * x + y * y + 1.0
    bard = x * ba[0] + y * ba[1] + ba[2]
    rdoa = x * oa[0] + y * oa[1] + oa[2]
    rdl = x * light[0] + y * light[1] + light[2]
    qa = baba * rdrd - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r * r * baba
    h = qb * qb - qa * qc
    with np.errstate(invalid="ignore", divide="ignore"):
        t_body = (-qb - np.sqrt(h)) / qa
        yy = baoa + t_body * bard
        body = (h >= 0) & (yy > 0) & (yy < baba) & (t_body > 0)
        # end caps: the sphere on the side the body test fell off
        # a ray parallel to the axis has no body solution (yy NaN): pick the cap on the camera's side
        use_a = np.where(np.isfinite(yy), yy <= 0, baoa <= 0)
        cb = np.where(use_a, rdoa, rdoa - bard)
        ob = oa - ba
        cc = np.where(use_a, oaoa, ob @ ob) - r * r
        h2 = cb * cb - rdrd * cc
        t_cap = (-cb - np.sqrt(h2)) / rdrd
        cap = (h2 >= 0) & (t_cap > 0) & ~body
        t = np.where(body, t_body, np.where(cap, t_cap, np.inf))
        # n.L = (p - nearest axis point).L / r
        al, bl = a @ light, ba @ light
        s_body = (t_body * rdl - al - bl * yy / baba) / r
        s_cap = (t_cap * rdl - np.where(use_a, al, al + bl)) / r
    return t, np.where(body, s_body, s_cap)


def _local_rays(x: NDArray, y: NDArray, box_from_cam: NDArray) -> tuple[NDArray, list[NDArray]]:
    """Camera origin and per-pixel ray direction components in a primitive's frame."""
    r = box_from_cam[:3, :3]
    o = box_from_cam[:3, 3]
    d = [x * r[i, 0] + y * r[i, 1] + r[i, 2] for i in range(3)]
    return o, d


def _box_hit(x: NDArray, y: NDArray, box_from_cam: NDArray, half: NDArray, light_local: NDArray
             ) -> tuple[NDArray, NDArray]:
    o, d = _local_rays(x, y, box_from_cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_near, t_far = [], []
        for i in range(3):
            inv = 1.0 / d[i]
            t1 = (-half[i] - o[i]) * inv
            t2 = (half[i] - o[i]) * inv
            t_near.append(np.minimum(t1, t2))
            t_far.append(np.maximum(t1, t2))
        tn = np.stack(t_near)
        t_enter = tn.max(axis=0)
        t_exit = np.minimum(np.minimum(t_far[0], t_far[1]), t_far[2])
        hit = (t_enter <= t_exit) & (t_enter > 0)
    axis = tn.argmax(axis=0)
    # the entry face's outward normal is -sign(d) along the entry axis
    d_axis = np.choose(axis, d)
    shade = -np.sign(d_axis) * light_local[axis]
    return np.where(hit, t_enter, np.inf), shade


def _cylinder_hit(x: NDArray, y: NDArray, cyl_from_cam: NDArray, radius: float, half_h: float,
                  light_local: NDArray) -> tuple[NDArray, NDArray]:
    o, d = _local_rays(x, y, cyl_from_cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        qa = d[0] * d[0] + d[1] * d[1]
        qb = o[0] * d[0] + o[1] * d[1]
        qc = o[0] * o[0] + o[1] * o[1] - radius * radius
        h = qb * qb - qa * qc
        t_side = (-qb - np.sqrt(h)) / qa
        z_side = o[2] + t_side * d[2]
        side = (h >= 0) & (t_side > 0) & (np.abs(z_side) <= half_h)
        s_side = ((o[0] + t_side * d[0]) * light_local[0] + (o[1] + t_side * d[1]) * light_local[1]) / radius
        # only the cap facing the camera can be an entry point
        if abs(o[2]) > half_h:
            sign = np.sign(o[2])
            t_cap = (sign * half_h - o[2]) / d[2]
            px, py = o[0] + t_cap * d[0], o[1] + t_cap * d[1]
            cap = (t_cap > 0) & (px * px + py * py <= radius * radius) & ~side
            s_cap = sign * light_local[2]
        else:
            t_cap, cap, s_cap = np.inf, np.zeros_like(side), 0.0
    t = np.where(side, t_side, np.where(cap, t_cap, np.inf))
    return t, np.where(side, s_side, s_cap)


def _rigid_inverse(t: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


def _render_floor(camera: PinholeCamera, xs: NDArray, ys: NDArray, floor: FloorSpec
                  ) -> tuple[NDArray[np.float64], NDArray[np.int16], NDArray[np.float32]]:
    """Depth (inf off the floor), material and shade buffers initialised with the floor plane z = 0."""
    h, w = ys.size, xs.size
    r_wc, o_w = camera.world_from_camera[:3, :3], camera.world_from_camera[:3, 3]
    depth = np.full((h, w), np.inf)
    mat = np.full((h, w), material("sky"), dtype=np.int16)
    shade = np.ones((h, w), dtype=np.float32)
    if o_w[2] <= 0:  # the floor is only seen from above
        return depth, mat, shade
    x32, y32 = xs.astype(np.float32)[None, :], ys.astype(np.float32)[:, None]
    r = r_wc.astype(np.float32)
    dz = r[2, 0] * x32 + r[2, 1] * y32 + r[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float32(-o_w[2]) / dz
    px = np.float32(o_w[0]) + t * (r[0, 0] * x32 + r[0, 1] * y32 + r[0, 2])
    py = np.float32(o_w[1]) + t * (r[1, 0] * x32 + r[1, 1] * y32 + r[1, 2])
    on = (dz < 0) & (np.abs(px) <= floor.half_extent) & (np.abs(py) <= floor.half_extent)
    checker = (np.floor(px * np.float32(1 / floor.tile)) + np.floor(py * np.float32(1 / floor.tile))).astype(np.int32) & 1
    np.copyto(depth, t, where=on)
    np.copyto(mat, np.where(checker == 0, material("floor_light"), material("floor_dark")).astype(np.int16), where=on)
    shade[on] = _AMBIENT + _DIFFUSE * LIGHT_DIRECTION_WORLD[2]
    return depth, mat, shade


def render_view(camera: PinholeCamera, primitives: list[Primitive], floor: FloorSpec | None = None) -> RenderedView:
    """Render the floor and ``primitives`` as seen by ``camera`` (distortion ignored)."""
    floor = floor or FloorSpec()
    w, h = camera.width, camera.height
    k = camera.k
    xs = (np.arange(w) + 0.5 - k[0, 2]) / k[0, 0]
    ys = (np.arange(h) + 0.5 - k[1, 2]) / k[1, 1]
    cam_from_world = camera.camera_from_world
    r_cw, t_cw = cam_from_world[:3, :3], cam_from_world[:3, 3]
    light_cam = r_cw @ LIGHT_DIRECTION_WORLD
    depth, mat, shade = _render_floor(camera, xs, ys, floor)
    ids = np.zeros((h, w), dtype=np.int32)

    # pass 1: camera-frame geometry and screen rectangles; per-instance union rectangles for coverage
    jobs = []
    inst_rect: dict[int, list[int]] = {}
    for prim in primitives:
        if isinstance(prim, Capsule):
            a = r_cw @ prim.a + t_cw
            b = r_cw @ prim.b + t_cw
            lo = np.minimum(a, b) - prim.radius
            hi = np.maximum(a, b) + prim.radius
            corners = lo + (_UNIT_CUBE + 1) / 2 * (hi - lo)
            geom = (a, b)
        else:
            if isinstance(prim, OrientedBox):
                local_to_world, half = prim.world_from_box, prim.half_extents
            else:
                local_to_world = prim.world_from_cylinder
                half = np.array([prim.radius, prim.radius, prim.half_height])
            cam_from_local = cam_from_world @ local_to_world
            corners = (_UNIT_CUBE * half) @ cam_from_local[:3, :3].T + cam_from_local[:3, 3]
            geom = (cam_from_local, half)
        rect = _rect(corners, k, w, h)
        if rect is None:
            continue
        jobs.append((prim, geom, rect))
        r = inst_rect.setdefault(prim.instance_id, list(rect))
        r[0], r[1], r[2], r[3] = min(r[0], rect[0]), max(r[1], rect[1]), min(r[2], rect[2]), max(r[3], rect[3])
    coverage = {i: np.zeros((r[3] - r[2], r[1] - r[0]), dtype=np.bool_) for i, r in inst_rect.items()}

    # pass 2: ray-cast each primitive inside its rectangle, keep the nearest hit
    for prim, geom, (u0, u1, v0, v1) in jobs:
        x, y = xs[None, u0:u1], ys[v0:v1, None]
        if isinstance(prim, Capsule):
            t, s = _capsule_hit(x, y, geom[0], geom[1], prim.radius, light_cam)
        else:
            cam_from_local, half = geom
            local_from_cam = _rigid_inverse(cam_from_local)
            light_local = cam_from_local[:3, :3].T @ light_cam
            if isinstance(prim, OrientedBox):
                t, s = _box_hit(x, y, local_from_cam, half, light_local)
            else:
                t, s = _cylinder_hit(x, y, local_from_cam, prim.radius, prim.half_height, light_local)
        sub = depth[v0:v1, u0:u1]
        nearer = t < sub  # inf (miss) is never nearer
        if not nearer.any():
            if np.isfinite(t).any():
                ir = inst_rect[prim.instance_id]
                coverage[prim.instance_id][v0 - ir[2]:v1 - ir[2], u0 - ir[0]:u1 - ir[0]] |= np.isfinite(t)
            continue
        ir = inst_rect[prim.instance_id]
        coverage[prim.instance_id][v0 - ir[2]:v1 - ir[2], u0 - ir[0]:u1 - ir[0]] |= np.isfinite(t)
        sub[nearer] = t[nearer]
        ids[v0:v1, u0:u1][nearer] = prim.instance_id
        mat[v0:v1, u0:u1][nearer] = prim.material
        shade[v0:v1, u0:u1][nearer] = _AMBIENT + _DIFFUSE * np.clip(s[nearer], 0.0, 1.0)

    # shade <= 1 by construction, so the product stays within uint8
    rgb = (PALETTE[mat] * shade[..., None]).astype(np.uint8)
    depth32 = depth.astype(np.float32)
    depth32[np.isinf(depth32)] = np.nan
    return RenderedView(camera=camera.name, rgb=rgb, depth=depth32, instance_ids=ids,
                        silhouette_pixels={i: int(np.count_nonzero(c)) for i, c in coverage.items()})
