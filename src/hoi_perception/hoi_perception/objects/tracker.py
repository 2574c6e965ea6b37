"""3D object tracking: constant-velocity Kalman filter per object, Hungarian
assignment (scipy) on gated 3D distance within a class, occlusion-tolerant.

* A track survives ``max_missed_s`` seconds without a detection (occluded by
  the person carrying it, out of the detector's reach for a few frames); its
  position is predicted meanwhile and it is not published while unseen.
* A track is published once it has ``min_hits`` detections (no one-frame
  ghosts).
* Ids reuse Sparse4D's: ``update(..., external=[(track_id, class, position)])``
  with the multi-camera tracker's tracks in the same frame; a new track that
  lies within ``external_gate_m`` of an external track of its class takes
  that id (and keeps it), so the same box has the same id on /hoi/tracks and
  /hoi/objects. Own ids never collide with external ids seen so far.
* Orientation: a box's axes are ambiguous up to its symmetries; each update
  keeps the representative nearest the track's previous orientation, then
  blends it (slerp) to damp jitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation, Slerp

from hoi_perception.objects.pose import box_symmetries, nearest_symmetric


@dataclass
class ObjectObservation:
    hoi_class: str
    position: NDArray[np.float64]  # (3,) in the tracking frame
    rotation: NDArray[np.float64]  # (3, 3)
    size: NDArray[np.float64]
    score: float
    method: str
    payload: object = None  # caller's data carried to the output (detection, mesh...)


@dataclass
class ObjectTrack:
    track_id: int
    hoi_class: str
    x: NDArray[np.float64]  # (6,) position, velocity
    p: NDArray[np.float64]  # (6, 6)
    rotation: NDArray[np.float64]
    size: NDArray[np.float64]
    score: float
    method: str
    last_seen_s: float
    hits: int = 1
    missed: int = 0
    external_id: int | None = None
    payload: object = None
    history: list[float] = field(default_factory=list)

    @property
    def position(self) -> NDArray[np.float64]:
        return self.x[:3]

    @property
    def velocity(self) -> NDArray[np.float64]:
        return self.x[3:]


class ObjectTracker:
    def __init__(self, gate_m: float = 0.5, max_missed_s: float = 1.5, min_hits: int = 2,
                 process_noise: float = 2.0, measurement_noise_m: float = 0.03, external_gate_m: float = 0.6,
                 rotation_smoothing: float = 0.5) -> None:
        self.gate_m, self.max_missed_s, self.min_hits = gate_m, max_missed_s, min_hits
        self.q, self.r = process_noise, measurement_noise_m ** 2
        self.external_gate_m, self.rotation_smoothing = external_gate_m, rotation_smoothing
        self.tracks: list[ObjectTrack] = []
        self._next_id = 1
        self._external_ids: set[int] = set()
        self._t: float | None = None
        self.counters = {"created": 0, "deleted": 0, "external_id_reused": 0, "reset": 0}

    def reset(self) -> None:
        self.tracks.clear()
        self._t = None
        self.counters["reset"] += 1

    def _new_id(self) -> int:
        while self._next_id in self._external_ids or any(t.track_id == self._next_id for t in self.tracks):
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    def _predict(self, dt: float) -> None:
        f = np.eye(6)
        f[:3, 3:] = np.eye(3) * dt
        # white-acceleration noise
        g = np.concatenate([np.eye(3) * dt * dt / 2, np.eye(3) * dt])
        qm = g @ g.T * self.q ** 2
        for t in self.tracks:
            t.x = f @ t.x
            t.p = f @ t.p @ f.T + qm

    def update(self, stamp_s: float, observations: list[ObjectObservation],
               external: list[tuple[int, str, NDArray[np.float64]]] | None = None) -> list[ObjectTrack]:
        """Advance to ``stamp_s`` and assign ``observations``; returns the confirmed tracks seen this frame."""
        if self._t is not None and stamp_s < self._t - 1e-6:
            self.reset()  # time went backwards (bag loop)
        dt = 0.0 if self._t is None else max(0.0, stamp_s - self._t)
        self._t = stamp_s
        self._predict(dt)
        ext = list(external or [])
        self._external_ids.update(e[0] for e in ext)
        n, m = len(self.tracks), len(observations)
        matched_t: set[int] = set()
        matched_o: set[int] = set()
        if n and m:
            cost = np.full((n, m), 1e6)
            for i, t in enumerate(self.tracks):
                for j, o in enumerate(observations):
                    if o.hoi_class != t.hoi_class:
                        continue
                    d = float(np.linalg.norm(o.position - t.position))
                    # the gate grows with the time the track has been unseen
                    gate = self.gate_m + float(np.linalg.norm(t.velocity)) * dt + 0.5 * t.missed * self.gate_m
                    if d <= gate:
                        cost[i, j] = d
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if cost[i, j] < 1e6:
                    self._correct(self.tracks[i], observations[j], stamp_s)
                    matched_t.add(i)
                    matched_o.add(j)
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.missed += 1
        for j, o in enumerate(observations):
            if j in matched_o:
                continue
            tid, ext_id = None, None
            for eid, ecls, epos in ext:
                if ecls == o.hoi_class and np.linalg.norm(np.asarray(epos) - o.position) <= self.external_gate_m \
                        and not any(t.track_id == eid for t in self.tracks):
                    tid, ext_id = int(eid), int(eid)
                    self.counters["external_id_reused"] += 1
                    break
            if tid is None:
                tid = self._new_id()
            x = np.concatenate([o.position, np.zeros(3)])
            p = np.diag([self.r] * 3 + [1.0] * 3)
            self.tracks.append(ObjectTrack(tid, o.hoi_class, x, p, o.rotation.copy(), o.size.copy(), o.score,
                                           o.method, stamp_s, external_id=ext_id, payload=o.payload))
            self.counters["created"] += 1
        before = len(self.tracks)
        self.tracks = [t for t in self.tracks if stamp_s - t.last_seen_s <= self.max_missed_s]
        self.counters["deleted"] += before - len(self.tracks)
        return [t for t in self.tracks if t.missed == 0 and t.hits >= self.min_hits]

    def _correct(self, t: ObjectTrack, o: ObjectObservation, stamp_s: float) -> None:
        h = np.zeros((3, 6))
        h[:, :3] = np.eye(3)
        s = h @ t.p @ h.T + np.eye(3) * self.r
        kg = t.p @ h.T @ np.linalg.inv(s)
        t.x = t.x + kg @ (o.position - h @ t.x)
        t.p = (np.eye(6) - kg @ h) @ t.p
        square = abs(o.size[0] - o.size[1]) < 0.1 * max(o.size[0], 1e-6)
        r_new = nearest_symmetric(o.rotation, t.rotation, box_symmetries(square))
        a = self.rotation_smoothing
        if a > 0:
            rots = Rotation.from_matrix(np.stack([t.rotation, r_new]))
            r_new = Slerp([0.0, 1.0], rots)(1.0 - a).as_matrix()
        t.rotation = r_new
        t.size = 0.7 * t.size + 0.3 * o.size
        t.score, t.method, t.payload = o.score, o.method, o.payload
        t.last_seen_s = stamp_s
        t.hits += 1
        t.missed = 0
