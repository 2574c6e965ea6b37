"""rosbags typestore with the ROS 2 standard types plus hoi_msgs.

The standard types come from rosbags' newest ROS 2 store (Kilted when the
installed rosbags has it). hoi_msgs is registered from its ``.msg`` text, so
the typestore works before (or without) the message package being built.

Where the .msg files are looked up, first hit wins:

1. ``$HOI_MSGS_DIR`` (a directory with the ``*.msg`` files),
2. the installed package, ``share/hoi_msgs/msg`` (hoi_perception.paths:
   the ament index, then every prefix on ``$AMENT_PREFIX_PATH`` and the
   interpreter's prefix, the venv). The installed definitions are what
   rclpy's generated classes were built from, so CDR matches them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from hoi_perception import paths

HOI_MSGS_PACKAGE = "hoi_msgs"



def newest_ros2_store() -> Stores:
    """The newest ROS 2 distribution store this rosbags knows, preferring Kilted.

    Kilted is the target distribution; a newer store (e.g. Lyrical) is only
    used when Kilted is missing, because type hashes must match the running
    distribution's.
    """
    names = [s.name for s in Stores]
    if "ROS2_KILTED" in names:
        return Stores["ROS2_KILTED"]
    ros2 = [s for s in Stores if s.name.startswith("ROS2_")]
    if not ros2:
        raise RuntimeError("rosbags has no ROS 2 typestore")
    return ros2[-1]  # enum order is chronological


def find_msg_dirs(package: str = HOI_MSGS_PACKAGE) -> list[Path]:
    """Candidate directories holding ``package``'s ``*.msg`` files, in preference order."""
    candidates: list[Path] = []
    env = os.environ.get("HOI_MSGS_DIR") if package == HOI_MSGS_PACKAGE else None
    if env:
        candidates.append(Path(env))
    try:
        candidates.append(paths.share_dir(package) / "msg")
    except paths.ResourceNotFound:
        pass
    for prefix in paths.ament_prefixes():
        candidates.append(prefix / "share" / package / "msg")
    seen: set[Path] = set()
    found: list[Path] = []
    for c in candidates:
        c = c.resolve()
        if c in seen:
            continue
        seen.add(c)
        if c.is_dir() and any(c.glob("*.msg")):
            found.append(c)
    return found


def types_from_msg_dir(msg_dir: Path, package: str) -> dict:
    """Parse every ``*.msg`` in ``msg_dir`` as ``<package>/msg/<Name>`` for rosbags."""
    types: dict = {}
    for path in sorted(Path(msg_dir).glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"{package}/msg/{path.stem}"))
    return types


def make_typestore(msg_dir: Path | str | None = None, store: Stores | None = None) -> Typestore:
    """A fresh typestore: ROS 2 standard types plus hoi_msgs.

    ``msg_dir`` overrides the hoi_msgs lookup. Raises FileNotFoundError when no
    hoi_msgs definitions can be found.
    """
    ts = get_typestore(store or newest_ros2_store())
    if msg_dir is None:
        dirs = find_msg_dirs()
        if not dirs:
            searched = [os.environ.get("HOI_MSGS_DIR") or "$HOI_MSGS_DIR (unset)",
                        *(str(p / "share" / HOI_MSGS_PACKAGE / "msg") for p in paths.ament_prefixes())]
            raise FileNotFoundError(
                f"hoi_msgs .msg files not found; searched: {', '.join(searched)}. To fix: build hoi_msgs "
                "(make setup, or colcon build and source install/setup.bash) or set HOI_MSGS_DIR"
            )
        msg_dir = dirs[0]
    ts.register(types_from_msg_dir(Path(msg_dir), HOI_MSGS_PACKAGE))
    return ts


@lru_cache(maxsize=1)
def default_typestore() -> Typestore:
    """Process-wide shared typestore (built once; rosbags caches generated serializers per store)."""
    return make_typestore()
