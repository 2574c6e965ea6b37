"""Deterministic filling of any ROS 2 message type from its introspection
data, so tests can exchange every hoi_msgs type with every field set."""

from __future__ import annotations

import importlib
from typing import Any

from rosidl_parser import definition as d

HOI_MSG_TYPES = (
    "Point2D", "BoundingBox2D", "HumanPose3D", "HumanPose3DArray", "SmplParams", "ObjectPose",
    "ObjectPoseArray", "HoiState", "HoiStateArray", "ContactSet", "ContactSetArray",
    "TrackedObject3D", "TrackedObject3DArray", "CameraSet", "Detection2D", "Detection2DArray",
    "Hand3D", "Hand3DArray", "GraspEvent", "GraspEventArray", "ObjectExtent", "ObjectExtentArray",
)


def msg_class(pkg: str, name: str) -> type:
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def _basic(typename: str, seed: int) -> Any:
    if typename in ("float", "double"):
        return (seed % 97) * 0.25 - 3.0  # exact in float32
    if typename == "boolean":
        return seed % 2 == 1
    if typename in ("octet", "uint8", "char"):
        return seed % 251
    if typename.startswith("uint"):
        return seed % 60000
    if typename.startswith("int"):
        return (seed % 30000) - 15000
    raise ValueError(typename)


def _value(t: Any, seed: int) -> Any:
    if isinstance(t, d.BasicType):
        v = _basic(t.typename, seed)
        return bytes([v]) if t.typename == "octet" else v
    if isinstance(t, (d.UnboundedString, d.BoundedString, d.UnboundedWString, d.BoundedWString)):
        return f"s{seed}"
    if isinstance(t, d.NamespacedType):
        return fill(msg_class(t.namespaces[0], t.name), seed)
    if isinstance(t, d.Array):
        return [_value(t.value_type, seed + i) for i in range(t.size)]
    if isinstance(t, (d.UnboundedSequence, d.BoundedSequence)):
        n = 2 if not isinstance(t.value_type, d.NamespacedType) or t.value_type.name not in ("Image",) else 1
        return [_value(t.value_type, seed + 7 * i + 1) for i in range(n)]
    raise TypeError(f"unhandled type {t!r}")


def fill(cls: type, seed: int) -> Any:
    msg = cls()
    for i, (name, t) in enumerate(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True)):
        v = _value(t, seed * 31 + i)
        if isinstance(t, (d.UnboundedSequence, d.BoundedSequence, d.Array)) and isinstance(t.value_type, d.BasicType):
            if t.value_type.typename == "octet":
                v = [bytes([x % 251]) if isinstance(x, int) else x for x in v]
        setattr(msg, name, v)
    return msg
