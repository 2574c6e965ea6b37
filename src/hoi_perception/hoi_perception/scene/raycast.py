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

_NEAR = 0.05  # metres; primitives straddling this plane fall back to a full-image test
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
    """Pixel rectangle (u0, u1, v0, v1), half-open, bounding projected camera-frame points."""
    z = corners_cam[:, 2]
    if np.all(z < _NEAR):
        return None
    if np.any(z < _NEAR):
        return 0, width, 0, height
    u = k[0, 0] * corners_cam[:, 0] / z + k[0, 2]
    v = k[1, 1] * corners_cam[:, 1] / z + k[1, 2]
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


def render_view(camera: PinholeCamera, primitives: list[Primitive], floor: FloorSpec | None = None) -> RenderedView:
    """Render the floor and ``primitives`` as seen by ``camera`` (distortion ignored)."""
    floor = floor or FloorSpec()
    w, h = camera.width, camera.height
    k = camera.k
    xs = (np.arange(w) + 0.5 - k[0, 2]) / k[0, 0]
    ys = (np.arange(h) + 0.5 - k[1, 2]) / k[1, 1]
    xrow, ycol = xs[None, :], ys[:, None]
    world_from_cam = camera.world_from_camera
    cam_from_world = camera.camera_from_world
    r_wc, o_w = world_from_cam[:3, :3], world_from_cam[:3, 3]
    light_cam = cam_from_world[:3, :3] @ LIGHT_DIRECTION_WORLD

    depth = np.full((h, w), np.inf)
    ids = np.zeros((h, w), dtype=np.int32)
    mat = np.full((h, w), material("sky"), dtype=np.int16)
    shade = np.ones((h, w))

    # floor plane z = 0 (only visible from above)
    if o_w[2] > 0:
        dz = r_wc[2, 0] * xrow + r_wc[2, 1] * ycol + r_wc[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -o_w[2] / dz
        px = o_w[0] + t * (r_wc[0, 0] * xrow + r_wc[0, 1] * ycol + r_wc[0, 2])
        py = o_w[1] + t * (r_wc[1, 0] * xrow + r_wc[1, 1] * ycol + r_wc[1, 2])
        on = (dz < 0) & (np.abs(px) <= floor.half_extent) & (np.abs(py) <= floor.half_extent)
        checker = (np.floor(px / floor.tile) + np.floor(py / floor.tile)).astype(np.int64) & 1
        depth = np.where(on, t, np.inf)
        mat = np.where(on, np.where(checker == 0, material("floor_light"), material("floor_dark")), mat).astype(np.int16)
        shade = np.where(on, _AMBIENT + _DIFFUSE * LIGHT_DIRECTION_WORLD[2], 1.0)

    coverage: dict[int, NDArray[np.bool_]] = {}
    for prim in primitives:
        if isinstance(prim, Capsule):
            a = cam_from_world[:3, :3] @ prim.a + cam_from_world[:3, 3]
            b = cam_from_world[:3, :3] @ prim.b + cam_from_world[:3, 3]
            lo = np.minimum(a, b) - prim.radius
            hi = np.maximum(a, b) + prim.radius
            corners = lo + (_UNIT_CUBE + 1) / 2 * (hi - lo)
        else:
            if isinstance(prim, OrientedBox):
                local_to_world, half = prim.world_from_box, prim.half_extents
            else:
                local_to_world = prim.world_from_cylinder
                half = np.array([prim.radius, prim.radius, prim.half_height])
            cam_from_local = cam_from_world @ local_to_world
            corners = (_UNIT_CUBE * half) @ cam_from_local[:3, :3].T + cam_from_local[:3, 3]
        rect = _rect(corners, k, w, h)
        if rect is None:
            continue
        u0, u1, v0, v1 = rect
        x, y = xs[None, u0:u1], ys[v0:v1, None]
        if isinstance(prim, Capsule):
            t, s = _capsule_hit(x, y, a, b, prim.radius, light_cam)
        else:
            local_from_cam = np.linalg.inv(cam_from_local)
            light_local = cam_from_local[:3, :3].T @ light_cam
            if isinstance(prim, OrientedBox):
                t, s = _box_hit(x, y, local_from_cam, half, light_local)
            else:
                t, s = _cylinder_hit(x, y, local_from_cam, prim.radius, prim.half_height, light_local)
        hit = np.isfinite(t)
        if not hit.any():
            continue
        cov = coverage.get(prim.instance_id)
        if cov is None:
            cov = coverage[prim.instance_id] = np.zeros((h, w), dtype=np.bool_)
        cov[v0:v1, u0:u1] |= hit
        sub = depth[v0:v1, u0:u1]
        nearer = t < sub
        sub[nearer] = t[nearer]
        ids[v0:v1, u0:u1][nearer] = prim.instance_id
        mat[v0:v1, u0:u1][nearer] = prim.material
        shade[v0:v1, u0:u1][nearer] = _AMBIENT + _DIFFUSE * np.clip(s[nearer], 0.0, 1.0)

    rgb = np.clip(PALETTE[mat] * shade[..., None].astype(np.float32), 0, 255).astype(np.uint8)
    depth32 = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)
    return RenderedView(camera=camera.name, rgb=rgb, depth=depth32, instance_ids=ids,
                        silhouette_pixels={i: int(c.sum()) for i, c in coverage.items()})
