"""Fusion of per-group Sparse4D tracks into global ids (pure numpy, no ROS).

Each BEV group runs its own tracker with its own ids. In overlap regions the
same object is seen by several groups; this core gives it one global id:

1. A (group, local id) pair keeps the global id it got once (stable ids).
2. A new local track is matched, per group, to global objects seen this frame by
   other groups, then to recently seen ones (position predicted by velocity):
   Hungarian on 3D centre distance, gated by ``match_distance_m`` and the class.
   A match hands the existing global id over; no match opens a new global id.
3. Two global objects seen by different groups that now coincide (distance +
   class) are merged into the older id, so a duplicate made before the overlap
   was reached does not last.
4. Mappings and global objects unseen for ``max_age_s`` are dropped.
The fused box is the score-weighted mean position of the members, with size and
yaw of the best-scored member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from hoi_perception.sparse4d.decode import Track3D
from hoi_perception.sparse4d.groups import FusionParams

_BIG = 1e9


@dataclass
class _Global:
    gid: int
    class_name: str
    position: np.ndarray
    velocity: np.ndarray
    last_ns: int
    first_ns: int
    track: Track3D | None = None
    groups: set[str] = field(default_factory=set)


@dataclass
class FusedTrack:
    track: Track3D  # track_id is the global id
    groups: list[str]
    members: list[tuple[str, int]]


class TrackFusion:
    def __init__(self, params: FusionParams | None = None) -> None:
        self.params = params or FusionParams()
        self.local_to_global: dict[tuple[str, int], int] = {}
        self._local_seen: dict[tuple[str, int], int] = {}
        self.globals: dict[int, _Global] = {}
        self.next_gid = 1
        self.counters = {"handovers": 0, "merges": 0, "new_global": 0}

    def reset(self) -> None:
        self.local_to_global.clear()
        self._local_seen.clear()
        self.globals.clear()

    def _cost(self, tracks: Sequence[Track3D], pos: np.ndarray, cls: list[str]) -> np.ndarray:
        if not tracks or pos.shape[0] == 0:
            return np.zeros((len(tracks), pos.shape[0]))
        tp = np.stack([t.position for t in tracks])
        d = np.linalg.norm(tp[:, None, :] - pos[None, :, :], axis=2)
        if self.params.class_must_match:
            same = np.array([[t.class_name == c for c in cls] for t in tracks])
            d[~same] = _BIG
        d[d > self.params.match_distance_m] = _BIG
        return d

    def update(self, group_tracks: Mapping[str, Sequence[Track3D]], stamp_ns: int) -> list[FusedTrack]:
        p = self.params
        members: dict[int, list[tuple[str, Track3D]]] = {}
        unmapped: dict[str, list[Track3D]] = {}
        for g, tracks in group_tracks.items():
            for t in tracks:
                key = (g, t.track_id)
                gid = self.local_to_global.get(key)
                if gid is not None and gid in self.globals:
                    members.setdefault(gid, []).append((g, t))
                    self._local_seen[key] = stamp_ns
                else:
                    unmapped.setdefault(g, []).append(t)

        for g, tracks in unmapped.items():
            claimed = {gid for gid, ms in members.items() if any(mg == g for mg, _ in ms)}
            seen_now = [gid for gid in members if gid not in claimed]
            recent = [
                gid for gid, o in self.globals.items()
                if gid not in members and (stamp_ns - o.last_ns) * 1e-9 <= p.max_age_s
            ]
            remaining = list(tracks)
            for pool in (seen_now, recent):
                if not remaining or not pool:
                    continue
                pos = []
                for gid in pool:
                    if gid in members:
                        pos.append(np.mean([t.position for _, t in members[gid]], axis=0))
                    else:
                        o = self.globals[gid]
                        pos.append(o.position + o.velocity * (stamp_ns - o.last_ns) * 1e-9)
                cost = self._cost(remaining, np.array(pos), [self.globals[gid].class_name for gid in pool])
                r, c = linear_sum_assignment(cost)
                taken = set()
                for i, j in zip(r, c, strict=True):
                    if cost[i, j] >= _BIG:
                        continue
                    gid = pool[j]
                    members.setdefault(gid, []).append((g, remaining[i]))
                    self.local_to_global[(g, remaining[i].track_id)] = gid
                    self._local_seen[(g, remaining[i].track_id)] = stamp_ns
                    self.counters["handovers"] += 1
                    taken.add(i)
                remaining = [t for i, t in enumerate(remaining) if i not in taken]
            for t in remaining:
                gid = self.next_gid
                self.next_gid += 1
                self.counters["new_global"] += 1
                self.globals[gid] = _Global(gid, t.class_name, t.position.copy(), t.velocity.copy(), stamp_ns, stamp_ns)
                members[gid] = [(g, t)]
                self.local_to_global[(g, t.track_id)] = gid
                self._local_seen[(g, t.track_id)] = stamp_ns

        self._merge_duplicates(members)

        out = []
        for gid, ms in sorted(members.items()):
            w = np.array([max(t.score, 1e-3) for _, t in ms])
            pos = np.sum([t.position * wi for (_, t), wi in zip(ms, w, strict=True)], axis=0) / w.sum()
            vel = np.sum([t.velocity * wi for (_, t), wi in zip(ms, w, strict=True)], axis=0) / w.sum()
            best = max(ms, key=lambda m: m[1].score)[1]
            fused = replace(best, track_id=gid, position=pos, velocity=vel, stamp_ns=int(stamp_ns))
            o = self.globals[gid]
            o.position, o.velocity, o.last_ns, o.track = pos, vel, int(stamp_ns), fused
            o.groups = {g for g, _ in ms}
            out.append(FusedTrack(fused, sorted(o.groups), [(g, t.track_id) for g, t in ms]))

        horizon = p.max_age_s * 1e9
        for key, seen in list(self._local_seen.items()):
            if stamp_ns - seen > horizon:
                del self._local_seen[key]
                self.local_to_global.pop(key, None)
        for gid, o in list(self.globals.items()):
            if stamp_ns - o.last_ns > horizon:
                del self.globals[gid]
        return out

    def _merge_duplicates(self, members: dict[int, list[tuple[str, Track3D]]]) -> None:
        gids = sorted(members)
        for i, a in enumerate(gids):
            if a not in members:
                continue
            for b in gids[i + 1 :]:
                if b not in members or a not in members:
                    continue
                ga = {g for g, _ in members[a]}
                gb = {g for g, _ in members[b]}
                if ga & gb:
                    continue  # one group sees both: two objects
                if self.params.class_must_match and self.globals[a].class_name != self.globals[b].class_name:
                    continue
                pa = np.mean([t.position for _, t in members[a]], axis=0)
                pb = np.mean([t.position for _, t in members[b]], axis=0)
                if np.linalg.norm(pa - pb) > self.params.match_distance_m:
                    continue
                keep, drop = (a, b) if self.globals[a].first_ns <= self.globals[b].first_ns else (b, a)
                members[keep].extend(members.pop(drop))
                for key, gid in list(self.local_to_global.items()):
                    if gid == drop:
                        self.local_to_global[key] = keep
                self.globals.pop(drop, None)
                self.counters["merges"] += 1
