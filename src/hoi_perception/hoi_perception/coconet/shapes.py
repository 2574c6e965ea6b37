"""Which primitive renders the object CoCoNet refines (ROS-free).

The synthetic channels render the object as a primitive (coconet/window.py
ObjectShape: box or cylinder). Where it comes from, first match wins:

1. ``object_shapes`` (node parameter): a primitive per object_name, for
   objects whose shape is known (the sample's ``Box`` and ``Bin``);
2. the box the objects node measured for that pose: objects_hands publishes an
   hoi_msgs/ObjectExtentArray beside its ObjectPoseArray (ObjectPose carries no
   size), the OBB of the depth points it segmented for a detection or a
   held-object proposal, or the extents of a registered mesh. The entry of the
   pose's (track id, object name) nearest in time within ``max_age_ns`` is
   used, each side at least ``min_size_m`` (the OBB of the visible faces of a
   box can be almost flat);
3. none: the frame has no render shape and is skipped (the node counts it as
   ``no_object_shape``).

A detected class has no entry in ``object_shapes`` unless the user gave one
(detector classes are the vocabulary's, lower case; ``held_object`` has no
class), so with objects from objects_hands rule 2 is what makes windows run.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from hoi_perception.coconet.window import ObjectShape

CONFIGURED = "object_shapes"
MEASURED = "measured"


@dataclass(frozen=True)
class ShapeChoice:
    shape: ObjectShape
    source: str            # "object_shapes" or "measured:<method>"
    detail: str            # human-readable, for logs and the initial estimate's source

    @property
    def measured(self) -> bool:
        return self.source.startswith(MEASURED)


def parse_object_shapes(entries: list[str] | tuple[str, ...]) -> dict[str, ObjectShape]:
    """``NAME=box:sx,sy,sz`` / ``NAME=cylinder:r,h`` entries (the node's ``object_shapes``)."""
    shapes: dict[str, ObjectShape] = {}
    for entry in entries:
        name, sep, spec = str(entry).partition("=")
        if not sep:
            raise ValueError(f"object_shapes entry {entry!r}: expected NAME=box:sx,sy,sz or NAME=cylinder:r,h")
        shapes[name] = ObjectShape.parse(spec)
    return shapes


def describe(shape: ObjectShape) -> str:
    dims = "x".join(f"{v:.2f}" for v in shape.size)
    return f"{shape.kind} {dims} m"


class RenderShapes:
    """Render primitives: configured per name, else measured per object track (module doc)."""

    def __init__(self, configured: dict[str, ObjectShape], max_age_ns: int = 1_000_000_000,
                 min_size_m: float = 0.02, history: int = 30) -> None:
        self.configured = dict(configured)
        self.max_age_ns = int(max_age_ns)
        self.min_size_m = float(min_size_m)
        self.history = int(history)
        self._extents: dict[tuple[int, str], deque[tuple[int, tuple[float, float, float], str]]] = {}
        self.counts: Counter[str] = Counter()            # source kind -> frames
        self.by_object: dict[str, Counter[str]] = {}     # object name -> source -> frames

    def add_extent(self, stamp_ns: int, track_id: int, object_name: str, size: tuple[float, float, float],
                   method: str = "") -> bool:
        """Record a measured box; returns False (ignored) when a side is not finite or not positive."""
        s = np.asarray(size, dtype=np.float64).reshape(-1)
        if s.shape != (3,) or not np.all(np.isfinite(s)) or not np.all(s > 0):
            return False
        key = (int(track_id), str(object_name))
        q = self._extents.get(key)
        if q is None:
            q = self._extents[key] = deque(maxlen=self.history)
        q.append((int(stamp_ns), (float(s[0]), float(s[1]), float(s[2])), str(method)))
        return True

    def drop_older_than(self, stamp_ns: int) -> None:
        """Forget measured boxes older than ``stamp_ns`` - max age (tracks that ended)."""
        limit = int(stamp_ns) - self.max_age_ns
        for key in [k for k, q in self._extents.items() if not q or q[-1][0] < limit]:
            del self._extents[key]

    def measured(self, track_id: int, object_name: str, stamp_ns: int) -> ShapeChoice | None:
        q = self._extents.get((int(track_id), str(object_name)))
        if not q:
            return None
        tol = self.max_age_ns if track_id else 0  # an untracked pose (id 0) matches its own stamp only
        stamp, size, method = min(q, key=lambda e: abs(e[0] - stamp_ns))
        if abs(stamp - stamp_ns) > tol:
            return None
        shape = ObjectShape("box", tuple(max(v, self.min_size_m) for v in size))
        how = method or "objects node"
        return ShapeChoice(shape, f"{MEASURED}:{how}",
                           f"{describe(shape)} measured by the objects node ({how}, track {track_id})")

    def resolve(self, object_name: str, track_id: int, stamp_ns: int) -> ShapeChoice | None:
        """The frame's render primitive, or None (rules in the module doc); counted per source."""
        shape = self.configured.get(object_name)
        choice = (ShapeChoice(shape, CONFIGURED, f"{describe(shape)} from object_shapes") if shape is not None
                  else self.measured(track_id, object_name, stamp_ns))
        kind = "none" if choice is None else (MEASURED if choice.measured else CONFIGURED)
        self.counts[kind] += 1
        self.by_object.setdefault(str(object_name), Counter())[kind if choice is None else choice.source] += 1
        return choice

    def summary(self) -> dict[str, dict[str, int]]:
        """Frames per object name and shape source (report)."""
        return {name: dict(c) for name, c in sorted(self.by_object.items())}
