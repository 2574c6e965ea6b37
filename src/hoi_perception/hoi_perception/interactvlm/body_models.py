"""Body meshes for InteractVLM's body renders.

* A user-supplied SMPL / SMPL-X model file (licensed by MPI; never shipped):
  ``.npz`` with ``v_template`` (V, 3) and ``f`` (F, 3), read without
  unpickling. A ``.pkl`` is read only when ``allow_pickle`` is set, because
  unpickling runs code from the file. The template is rendered as stored (the
  model's rest pose; InteractVLM additionally spreads the legs 30 degrees,
  which needs the model's skinning and is not applied here).
* Otherwise the project's own capsule body in the Vitruvian pose
  (contacts/body_mesh.py, "hoi_capsules"), whose vertex indices are the
  sample scene's ground-truth body vertices.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from hoi_perception.contacts.body_mesh import BodyMesh, vitruvian_capsule_body

SMPL_VERTICES = 6890
SMPLX_VERTICES = 10475


def load_body_model(path: str = "", allow_pickle: bool = False) -> BodyMesh:
    """The body mesh to render: the file at ``path`` (SMPL/SMPL-X) or, with no path, the capsule body."""
    if not path:
        return vitruvian_capsule_body()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"body model {p} does not exist")
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            if "v_template" not in z.files or "f" not in z.files:
                raise ValueError(f"{p.name}: an SMPL(-X) .npz needs 'v_template' and 'f', has {sorted(z.files)}")
            v, f = np.asarray(z["v_template"], np.float64), np.asarray(z["f"], np.int64)
    elif p.suffix == ".pkl":
        if not allow_pickle:
            raise ValueError(f"{p.name} is a pickle: unpickling runs code from the file; convert it to .npz or set "
                             "allow_pickle_body_model:=true if you trust it")
        with p.open("rb") as fh:
            data = pickle.load(fh, encoding="latin1")  # noqa: S301 - explicitly allowed by the user
        v, f = np.asarray(data["v_template"], np.float64), np.asarray(data["f"], np.int64)
    else:
        raise ValueError(f"unsupported body model format {p.suffix!r} (use an SMPL/SMPL-X .npz)")
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or f.max() >= len(v):
        raise ValueError(f"{p.name}: inconsistent template ({v.shape} vertices, {f.shape} faces)")
    model = {SMPL_VERTICES: "smpl", SMPLX_VERTICES: "smplx"}.get(len(v), f"mesh:{p.stem}")
    # centre on the template's vertex mean so the reference's fixed cameras frame the body
    v = v - v.mean(axis=0)
    return BodyMesh(v, f, np.zeros(len(v), dtype=np.int64), model)
