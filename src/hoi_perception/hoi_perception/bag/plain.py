"""Message objects -> plain Python values, for comparing rosbags and rclpy messages.

Works by duck typing on both kinds without importing rclpy: rosbags messages
are dataclasses, rclpy messages expose ``get_fields_and_field_types()``.
Numeric arrays (numpy, ``array.array``, ``bytes``) become lists.
"""

from __future__ import annotations

import array
import dataclasses
from typing import Any

import numpy as np


def message_fields(msg: Any) -> list[str]:
    """Field names of a rosbags or rclpy message, in definition order."""
    if dataclasses.is_dataclass(msg):
        return [f.name for f in dataclasses.fields(msg) if not f.name.startswith("__")]
    if hasattr(msg, "get_fields_and_field_types"):
        return list(msg.get_fields_and_field_types().keys())
    raise TypeError(f"not a message: {type(msg)!r}")


def to_plain(value: Any) -> Any:
    """Nested dict/list/scalar form of a message (floats stay floats, so NaN != NaN as usual)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return list(bytes(value))
    if isinstance(value, array.array):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if dataclasses.is_dataclass(value) or hasattr(value, "get_fields_and_field_types"):
        return {name: to_plain(getattr(value, name)) for name in message_fields(value)}
    raise TypeError(f"cannot convert {type(value)!r}")
