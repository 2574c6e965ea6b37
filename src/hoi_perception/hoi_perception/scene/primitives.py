"""Analytic render primitives (capsule, oriented box, cylinder) and the material palette.

Every primitive carries the instance id its pixels get in
``RenderedView.instance_ids`` (the owner's track id) and a material index
into ``PALETTE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_MATERIALS: dict[str, tuple[int, int, int]] = {
    "sky": (178, 196, 214),
    "floor_light": (168, 168, 160),
    "floor_dark": (118, 118, 112),
    "skin": (224, 172, 140),
    "hair": (60, 42, 30),
    "shirt_blue": (40, 90, 190),
    "shirt_red": (190, 45, 40),
    "pants_dark": (45, 50, 70),
    "pants_khaki": (150, 130, 90),
    "shoes": (30, 30, 30),
    "robot_white": (215, 218, 222),
    "robot_grey": (95, 100, 108),
    "robot_black": (35, 35, 40),
    "carter_green": (60, 160, 70),
    "forklift_yellow": (235, 180, 20),
    "cardboard": (176, 128, 72),
    "bin_green": (40, 120, 80),
    "wood": (140, 96, 56),
    "metal": (120, 120, 125),
}
MATERIAL_NAMES: tuple[str, ...] = tuple(_MATERIALS)
MATERIAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(MATERIAL_NAMES)}
PALETTE: NDArray[np.float32] = np.array([_MATERIALS[n] for n in MATERIAL_NAMES], dtype=np.float32)


def material(name: str) -> int:
    """Palette index of a named material."""
    return MATERIAL_INDEX[name]


@dataclass(frozen=True)
class Capsule:
    """Segment a->b (world, metres) swept by a sphere of ``radius``."""

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    radius: float
    material: int
    instance_id: int


@dataclass(frozen=True)
class OrientedBox:
    """Box of half extents (x, y, z) in its own frame, placed by ``world_from_box``."""

    world_from_box: NDArray[np.float64]
    half_extents: NDArray[np.float64]
    material: int
    instance_id: int


@dataclass(frozen=True)
class Cylinder:
    """Capped cylinder along its frame's z axis (z in [-half_height, half_height])."""

    world_from_cylinder: NDArray[np.float64]
    radius: float
    half_height: float
    material: int
    instance_id: int


Primitive = Capsule | OrientedBox | Cylinder
