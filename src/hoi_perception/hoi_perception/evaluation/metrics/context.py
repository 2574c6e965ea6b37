"""What a metric family reads: the source bag (ground truth, /tf_static), the
recording of the graph's outputs, the replay's bookkeeping, and options.
Messages are deserialized with rosbags (no rclpy), once, on first use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def quat_xyzw_to_matrix(q: Any) -> NDArray[np.float64]:
    x, y, z, w = (float(q.x), float(q.y), float(q.z), float(q.w))
    n = np.sqrt(x * x + y * y + z * z + w * w)
    if n < 1e-12:
        return np.eye(3)
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def pose_matrix(pose: Any) -> NDArray[np.float64]:
    """geometry_msgs/Pose -> 4x4."""
    m = np.eye(4)
    m[:3, :3] = quat_xyzw_to_matrix(pose.orientation)
    m[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return m


class StaticTree:
    """/tf_static of the bag: parent_from_child per child, chained lookups (ROS-free)."""

    def __init__(self) -> None:
        self.by_child: dict[str, tuple[str, NDArray[np.float64]]] = {}

    def add(self, t: Any) -> None:
        m = np.eye(4)
        m[:3, :3] = quat_xyzw_to_matrix(t.transform.rotation)
        tr = t.transform.translation
        m[:3, 3] = [tr.x, tr.y, tr.z]
        self.by_child[str(t.child_frame_id)] = (str(t.header.frame_id), m)

    def _to_top(self, frame: str) -> tuple[str, NDArray[np.float64]]:
        m, cur = np.eye(4), frame
        for _ in range(64):
            link = self.by_child.get(cur)
            if link is None:
                return cur, m
            parent, parent_from_cur = link
            m = parent_from_cur @ m
            cur = parent
        return cur, m

    def lookup(self, target: str, source: str) -> NDArray[np.float64] | None:
        """target_from_source when both frames hang from one tree, else None."""
        if target == source:
            return np.eye(4)
        top_s, top_from_source = self._to_top(source)
        top_t, top_from_target = self._to_top(target)
        if top_s != top_t:
            return None
        return np.linalg.inv(top_from_target) @ top_from_source


@dataclass
class EvalContext:
    bag: Path
    recording: Path | None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    replay: dict[str, Any] | None = None
    bag_topics: dict[str, str] = field(default_factory=dict)
    output_topics: dict[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    _tree: StaticTree | None = None
    bag_start_ns: int = 0

    @classmethod
    def open(cls, bag: Path | str, recording: Path | str | None, options: dict[str, dict[str, Any]] | None = None,
             replay: dict[str, Any] | Path | None = None) -> EvalContext:
        from hoi_perception.bag.io import BagReader

        bag = Path(bag)
        with BagReader(bag) as r:
            bag_topics = {t: i.msgtype for t, i in r.topics().items()}
            start = r.start_time_ns
        out_topics: dict[str, str] = {}
        if recording is not None and Path(recording).exists():
            with BagReader(recording) as r:
                out_topics = {t: i.msgtype for t, i in r.topics().items() if i.count > 0}
        if isinstance(replay, Path):
            replay = json.loads(replay.read_text()) if replay.exists() else None
        return cls(bag, Path(recording) if recording is not None else None, dict(options or {}), replay,
                   bag_topics, out_topics, bag_start_ns=start)

    def option(self, family: str, key: str, default: Any) -> Any:
        return self.options.get(family, {}).get(key, default)

    def messages(self, source: str, topic: str) -> list[tuple[int, Any]]:
        """[(header stamp ns, rosbags message)] of ``topic`` in ``source`` ('bag' or 'recording'), log order."""
        key = (source, topic)
        if key not in self._cache:
            from hoi_perception.bag.io import BagReader

            path = self.bag if source == "bag" else self.recording
            out: list[tuple[int, Any]] = []
            if path is not None:
                with BagReader(path) as r:
                    for m in r.messages([topic]):
                        msg = r.deserialize(m)
                        out.append((stamp_ns(msg) if hasattr(msg, "header") else m.log_time_ns, msg))
            self._cache[key] = out
        return self._cache[key]

    def outputs_of_type(self, msgtype: str) -> list[str]:
        return sorted(t for t, ty in self.output_topics.items() if ty == msgtype)

    def tree(self) -> StaticTree:
        if self._tree is None:
            self._tree = StaticTree()
            if "/tf_static" in self.bag_topics:
                for _, msg in self.messages("bag", "/tf_static"):
                    for t in msg.transforms:
                        self._tree.add(t)
        return self._tree

    def t_s(self, stamp: int) -> float:
        """Seconds since the bag's start (the x axis of every series)."""
        return (stamp - self.bag_start_ns) / 1e9


def nearest(stamps: NDArray[np.int64], s: int, tolerance_ns: int) -> int | None:
    """Index of the stamp nearest ``s`` within ``tolerance_ns``, else None."""
    if not len(stamps):
        return None
    k = int(np.argmin(np.abs(stamps - s)))
    return k if abs(int(stamps[k]) - s) <= tolerance_ns else None


def finite_stats(values: list[float] | NDArray[np.float64]) -> dict[str, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return {"mean": float("nan"), "median": float("nan"), "p90": float("nan"), "n": 0}
    return {"mean": float(v.mean()), "median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
            "n": int(len(v))}
