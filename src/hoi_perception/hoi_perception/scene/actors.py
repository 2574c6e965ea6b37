"""Moving actors for multi-camera tracking: walking humans/humanoids and box-built vehicles.

Actor frames: x forward (heading), y left, z up, origin on the floor under
the actor's centre; ``yaw`` is the heading about world +z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.scene.body import CAPSULES, BodyDrive, BodyState, HumanBody
from hoi_perception.scene.locomotion import CirclePath, gait
from hoi_perception.scene.primitives import Capsule, Cylinder, OrientedBox, Primitive, material


def pose_xy_yaw(x: float, y: float, z: float, yaw: float) -> NDArray[np.float64]:
    c, s = math.cos(yaw), math.sin(yaw)
    t = np.eye(4)
    t[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    t[:3, 3] = (x, y, z)
    return t


def body_primitives(body: HumanBody, state: BodyState, materials: dict[str, str], instance_id: int) -> list[Primitive]:
    """One capsule per body part, coloured by the part's role (shirt, pants, skin, shoes, head)."""
    a, b, r = body.capsule_segments(state)
    return [Capsule(a[i], b[i], float(r[i]), material(materials[c[4]]), instance_id) for i, c in enumerate(CAPSULES)]


@dataclass
class WalkingActor:
    """A person or humanoid walking a circle at constant speed with arm swing."""

    track_id: int
    class_name: str
    body: HumanBody
    path: CirclePath
    speed_mps: float
    materials: dict[str, str]
    stride_m: float = 1.1

    def drive(self, t: float) -> BodyDrive:
        body = self.body
        dist = self.speed_mps * t
        g = gait(self.path, dist, self.stride_m * body.scale, 1.0, lateral=0.09 * body.scale,
                 ankle_height=body.ankle_height, scale=body.scale)
        xy = self.path.point(dist)
        yaw = self.path.heading(dist)
        pelvis = np.array([xy[0], xy[1], body.pelvis_standing_height - g.pelvis_drop])
        c, s = math.cos(yaw), math.sin(yaw)
        r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        wrists, fingers, palms = np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3))
        for i in range(2):
            side = 1.0 if i == 0 else -1.0
            # arms swing against the same-side leg
            wrists[i] = pelvis + r @ (body.rest_wrist_offset(i) + np.array([-0.45 * g.rel[i], 0.0, 0.0]))
            fingers[i] = (0.0, 0.0, -1.0)
            palms[i] = r @ np.array([0.0, -side, 0.0])
        return BodyDrive(pelvis=pelvis, yaw=yaw, lean=0.0, ankles=g.ankles, foot_yaws=g.foot_yaws,
                         wrists=wrists, fingers=fingers, palms=palms)

    def state(self, t: float) -> BodyState:
        return self.body.solve(self.drive(t))


@dataclass
class Part:
    """A rigid actor's part: 'box' (size = x, y, z extents) or 'cylinder' (size = radius, radius, height)."""

    kind: str
    actor_from_part: NDArray[np.float64]
    size: NDArray[np.float64]
    material: str


def _box_part(centre: tuple[float, float, float], size: tuple[float, float, float], mat: str) -> Part:
    return Part("box", pose_xy_yaw(*centre, 0.0), np.array(size, dtype=np.float64), mat)


def _wheel(centre: tuple[float, float, float], radius: float, width: float, mat: str = "robot_black") -> Part:
    t = np.eye(4)
    t[:3, :3] = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]  # cylinder z axis -> actor y (axle)
    t[:3, 3] = centre
    return Part("cylinder", t, np.array([radius, radius, width]), mat)


@dataclass
class CircleTrajectory:
    centre: NDArray[np.float64]
    radius: float
    speed_mps: float
    angle0: float
    counter_clockwise: bool = True

    def pose(self, t: float) -> tuple[float, float, float]:
        sign = 1.0 if self.counter_clockwise else -1.0
        a = self.angle0 + sign * self.speed_mps * t / self.radius
        return (self.centre[0] + self.radius * math.cos(a), self.centre[1] + self.radius * math.sin(a),
                a + sign * math.pi / 2)


