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
        # rosbags dataclasses also carry the constants as fields; ROS field names are
        # lower case and constants upper case, which tells them apart.
        return [f.name for f in dataclasses.fields(msg) if not f.name.startswith("__") and not f.name[0].isupper()]
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
    if hasattr(value, "get_fields_and_field_types"):
        out = {}
        for name, typ in value.get_fields_and_field_types().items():
            v = getattr(value, name)
            # rclpy holds a scalar `byte` (octet) as bytes of length 1; rosbags as an int.
            out[name] = v[0] if typ == "octet" and isinstance(v, bytes) and len(v) == 1 else to_plain(v)
        return out
    if dataclasses.is_dataclass(value):
        return {name: to_plain(getattr(value, name)) for name in message_fields(value)}
    raise TypeError(f"cannot convert {type(value)!r}")
