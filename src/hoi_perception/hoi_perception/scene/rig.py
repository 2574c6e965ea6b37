"""Camera rig: a ZED-like robot-head camera and a ring of static calibrated cameras.

Intrinsics are pinhole, no distortion, principal point at the image centre.
The ZED-like focal length is that of a ZED 2i at HD720 (fx ~ 528 px at
1280 px wide, ~100 deg horizontal FOV) scaled to the configured width; the
static cameras use the focal ratio of the MTMC Tracking warehouse cameras
(fx = 916 px at 1920 px wide in the Sparse4D card's example, ~92 deg).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at

ZED_CAMERA_NAME = "zed_left_camera"
ZED_FX_PER_WIDTH = 528.0 / 1280.0
STATIC_FX_PER_WIDTH = 916.249 / 1920.0
ZED_BASELINE_M = 0.12

ZED_LINK_POSITION = np.array([2.25, 0.75, 1.40])   # robot head, between the ZED lenses
ZED_LOOK_AT = np.array([0.2, 0.65, 0.85])
SCENE_CENTRE = np.array([0.0, 0.3, 0.7])


def static_camera_name(index: int) -> str:
    return f"cam_{index:02d}"


def _rot_z(yaw: float) -> NDArray[np.float64]:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def zed_world_from_camera_link() -> NDArray[np.float64]:
    """``zed_camera_link`` (x forward, y left, z up, level) pose in the world."""
    d = ZED_LOOK_AT - ZED_LINK_POSITION
    t = np.eye(4)
    t[:3, :3] = _rot_z(math.atan2(d[1], d[0]))
    t[:3, 3] = ZED_LINK_POSITION
    return t


def zed_left_camera(width: int, height: int) -> PinholeCamera:
    """Left ZED sensor: half a baseline to the left of the link, pitched down at the interaction."""
    link = zed_world_from_camera_link()
    eye = link[:3, 3] + link[:3, 1] * ZED_BASELINE_M / 2
    fx = ZED_FX_PER_WIDTH * width
    return PinholeCamera(name=ZED_CAMERA_NAME, width=width, height=height,
                         k=intrinsics(fx, fx, width / 2, height / 2),
                         world_from_camera=look_at(eye, ZED_LOOK_AT + link[:3, 1] * ZED_BASELINE_M / 2))


def static_ring_cameras(count: int, width: int, height: int, radius_m: float, height_m: float) -> list[PinholeCamera]:
    """``count`` cameras equally spaced on a circle around the scene centre, all looking at it."""
    fx = STATIC_FX_PER_WIDTH * width
    cams = []
    for i in range(count):
        a = 2 * math.pi * i / count + math.radians(20.0)
        eye = np.array([SCENE_CENTRE[0] + radius_m * math.cos(a), SCENE_CENTRE[1] + radius_m * math.sin(a), height_m])
        cams.append(PinholeCamera(name=static_camera_name(i), width=width, height=height,
                                  k=intrinsics(fx, fx, width / 2, height / 2),
                                  world_from_camera=look_at(eye, SCENE_CENTRE)))
    return cams