@dataclass
class ShuttleTrajectory:
    """Back and forth between two points with a cosine speed profile, heading fixed (drives forward
    one way, reverses the other, as a forklift does)."""

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    period_s: float
    phase: float

    def pose(self, t: float) -> tuple[float, float, float]:
        s = 0.5 - 0.5 * math.cos(2 * math.pi * (t / self.period_s + self.phase))
        p = (1 - s) * self.a + s * self.b
        d = self.b - self.a
        return float(p[0]), float(p[1]), math.atan2(d[1], d[0])


@dataclass
class RigidActor:
    track_id: int
    class_name: str
    parts: list[Part]
    trajectory: CircleTrajectory | ShuttleTrajectory
    box_centre_local: NDArray[np.float64] = field(init=False)
    box_size: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        unit = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        corners = []
        for p in self.parts:
            half = p.size / 2 if p.kind == "box" else np.array([p.size[0], p.size[1], p.size[2] / 2])
            corners.append((unit * half) @ p.actor_from_part[:3, :3].T + p.actor_from_part[:3, 3])
        pts = np.concatenate(corners)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        self.box_centre_local = (lo + hi) / 2
        self.box_size = hi - lo

    def world_from_actor(self, t: float) -> NDArray[np.float64]:
        x, y, yaw = self.trajectory.pose(t)
        return pose_xy_yaw(x, y, 0.0, yaw)

    def primitives(self, world_from_actor: NDArray[np.float64]) -> list[Primitive]:
        out: list[Primitive] = []
        for p in self.parts:
            w = world_from_actor @ p.actor_from_part
            if p.kind == "box":
                out.append(OrientedBox(w, p.size / 2, material(p.material), self.track_id))
            else:
                out.append(Cylinder(w, float(p.size[0]), float(p.size[2] / 2), material(p.material), self.track_id))
        return out


def nova_carter_parts() -> list[Part]:
    """Nova Carter-like AMR: ~0.74 x 0.59 x 0.50 m."""
    return [
        _box_part((0.0, 0.0, 0.22), (0.72, 0.50, 0.28), "robot_black"),
        _box_part((-0.02, 0.0, 0.39), (0.60, 0.44, 0.06), "robot_grey"),
        _box_part((0.355, 0.0, 0.28), (0.03, 0.40, 0.06), "carter_green"),
        Part("cylinder", pose_xy_yaw(0.15, 0.0, 0.46, 0.0), np.array([0.05, 0.05, 0.08]), "robot_black"),
        _wheel((0.05, 0.27, 0.10), 0.10, 0.05),
        _wheel((0.05, -0.27, 0.10), 0.10, 0.05),
    ]


def forklift_parts() -> list[Part]:
    """Counterbalance forklift-like: body, counterweight, overhead guard, mast, forks, wheels (~3.0 x 1.05 x 2.2 m)."""
    parts = [
        _box_part((-0.2, 0.0, 0.65), (1.6, 1.05, 1.0), "forklift_yellow"),
        _box_part((-1.15, 0.0, 0.55), (0.35, 1.05, 0.8), "robot_grey"),
        _box_part((-0.2, 0.0, 2.12), (1.1, 1.05, 0.06), "robot_black"),
        _box_part((0.66, 0.0, 2.0), (0.08, 0.78, 0.10), "metal"),
        _box_part((0.70, 0.0, 0.55), (0.06, 0.70, 0.45), "metal"),
    ]
    for dx in (-0.72, 0.32):
        for dy in (-0.48, 0.48):
            parts.append(_box_part((dx, dy, 1.6), (0.06, 0.06, 1.0), "robot_black"))
    for dy in (-0.35, 0.35):
        parts.append(_box_part((0.66, dy, 1.1), (0.08, 0.08, 2.2), "metal"))
        parts.append(_box_part((1.2, dy * 0.7, 0.08), (1.0, 0.12, 0.05), "metal"))
    for dx in (0.35, -0.85):
        for dy in (-0.45, 0.45):
            parts.append(_wheel((dx, dy, 0.25), 0.25, 0.2))
    return parts
