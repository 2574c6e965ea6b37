"""Object surfaces for contact tests: a dense point sample in the object frame with a KD-tree.

A surface comes from a registered mesh (area-weighted samples plus the
vertices, so a mesh vertex index can be reported), from observed points
(depth inside the object's region), or from nothing better than the object's
box extent. Queries transform points into the object frame once; the tree is
built once per mesh and reused for every frame.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree


@dataclass
class ObjectSurface:
    """Surface samples (N, 3) in the object frame; ``vertex_of_sample[i]`` is the mesh vertex a sample
    belongs to (nearest vertex), -1 where the surface has no mesh. ``source`` says where it came from."""

    samples: NDArray[np.float64]
    vertex_of_sample: NDArray[np.int64]
    source: str
    vertices: NDArray[np.float64] | None = None
    faces: NDArray[np.int64] | None = None
    _tree: cKDTree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[1] != 3 or len(self.samples) == 0:
            raise ValueError(f"surface needs (N>0, 3) samples, got {self.samples.shape}")
        if not np.all(np.isfinite(self.samples)):
            raise ValueError("surface samples must be finite")
        self._tree = cKDTree(self.samples)

    @property
    def has_mesh(self) -> bool:
        return self.vertices is not None

    def distance(self, points_object: ArrayLike, max_distance: float = np.inf
                 ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(distance to the nearest sample, sample index) for object-frame points (K, 3); points farther
        than ``max_distance`` get inf and index -1 (a bounded search is much cheaper for far points)."""
        p = np.asarray(points_object, dtype=np.float64).reshape(-1, 3)
        if len(p) == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        d, i = self._tree.query(p, k=1, distance_upper_bound=max_distance)
        i = np.asarray(i, dtype=np.int64)
        i[~np.isfinite(d)] = -1
        return np.asarray(d, dtype=np.float64), i

    def samples_within(self, points_object: ArrayLike, radius: float) -> NDArray[np.int64]:
        """Indices of surface samples within ``radius`` of any of the points (sorted, unique)."""
        p = np.asarray(points_object, dtype=np.float64).reshape(-1, 3)
        if len(p) == 0:
            return np.zeros(0, dtype=np.int64)
        hits = self._tree.query_ball_point(p, r=radius)
        if not any(len(h) for h in hits):
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]))

    def extent_radius(self) -> float:
        r = getattr(self, "_radius", None)
        if r is None:
            r = self._radius = float(np.max(np.linalg.norm(self.samples, axis=1)))
        return r


