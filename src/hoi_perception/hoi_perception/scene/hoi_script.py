"""The human-object interaction script: walk to a box on a table, grasp it with both hands, lift,
turn, carry it to a second table, put it down, release, stand.

All positions are world frame (z up, metres). Script times are given for a
nominal 12 s scene and scaled linearly to the configured duration; the gait
is distance-phased (see locomotion.py), so a faster script still has planted
feet.

Grasp: the left hand holds the box's +y face and the right hand its -y face
(box frame x = the carrier's forward direction), palms on the faces, fingers
forward and slightly down, thumbs up. The hand capsule axis sits one hand
radius off the face, so the palm surface touches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hoi_perception.scene.body import HAND_PALM_CENTRE_M, BodyDrive, HumanBody
from hoi_perception.scene.locomotion import StraightPath, gait, min_jerk, smoothstep, stride_for

NOMINAL_DURATION_S = 12.0

# --- layout (world, metres) -------------------------------------------------------------------
START_XY = np.array([-1.9, -0.5])
PICK_STANCE_XY = np.array([0.2, -0.5])      # pelvis while picking, facing +x
PLACE_STANCE_XY = np.array([0.2, 1.2])      # pelvis while placing, facing +y
TABLE_HEIGHT_M = 0.78
TABLE_A_CENTRE_XY = np.array([1.0, -0.5])
TABLE_A_SIZE = np.array([1.0, 0.7])
TABLE_B_CENTRE_XY = np.array([0.2, 1.8])
TABLE_B_SIZE = np.array([0.9, 0.6])
BIN_CENTRE_XY = np.array([-1.0, 1.0])
BIN_RADIUS_M, BIN_HEIGHT_M = 0.22, 0.65
BOX_SIZE = np.array([0.40, 0.36, 0.30])     # x (carrier forward), y, z
BOX_REACH_M = 0.56                          # pelvis -> box centre, horizontal, when picking/placing
CARRY_OFFSET = np.array([0.38, 0.0, 0.12])  # box centre in the pelvis frame while carried
LEAN_RAD = math.radians(20.0)
NOMINAL_STRIDE_M = 1.0

# --- timeline (nominal seconds) ---------------------------------------------------------------
WALK_TO_TABLE = (0.5, 3.6)
REACH = (3.6, 4.6)
GRASP_S = 4.6
LIFT = (4.8, 5.5)
TURN = (5.5, 6.3)
CARRY_WALK = (6.3, 8.9)
PUT_DOWN = (8.9, 9.6)
RELEASE_S = 9.8
RETRACT = (9.8, 10.6)

_HAND_RADIUS_M = 0.028
_FINGERS_IN_BOX = np.array([1.0, 0.0, -0.25]) / np.linalg.norm([1.0, 0.0, -0.25])


def _pose(xyz: NDArray[np.float64], yaw: float) -> NDArray[np.float64]:
    c, s = math.cos(yaw), math.sin(yaw)
    t = np.eye(4)
    t[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    t[:3, 3] = xyz
    return t


def _yaw_of(t: NDArray[np.float64]) -> float:
    return math.atan2(t[1, 0], t[0, 0])


def _progress(ts: float, span: tuple[float, float]) -> float:
    return min(max((ts - span[0]) / (span[1] - span[0]), 0.0), 1.0)


BOX_REST_A = _pose(np.array([PICK_STANCE_XY[0] + BOX_REACH_M, PICK_STANCE_XY[1], TABLE_HEIGHT_M + BOX_SIZE[2] / 2]), 0.0)
BOX_REST_B = _pose(np.array([PLACE_STANCE_XY[0], PLACE_STANCE_XY[1] + BOX_REACH_M, TABLE_HEIGHT_M + BOX_SIZE[2] / 2]),
                   math.pi / 2)


def grasp_in_box(side: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(wrist position, finger direction, palm direction) in the box frame; side 0 = left hand (+y face)."""
    normal = np.array([0.0, 1.0 if side == 0 else -1.0, 0.0])
    grasp_point = np.array([-0.06, 0.0, 0.0]) + normal * BOX_SIZE[1] / 2
    palm_centre = grasp_point + normal * _HAND_RADIUS_M
    return palm_centre - HAND_PALM_CENTRE_M * _FINGERS_IN_BOX, _FINGERS_IN_BOX.copy(), -normal


@dataclass
class HoiSample:
    drive: BodyDrive
    world_from_box: NDArray[np.float64]
    contact: tuple[bool, bool]   # left, right hand grasping


