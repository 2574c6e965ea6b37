"""Camera groups (BEV groups): overlapping partitions of the static cameras, one Sparse4D instance each.

The card partitions large regions "into overlapping groups called Bird's Eye
View (BEV) group"; each group is a training/inference unit, optionally
recentred on its own origin (TAO data service: x, y minus the group origin).
YAML layout: see config/camera_groups.yaml.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


@dataclass
class CameraGroup:
    name: str
    cameras: list[str]
    origin_xy: tuple[float, float] = (0.0, 0.0)


@dataclass
class FusionParams:
    match_distance_m: float = 1.0
    class_must_match: bool = True
    max_age_s: float = 1.0


@dataclass
class CameraGroupsConfig:
    groups: list[CameraGroup]
    fusion: FusionParams = field(default_factory=FusionParams)

    def group(self, name: str) -> CameraGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def all_cameras(self) -> list[str]:
        seen: list[str] = []
        for g in self.groups:
            seen.extend(c for c in g.cameras if c not in seen)
        return seen

    def overlaps(self) -> dict[tuple[str, str], list[str]]:
        """Shared cameras per pair of groups (only pairs that share at least one)."""
        out = {}
        for i, a in enumerate(self.groups):
            for b in self.groups[i + 1 :]:
                shared = [c for c in a.cameras if c in b.cameras]
                if shared:
                    out[(a.name, b.name)] = shared
        return out

    def validate(self, known_cameras: list[str] | None = None) -> list[str]:
        """Problems as strings (empty list = fine); raises only on structural errors."""
        problems = []
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate group names: {names}")
        for g in self.groups:
            if not g.cameras:
                raise ValueError(f"group {g.name} has no cameras")
            if len(set(g.cameras)) != len(g.cameras):
                raise ValueError(f"group {g.name} lists a camera twice")
        if known_cameras is not None:
            for g in self.groups:
                for c in g.cameras:
                    if c not in known_cameras:
                        problems.append(f"group {g.name}: unknown camera {c}")
            for c in known_cameras:
                if c not in self.all_cameras():
                    problems.append(f"camera {c} is in no group")
        if len(self.groups) > 1:
            linked = {n: False for n in names}
            for a, b in self.overlaps():
                linked[a] = linked[b] = True
            for n, ok in linked.items():
                if not ok:
                    problems.append(f"group {n} overlaps no other group: ids cannot be handed over")
        for p in problems:
            log.warning("camera groups: %s", p)
        return problems


def parse_camera_groups(data: dict) -> CameraGroupsConfig:
    groups = []
    for g in data.get("groups", []):
        origin = g.get("origin", [0.0, 0.0])
        groups.append(CameraGroup(str(g["name"]), [str(c) for c in g["cameras"]], (float(origin[0]), float(origin[1]))))
    f = data.get("fusion", {}) or {}
    fusion = FusionParams(
        match_distance_m=float(f.get("match_distance_m", 1.0)),
        class_must_match=bool(f.get("class_must_match", True)),
        max_age_s=float(f.get("max_age_s", 1.0)),
    )
    cfg = CameraGroupsConfig(groups, fusion)
    cfg.validate()
    return cfg


def load_camera_groups(path: str | Path) -> CameraGroupsConfig:
    with open(path, encoding="utf-8") as fh:
        return parse_camera_groups(yaml.safe_load(fh) or {})