@dataclass
class BoxSurface(ObjectSurface):
    """A centred box: distances to its faces are exact (closed form, no sample spacing error and no
    tree query for far points); samples (coarser than a mesh's) only name contact points."""

    half_extent: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))

    def distance(self, points_object: ArrayLike, max_distance: float = np.inf
                 ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        p = np.asarray(points_object, dtype=np.float64).reshape(-1, 3)
        if len(p) == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        q = np.abs(p) - self.half_extent
        # outside: distance to the box; inside: to the nearest face (unsigned, as for sampled surfaces)
        d = np.linalg.norm(np.maximum(q, 0.0), axis=1) - np.minimum(q.max(axis=1), 0.0)
        idx = np.full(len(p), -1, dtype=np.int64)
        near = d <= max_distance
        if near.any():
            idx[near] = np.asarray(self._tree.query(p[near], k=1)[1], dtype=np.int64)
        d = np.where(near, d, np.inf)
        return d, idx


def sample_mesh(vertices: ArrayLike, faces: ArrayLike, spacing_m: float = 0.005, seed: int = 0
                ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Area-weighted surface samples (about one per ``spacing_m``^2) plus every vertex, and each sample's
    nearest mesh vertex index."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(f"mesh needs vertices (V, 3) and faces (F, 3), got {v.shape} and {f.shape}")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError("mesh faces index outside the vertex list")
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    n = int(min(max(area.sum() / spacing_m**2, 1), 400_000))
    rng = np.random.default_rng(seed)
    tri = rng.choice(len(f), size=n, p=area / area.sum()) if area.sum() > 0 else np.zeros(0, dtype=np.int64)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    pts = (1 - s)[:, None] * a[tri] + (s * (1 - r2))[:, None] * b[tri] + (s * r2)[:, None] * c[tri]
    samples = np.concatenate([v, pts])
    _, nearest = cKDTree(v).query(samples, k=1)
    return samples, np.asarray(nearest, dtype=np.int64)


def surface_from_mesh(vertices: ArrayLike, faces: ArrayLike, source: str, spacing_m: float = 0.005) -> ObjectSurface:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    samples, owner = sample_mesh(v, f, spacing_m)
    return ObjectSurface(samples, owner, source, vertices=v, faces=f)


def surface_from_points(points_object: ArrayLike, source: str = "depth") -> ObjectSurface:
    p = np.asarray(points_object, dtype=np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    return ObjectSurface(p, np.full(len(p), -1, dtype=np.int64), source)


def surface_from_box(size: ArrayLike, spacing_m: float = 0.01, source: str = "box-extent",
                     exact: bool = False) -> ObjectSurface:
    """Surface of a centred box of extents ``size`` (when only an object's box is known). ``exact``:
    a :class:`BoxSurface` (closed-form distances; the samples may then be coarse)."""
    from hoi_perception.scene.meshes import box_mesh

    size = np.asarray(size, dtype=np.float64)
    v, f = box_mesh(size, max_edge=max(spacing_m * 3, 0.01))
    samples, _ = sample_mesh(v, f, spacing_m)
    if exact:
        return BoxSurface(samples, np.full(len(samples), -1, dtype=np.int64), source, half_extent=size / 2.0)
    return ObjectSurface(samples, np.full(len(samples), -1, dtype=np.int64), source)


# ----------------------------------------------------------------------------- mesh files
def resolve_mesh_uri(uri: str, search_dirs: list[Path] | None = None) -> Path:
    """``file://`` URI or plain path -> file. ``package://`` URIs resolve through paths.share_dir."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "package":
        from hoi_perception.paths import share_dir

        return share_dir(parsed.netloc) / unquote(parsed.path).lstrip("/")
    if parsed.scheme not in ("",):
        raise ValueError(f"unsupported mesh URI scheme {parsed.scheme!r} in {uri!r} (file://, package:// or a path)")
    p = Path(uri)
    if not p.is_absolute() and search_dirs:
        for d in search_dirs:
            if (d / p).is_file():
                return d / p
    return p


def load_mesh(path: str | Path) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(vertices, faces) from .npz (arrays ``vertices``/``faces``, or SMPL-style ``v_template``/``f``) or a
    Wavefront .obj (v and f lines; polygons fanned into triangles). Metres, object frame."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"mesh file {p} does not exist")
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                keys = set(z.files)
                vk = "vertices" if "vertices" in keys else "v_template" if "v_template" in keys else None
                fk = "faces" if "faces" in keys else "f" if "f" in keys else None
                if vk is None or fk is None:
                    raise ValueError(f"{p.name}: needs arrays 'vertices' and 'faces' (or 'v_template' and 'f'), "
                                     f"has {sorted(keys)}")
                v, f = np.asarray(z[vk], dtype=np.float64), np.asarray(z[fk], dtype=np.int64)
        except (zipfile.BadZipFile, OSError) as e:
            raise ValueError(f"{p.name}: not a readable .npz ({e})") from e
    elif p.suffix == ".obj":
        verts, faces = [], []
        for line in p.read_text(errors="replace").splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "v" and len(parts) >= 4:
                verts.append([float(x) for x in parts[1:4]])
            elif parts[0] == "f" and len(parts) >= 4:
                idx = [int(t.split("/")[0]) for t in parts[1:]]
                idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                faces += [[idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1)]
        v, f = np.asarray(verts, dtype=np.float64).reshape(-1, 3), np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    else:
        raise ValueError(f"unsupported mesh format {p.suffix!r} ({p.name}): use .npz or .obj")
    if len(v) == 0 or len(f) == 0 or f.min() < 0 or f.max() >= len(v) or not np.all(np.isfinite(v)):
        raise ValueError(f"{p.name}: empty or inconsistent mesh ({len(v)} vertices, {len(f)} faces)")
    return v, f


def save_mesh_npz(path: str | Path, vertices: ArrayLike, faces: ArrayLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, vertices=np.asarray(vertices, dtype=np.float64), faces=np.asarray(faces, dtype=np.int64))
    return p