class HoiScript:
    """Motion of the interacting human and the box over a scene of ``duration_s`` seconds."""

    def __init__(self, body: HumanBody, duration_s: float = NOMINAL_DURATION_S) -> None:
        self.body = body
        self.time_scale = duration_s / NOMINAL_DURATION_S
        self._walk1 = StraightPath(START_XY, 0.0)
        self._walk1_len = float(np.linalg.norm(PICK_STANCE_XY - START_XY))
        self._walk2 = StraightPath(PICK_STANCE_XY, math.pi / 2)
        self._walk2_len = float(np.linalg.norm(PLACE_STANCE_XY - PICK_STANCE_XY))
        sc = body.scale
        self._stride1 = stride_for(self._walk1_len, NOMINAL_STRIDE_M * sc)
        self._stride2 = stride_for(self._walk2_len, NOMINAL_STRIDE_M * sc)

    def _locomotion(self, ts: float) -> tuple[StraightPath, float, float, float]:
        """(path, distance along it, stride, gait envelope) at script time ``ts``."""
        for path, length, stride, span in ((self._walk1, self._walk1_len, self._stride1, WALK_TO_TABLE),
                                           (self._walk2, self._walk2_len, self._stride2, CARRY_WALK)):
            if span[0] <= ts <= span[1]:
                u = _progress(ts, span)
                speed_ratio = 30 * u * u * (1 - u) * (1 - u)  # min-jerk velocity / mean velocity
                return path, length * min_jerk(u), stride, min(1.0, speed_ratio / 0.6)
        if ts < WALK_TO_TABLE[0]:
            return StraightPath(START_XY, 0.0), 0.0, self._stride1, 0.0
        if ts < TURN[0]:
            return StraightPath(PICK_STANCE_XY, 0.0), 0.0, self._stride1, 0.0
        if ts < CARRY_WALK[0]:
            yaw = math.pi / 2 * smoothstep(_progress(ts, TURN))
            return StraightPath(PICK_STANCE_XY, yaw), 0.0, self._stride2, 0.0
        return StraightPath(PLACE_STANCE_XY, math.pi / 2), 0.0, self._stride2, 0.0

    def _lean(self, ts: float) -> float:
        up = max(smoothstep(_progress(ts, REACH)) - smoothstep(_progress(ts, LIFT)), 0.0)
        down = max(smoothstep(_progress(ts, PUT_DOWN)) - smoothstep(_progress(ts, RETRACT)), 0.0)
        return LEAN_RAD * max(up, down)

    def _grasp_weight(self, ts: float) -> float:
        return smoothstep(_progress(ts, REACH)) - smoothstep(_progress(ts, RETRACT))

    def sample(self, t: float) -> HoiSample:
        ts = t / self.time_scale
        body = self.body
        path, dist, stride, env = self._locomotion(ts)
        g = gait(path, dist, stride, env, lateral=0.09 * body.scale, ankle_height=body.ankle_height,
                 scale=body.scale)
        lean = self._lean(ts)
        yaw = path.heading(dist)
        xy = path.point(dist)
        pelvis = np.array([xy[0], xy[1], body.pelvis_standing_height - g.pelvis_drop - 0.03 * lean / LEAN_RAD])
        world_from_pelvis = _pose(pelvis, yaw)

        # box: on table A, lifted into the carry pose, carried, lowered onto table B
        carry = world_from_pelvis @ _pose(CARRY_OFFSET * body.scale, 0.0)
        if ts < LIFT[0]:
            box = BOX_REST_A
        elif ts < LIFT[1]:
            box = _blend_pose(BOX_REST_A, carry, smoothstep(_progress(ts, LIFT)))
        elif ts < PUT_DOWN[0]:
            box = carry
        elif ts < PUT_DOWN[1]:
            box = _blend_pose(carry, BOX_REST_B, smoothstep(_progress(ts, PUT_DOWN)))
        else:
            box = BOX_REST_B

        w = self._grasp_weight(ts)
        r = world_from_pelvis[:3, :3]
        wrists, fingers, palms = np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3))
        for i in range(2):
            side = 1.0 if i == 0 else -1.0
            rest = body.rest_wrist_offset(i) + np.array([-0.45 * g.rel[i], 0.0, 0.0])
            rest_w = pelvis + r @ rest
            rest_f = np.array([0.0, 0.0, -1.0])
            rest_p = r @ np.array([0.0, -side, 0.0])  # palms face the thighs
            gw, gf, gp = grasp_in_box(i)
            grasp_w = box[:3, :3] @ gw + box[:3, 3]
            grasp_f, grasp_p = box[:3, :3] @ gf, box[:3, :3] @ gp
            wrists[i] = (1 - w) * rest_w + w * grasp_w
            fingers[i] = (1 - w) * rest_f + w * grasp_f
            palms[i] = (1 - w) * rest_p + w * grasp_p
        contact = GRASP_S <= ts < RELEASE_S
        drive = BodyDrive(pelvis=pelvis, yaw=yaw, lean=lean, ankles=g.ankles, foot_yaws=g.foot_yaws,
                          wrists=wrists, fingers=fingers, palms=palms)
        return HoiSample(drive=drive, world_from_box=box, contact=(contact, contact))


def _blend_pose(a: NDArray[np.float64], b: NDArray[np.float64], s: float) -> NDArray[np.float64]:
    """Yaw-only poses blended with a small lift arc (so the box clears the table edge)."""
    ya, yb = _yaw_of(a), _yaw_of(b)
    dyaw = (yb - ya + math.pi) % (2 * math.pi) - math.pi
    pos = (1 - s) * a[:3, 3] + s * b[:3, 3] + np.array([0.0, 0.0, 0.06 * math.sin(math.pi * s)])
    return _pose(pos, ya + s * dyaw)
