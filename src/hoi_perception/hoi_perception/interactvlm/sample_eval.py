"""InteractVLM's Render-Localize-Lift on keyframes of a bag, scored against /ground_truth/contacts.

With the STAND-IN engine this measures the render/lift path (what the four fixed views of the canonical
body and object cannot see is lost), not a model: every output says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hoi_perception.contacts.body_mesh import capsule_body_from_joints, vitruvian_capsule_body
from hoi_perception.contacts.metrics import SetScores, index_counts
from hoi_perception.contacts.sample_eval import WORLD_UP, joints_from_msg, pose_matrix, read_ground_truth
from hoi_perception.engine.base import Engine
from hoi_perception.interactvlm.pipeline import ProximityPainterStandIn, RenderLocalizeLift
from scipy.spatial import cKDTree

PROXIMITY_M = 0.02


def keyframes_on_bag(bag: Path, every: int = 10, engine: Engine | None = None) -> dict[str, Any]:
    """Run one keyframe every ``every`` ground-truth frames on the interacting human and the object of its
    HOI state; return body/object vertex scores and the timing split."""
    from hoi_perception.contacts.sample_eval import scene_object_surfaces

    humans, objects, hoi, contacts = read_ground_truth(bag)
    surfaces = scene_object_surfaces()
    engine = engine or ProximityPainterStandIn()
    pipe = RenderLocalizeLift(engine, vitruvian_capsule_body())
    body, obj = SetScores(), SetScores()
    timings: list[dict[str, float]] = []
    for t in sorted(hoi)[::every]:
        st = hoi[t].states[0] if hoi[t].states else None
        if st is None:
            continue
        hid, oid = int(st.smpl.track_id), int(st.object.track_id)
        h = next((x for x in humans[t].humans if int(x.track_id) == hid), None)
        o = next((x for x in objects[t].objects if int(x.track_id) == oid), None)
        surf = surfaces.get(oid)
        if h is None or o is None or surf is None or surf.vertices is None:
            continue
        posed = capsule_body_from_joints(joints_from_msg(h), up=WORLD_UP)
        m = pose_matrix(o.pose)
        v_obj = surf.vertices @ m[:3, :3].T + m[:3, 3]

        def paint(bv: Any, ov: Any, posed: Any = posed, v_obj: np.ndarray = v_obj) -> None:
            if isinstance(engine, ProximityPainterStandIn):
                bc = (cKDTree(v_obj).query(posed.vertices)[0] <= PROXIMITY_M).astype(float)
                oc = (cKDTree(posed.vertices).query(v_obj)[0] <= PROXIMITY_M).astype(float)
                engine.set_keyframe(bv, ov, bc, oc)

        r = pipe.run(f"track:{oid}", str(o.object_name), surf.vertices, surf.faces, before_engine=paint)
        timings.append(r.timings_ms)
        cs = next((c for c in contacts[t].contacts if int(c.human_track_id) == hid), None)
        gt_b = np.asarray(cs.body_vertex_indices, np.int64) if cs is not None else np.zeros(0, np.int64)
        gt_o = np.asarray(cs.object_vertex_indices, np.int64) if cs is not None else np.zeros(0, np.int64)
        body.add(index_counts(r.body_vertices, gt_b))
        obj.add(index_counts(r.object_vertices, gt_o))
    return {"source": pipe.source, "body_model": pipe.body.model, "keyframes": len(timings),
            "body_vertices": body.summary(), "object_vertices": obj.summary(),
            "first_keyframe_ms": timings[0] if timings else {},
            "keyframe_p50_ms": {k: float(np.median([t[k] for t in timings[1:] or timings])) for k in
                                (timings[0] if timings else {})}}
