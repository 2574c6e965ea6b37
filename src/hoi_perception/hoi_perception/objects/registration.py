"""Mesh-to-points registration for objects with a known mesh.

A class -> mesh map (config/object_meshes.yaml: mesh file, scale) names the
meshes; trimesh loads them and samples the surface once. Each frame the
object's observed points (camera frame, one side of the object only) are
aligned INTO the full mesh sample (source = observation, target = mesh), so
hidden faces simply have no correspondences, with small_gicp's point-to-plane
ICP, coarse to fine, from one or several initial poses (the OBB pose and its
box symmetries, the previous frame's pose). The pose with the most inliers
wins; its score is the inlier fraction.

small_gicp was chosen over Open3D by measurement (docs/objects.md,
scripts/bench_objects.py): same accuracy on the unit-test clouds, a
0.4 MB wheel against Open3D's 400 MB, and faster per registration here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree


@dataclass
class MeshModel:
    name: str
    path: str
    points: NDArray[np.float64]  # (N, 3) surface samples, object frame, metres
    extents: NDArray[np.float64]  # (3,) axis-aligned size of the mesh
    tree: cKDTree


@dataclass
class RegistrationResult:
    cam_from_object: NDArray[np.float64]  # 4x4
    inlier_fraction: float
    rmse: float  # metres over inliers
    iterations: int
    hypotheses: int


def mesh_from_arrays(name: str, vertices: NDArray[np.float64], faces: NDArray[np.int64], scale: float = 1.0,
                     n_points: int = 4000, seed: int = 0, path: str = "") -> MeshModel:
    import trimesh

    mesh = trimesh.Trimesh(np.asarray(vertices, dtype=np.float64) * scale, np.asarray(faces), process=False)
    return _model_from_trimesh(name, mesh, n_points, seed, path)


def load_mesh(name: str, path: str | Path, scale: float = 1.0, n_points: int = 4000, seed: int = 0) -> MeshModel:
    """Load a mesh file (anything trimesh reads: PLY, OBJ, STL, GLB...) scaled to metres."""
    import trimesh

    mesh = trimesh.load(str(path), force="mesh", process=False)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: not a triangle mesh")
    mesh.apply_scale(float(scale))
    return _model_from_trimesh(name, mesh, n_points, seed, str(path))


def _model_from_trimesh(name: str, mesh: Any, n_points: int, seed: int, path: str) -> MeshModel:
    import trimesh

    pts, _ = trimesh.sample.sample_surface_even(mesh, n_points, seed=seed)
    if len(pts) < n_points // 2:  # even sampling can reject many on thin meshes
        pts, _ = trimesh.sample.sample_surface(mesh, n_points, seed=seed)
    pts = np.asarray(pts, dtype=np.float64)
    return MeshModel(name, path, pts, np.asarray(mesh.extents, dtype=np.float64), cKDTree(pts))


def load_mesh_map(config: dict[str, Any], base_dir: Path | None = None, n_points: int = 4000) -> dict[str, MeshModel]:
    """{class: MeshModel} from the YAML mapping {class: {mesh: path, scale: s}}; relative paths
    are resolved against ``base_dir``."""
    out = {}
    for cls, entry in (config or {}).items():
        p = Path(str(entry["mesh"])).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        out[str(cls)] = load_mesh(str(cls), p, float(entry.get("scale", 1.0)), n_points)
    return out


def _inv(t: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


class MeshRegistrar:
    """Registers observed points to a MeshModel (backend "small_gicp" or "open3d")."""

    def __init__(self, backend: str = "small_gicp", inlier_m: float = 0.01, coarse_m: float = 0.08,
                 fine_m: float = 0.02, voxel_m: float = 0.005, max_iterations: int = 30, num_threads: int = 1) -> None:
        if backend not in ("small_gicp", "open3d"):
            raise ValueError(f"unknown registration backend {backend!r}")
        self.backend = backend
        self.inlier_m, self.coarse_m, self.fine_m = inlier_m, coarse_m, fine_m
        self.voxel_m, self.max_iterations, self.num_threads = voxel_m, max_iterations, num_threads

    def _align(self, target: NDArray[np.float64], source: NDArray[np.float64], init: NDArray[np.float64],
               max_corr: float) -> tuple[NDArray[np.float64], int]:
        if self.backend == "small_gicp":
            import small_gicp

            r = small_gicp.align(target, source, init, registration_type="PLANE_ICP",
                                 downsampling_resolution=self.voxel_m, max_correspondence_distance=max_corr,
                                 num_threads=self.num_threads, max_iterations=self.max_iterations)
            return np.asarray(r.T_target_source), int(r.iterations)
        import open3d as o3d

        tgt = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(target))
        tgt.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=4 * self.voxel_m + 0.01, max_nn=20))
        src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(source)).voxel_down_sample(self.voxel_m)
        r = o3d.pipelines.registration.registration_icp(
            src, tgt, max_corr, init, o3d.pipelines.registration.TransformationEstimationPointToPlane(),
            o3d.pipelines.registration.ICPConvergenceCriteria(max_iteration=self.max_iterations))
        return np.asarray(r.transformation), self.max_iterations

    def register(self, model: MeshModel, observed: NDArray[np.float64],
                 inits: list[NDArray[np.float64]], accept_inliers: float = 0.85,
                 n_preferred: int = 0, prefer_margin: float = 0.05) -> RegistrationResult | None:
        """Best alignment over the initial cam_from_object poses ``inits`` (tried in order; a
        preferred one reaching ``accept_inliers`` is taken at once); None without points. The best of the first ``n_preferred`` inits (previous poses) is kept
        unless another init beats it by more than ``prefer_margin`` inlier fraction: a nearly
        square box fits almost as well turned by 90 deg, and the id's orientation must not flip."""
        obs = np.asarray(observed, dtype=np.float64)
        if len(obs) < 10 or not inits:
            return None
        best: RegistrationResult | None = None
        preferred: RegistrationResult | None = None
        for i, init in enumerate(inits):
            t = _inv(np.asarray(init, dtype=np.float64))  # object_from_cam: target (mesh) <- source (camera)
            t, it1 = self._align(model.points, obs, t, self.coarse_m)
            t, it2 = self._align(model.points, obs, t, self.fine_m)
            d, _ = model.tree.query(obs @ t[:3, :3].T + t[:3, 3], distance_upper_bound=self.inlier_m * 3)
            inl = d < self.inlier_m
            frac = float(inl.mean())
            rmse = float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else float("inf")
            cand = RegistrationResult(_inv(t), frac, rmse, it1 + it2, len(inits))
            if best is None or (frac, -rmse) > (best.inlier_fraction, -best.rmse):
                best = cand
            if i < n_preferred and (preferred is None or frac > preferred.inlier_fraction):
                preferred = cand
            if i < n_preferred and frac >= accept_inliers:
                break  # the previous pose still fits: no need to search again
        if preferred is not None and best is not None and preferred.inlier_fraction >= best.inlier_fraction - prefer_margin:
            return preferred
        return best
