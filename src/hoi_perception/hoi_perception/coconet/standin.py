"""STAND-IN CoCoNet engine: zero deltas behind the Engine interface.

CoCoNet's weights are not available here (the released checkpoint needs an
ONNX export: engines/README.md), so without a model the node runs this
stand-in: every delta output is its identity (zero translation, identity
rotation, zero shape change), ``rot_abs`` is the initial object rotation and
the contact logits are 0 (probability 0.5, no contact). Decoding it returns
the initial estimate unchanged, which the sample-bag test checks. Its
backend name starts with ``stand-in:`` so every output says STAND-IN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hoi_perception.engine.base import Engine
from hoi_perception.engine.contract import Contract
from hoi_perception.engine.test_models import identity_value
from hoi_perception.geometry.rotations import matrix_to_rotation_6d_columns


class CocoNetStandIn(Engine):
    backend_name = "stand-in:coconet-zero-deltas"

    def __init__(self, contract: Contract) -> None:
        super().__init__(contract, None)

    def _run_host(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        t = int(inputs["obj_pose_init"].shape[0])
        out: dict[str, np.ndarray] = {}
        for spec in self.bound_outputs:
            rest = tuple(int(d) for d in spec.shape[1:])
            ident = identity_value(spec, rest)
            out[spec.name] = np.broadcast_to(ident if ident is not None else np.zeros(rest, np.float32),
                                             (t,) + rest).astype(np.float32)
        out["rot_abs"] = matrix_to_rotation_6d_columns(inputs["obj_pose_init"][:, :3, :3]).astype(np.float32)
        return out
