"""SMPL body model in numpy: file loader, linear blend skinning, 24 joints.

The file format is the one SMPL ships (the ``.pkl`` of smpl.is.tue.mpg.de and
its ``.npz`` conversions): ``v_template`` (V, 3), ``shapedirs`` (V, 3, B),
``posedirs`` (V, 3, 207), ``J_regressor`` (24, V), ``weights`` (V, 24),
``kintree_table`` (2, 24), ``f`` (F, 3). The model is licensed and never
shipped: the user names a file; the tests build a small synthetic model in
the same format (smpl/synthetic.py).

``.pkl`` files are unpickled only when the caller passes ``allow_pickle=True``
(unpickling runs code from the file); ``.npz`` is read with
``allow_pickle=False``.

Pose parameters are 24 axis-angle vectors (joint 0 = global orientation);
``transl`` is added after posing, so the root rotates about the pelvis joint
J0, not about the origin (as in SMPL and CARI4D's smpl_module).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hoi_perception.geometry.rotations import axis_angle_to_matrix

NUM_JOINTS = 24
NUM_BETAS = 10
JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class SmplFileError(ValueError):
    """The named file is not a usable SMPL model (says which key or shape is wrong)."""


def _dense(a: object) -> NDArray[np.float64]:
    """np array from an ndarray, a scipy sparse matrix or a chumpy array (.pkl files)."""
    if hasattr(a, "toarray"):
        a = a.toarray()
    elif hasattr(a, "r"):  # chumpy objects keep their value in .r
        a = a.r
    return np.asarray(a, dtype=np.float64)


@dataclass
class SmplModel:
    """Arrays of one SMPL model plus derived joint-space tables."""

    v_template: NDArray[np.float64]
    shapedirs: NDArray[np.float64]
    posedirs: NDArray[np.float64]
    j_regressor: NDArray[np.float64]
    weights: NDArray[np.float64]
    parents: NDArray[np.int64]
    faces: NDArray[np.int64]
    name: str = "smpl"
    landmarks_body25: NDArray[np.int64] | None = None  # vertex index per BODY_25 keypoint (-1: from joints)
    j_template: NDArray[np.float64] = field(init=False)
    j_shapedirs: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        # joints depend on betas linearly: J = J_reg @ (v_template + shapedirs @ betas)
        self.j_template = self.j_regressor @ self.v_template
        self.j_shapedirs = np.einsum("jv,vcb->jcb", self.j_regressor, self.shapedirs)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    def _betas(self, betas: ArrayLike | None, lead: tuple[int, ...]) -> NDArray[np.float64]:
        b = np.zeros(lead + (NUM_BETAS,)) if betas is None else np.asarray(betas, dtype=np.float64)
        n = min(b.shape[-1], self.num_betas)
        out = np.zeros(b.shape[:-1] + (self.num_betas,))
        out[..., :n] = b[..., :n]
        return out

    def rest_joints(self, betas: ArrayLike | None = None) -> NDArray[np.float64]:
        """Joints (..., 24, 3) of the zero pose for ``betas`` (..., B)."""
        b = self._betas(betas, ())
        return self.j_template + np.einsum("jcb,...b->...jc", self.j_shapedirs, b)

    def forward_kinematics(self, rotmats: NDArray[np.float64], rest_joints: NDArray[np.float64]
                           ) -> NDArray[np.float64]:
        """World transforms (..., 24, 4, 4) of each joint from local rotations (..., 24, 3, 3)."""
        lead = rotmats.shape[:-3]
        g = np.zeros(lead + (NUM_JOINTS, 4, 4))
        g[..., 3, 3] = 1.0
        g[..., 0, :3, :3] = rotmats[..., 0, :, :]
        g[..., 0, :3, 3] = rest_joints[..., 0, :]
        for j in range(1, NUM_JOINTS):
            p = self.parents[j]
            offset = rest_joints[..., j, :] - rest_joints[..., p, :]
            g[..., j, :3, :3] = g[..., p, :3, :3] @ rotmats[..., j, :, :]
            g[..., j, :3, 3] = np.einsum("...ab,...b->...a", g[..., p, :3, :3], offset) + g[..., p, :3, 3]
        return g

    def joints(self, pose: ArrayLike, betas: ArrayLike | None = None, transl: ArrayLike | None = None,
               *, rotmats: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """Posed joints (..., 24, 3): ``pose`` (..., 72) axis-angle, or ``rotmats`` (..., 24, 3, 3)."""
        r = rotmats if rotmats is not None else axis_angle_to_matrix(np.asarray(pose, np.float64).reshape(
            np.shape(pose)[:-1] + (NUM_JOINTS, 3)))
        lead = r.shape[:-3]
        rest = self.rest_joints(self._betas(betas, lead))
        g = self.forward_kinematics(r, np.broadcast_to(rest, lead + (NUM_JOINTS, 3)))
        out = g[..., :3, 3]
        if transl is not None:
            out = out + np.asarray(transl, np.float64)[..., None, :]
        return out

    def joints_and_vertices(self, rotmats: NDArray[np.float64], betas: ArrayLike | None, transl: ArrayLike | None,
                            vertex_ids: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Posed joints (..., 24, 3) and the skinned vertices ``vertex_ids`` (..., K, 3) only
        (index -1 gives a zero row): LBS restricted to a few vertices, for fitting."""
        lead = rotmats.shape[:-3]
        b = self._betas(betas, lead)
        ids = np.where(vertex_ids >= 0, vertex_ids, 0)
        v_shaped = self.v_template[ids] + np.einsum("vcb,...b->...vc", self.shapedirs[ids], b)
        rest = self.rest_joints(b)
        pose_feature = (rotmats[..., 1:, :, :] - np.eye(3)).reshape(lead + (-1,))
        v_posed = v_shaped + np.einsum("vcp,...p->...vc", self.posedirs[ids], pose_feature)
        g = self.forward_kinematics(rotmats, np.broadcast_to(rest, lead + (NUM_JOINTS, 3)))
        a = g.copy()
        a[..., :3, 3] -= np.einsum("...jab,...jb->...ja", g[..., :3, :3], rest)
        t = np.einsum("vj,...jab->...vab", self.weights[ids], a)
        verts = np.einsum("...vab,...vb->...va", t[..., :3, :3], v_posed) + t[..., :3, 3]
        verts = np.where((vertex_ids >= 0)[:, None], verts, 0.0)
        joints = g[..., :3, 3]
        if transl is not None:
            tr = np.asarray(transl, np.float64)[..., None, :]
            joints, verts = joints + tr, verts + tr
        return joints, verts

    def forward(self, pose: ArrayLike | None = None, betas: ArrayLike | None = None, transl: ArrayLike | None = None,
                *, rotmats: NDArray[np.float64] | None = None
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Linear blend skinning: (vertices (..., V, 3), joints (..., 24, 3)).

        v_shaped = T + S beta; J = J_reg v_shaped; v_posed = v_shaped + P (R[1:] - I);
        v = sum_j w_j A_j v_posed, with A_j = G_j with the rest joint offset removed."""
        if rotmats is None:
            p = np.zeros((NUM_JOINTS * 3,)) if pose is None else np.asarray(pose, np.float64)
            rotmats = axis_angle_to_matrix(p.reshape(p.shape[:-1] + (NUM_JOINTS, 3)))
        lead = rotmats.shape[:-3]
        b = self._betas(betas, lead)
        v_shaped = self.v_template + np.einsum("vcb,...b->...vc", self.shapedirs, b)
        rest = np.einsum("jv,...vc->...jc", self.j_regressor, v_shaped)
        pose_feature = (rotmats[..., 1:, :, :] - np.eye(3)).reshape(lead + (-1,))
        v_posed = v_shaped + np.einsum("vcp,...p->...vc", self.posedirs, pose_feature)
        g = self.forward_kinematics(rotmats, rest)
        a = g.copy()
        a[..., :3, 3] -= np.einsum("...jab,...jb->...ja", g[..., :3, :3], rest)
        t = np.einsum("vj,...jab->...vab", self.weights, a)
        verts = np.einsum("...vab,...vb->...va", t[..., :3, :3], v_posed) + t[..., :3, 3]
        joints = g[..., :3, 3]
        if transl is not None:
            tr = np.asarray(transl, np.float64)[..., None, :]
            verts, joints = verts + tr, joints + tr
        return verts, joints


def smpl_from_arrays(arrays: dict[str, object], name: str) -> SmplModel:
    """Validate SMPL-format arrays and build the model (errors name the key)."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise SmplFileError(f"{name}: not an SMPL model file, missing {', '.join(missing)}")
    v = _dense(arrays["v_template"])
    n = v.shape[0]
    shapedirs = _dense(arrays["shapedirs"])
    posedirs = _dense(arrays["posedirs"])
    jreg = _dense(arrays["J_regressor"])
    weights = _dense(arrays["weights"])
    kintree = np.asarray(_dense(arrays["kintree_table"]), dtype=np.int64)
    faces = np.asarray(_dense(arrays["f"]), dtype=np.int64)
    checks = [("v_template", v.shape, (n, 3)), ("shapedirs", shapedirs.shape[:2], (n, 3)),
              ("posedirs", posedirs.shape, (n, 3, (NUM_JOINTS - 1) * 9)), ("J_regressor", jreg.shape, (NUM_JOINTS, n)),
              ("weights", weights.shape, (n, NUM_JOINTS)), ("kintree_table", kintree.shape, (2, NUM_JOINTS))]
    bad = [f"{k} has shape {got}, expected {want}" for k, got, want in checks if tuple(got) != tuple(want)]
    if bad:
        raise SmplFileError(f"{name}: " + "; ".join(bad) + " (only the 24-joint SMPL body is supported)")
    parents = kintree[0].copy()
    parents[0] = -1
    if tuple(int(p) for p in parents) != PARENTS:
        raise SmplFileError(f"{name}: kintree_table parents {parents.tolist()} are not SMPL's")
    lm = arrays.get("landmarks_body25")
    return SmplModel(v_template=v, shapedirs=shapedirs, posedirs=posedirs, j_regressor=jreg, weights=weights,
                     parents=parents, faces=faces, name=name,
                     landmarks_body25=None if lm is None else np.asarray(lm, dtype=np.int64))


def load_smpl(path: str | Path, *, allow_pickle: bool = False) -> SmplModel:
    """Load an SMPL model file (.npz; .pkl only with ``allow_pickle=True``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"SMPL model file {p} does not exist")
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    elif p.suffix == ".pkl":
        if not allow_pickle:
            raise SmplFileError(f"{p}: .pkl model files are unpickled (which runs code from the file) only when "
                                "allow_pickle is set; or convert it to .npz once")
        with p.open("rb") as fh:
            arrays = dict(pickle.load(fh, encoding="latin1"))  # noqa: S301 - explicitly allowed by the caller
    else:
        raise SmplFileError(f"{p}: unknown SMPL model file type {p.suffix!r} (.npz, or .pkl with allow_pickle)")
    return smpl_from_arrays(arrays, p.name)


def save_smpl_npz(model_arrays: dict[str, NDArray], path: str | Path) -> Path:
    """Write SMPL-format arrays as .npz (used for the synthetic test model)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, **model_arrays)
    return p
