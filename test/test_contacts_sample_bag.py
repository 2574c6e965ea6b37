"""Contact metrics on the sample bag: the geometric estimator scored against /ground_truth/hoi and
/ground_truth/contacts, and the metrics react to a broken estimate."""

from __future__ import annotations

import numpy as np
from hoi_perception.bag.sample import ensure_sample_bag
from hoi_perception.contacts.geometric import ContactConfig
from hoi_perception.contacts.sample_eval import read_ground_truth, run_on_bag


def test_ground_truth_has_scorable_contact_regions() -> None:
    _, _, hoi, contacts = read_ground_truth(ensure_sample_bag(progress=False))
    grasp = [t for t, m in hoi.items() if m.states and m.states[0].left_hand_contact]
    assert grasp and all(contacts[t].contacts for t in grasp)
    c = contacts[grasp[len(grasp) // 2]].contacts[0]
    assert c.body_model == "hoi_capsules" and len(c.body_vertex_indices) > 50 and len(c.object_vertex_indices) > 20
    s = hoi[grasp[0]].states[0]
    assert s.human_track_id == 1 and s.interacting and s.object_surface_source == "scene-mesh:box"


def test_geometric_contacts_score_on_the_sample_bag() -> None:
    run = run_on_bag(ensure_sample_bag(progress=False))
    s = run.evaluation.summary()
    assert s["frames"] == 60
    assert s["body_vertices"]["f1"] > 0.9 and s["object_vertices"]["f1"] > 0.7
    assert s["hands"]["accuracy"] > 0.88 and s["hands"]["recall"] > 0.95
    assert s["events"]["matched"] == 4 and s["events"]["mean_abs_error_s"] < 0.4
    assert "body-joints" in run.inputs


def test_metrics_drop_for_a_wrong_estimate() -> None:
    # hands treated as skeletons without skin and a zero contact distance: the touching hands (skeleton
    # 1.8-2.8 cm off the box) are never in contact, so recall and event matches vanish
    run = run_on_bag(ensure_sample_bag(progress=False), hand_offset_m=0.0,
                     config=ContactConfig(hand_contact_m=0.0, probability_scale_m=0.001))
    s = run.evaluation.summary()
    assert s["hands"]["recall"] < 0.5 and s["events"]["matched"] < 4
    assert np.isfinite(s["hands"]["accuracy"])


def test_interactvlm_stand_in_keyframes_on_the_sample_bag() -> None:
    from hoi_perception.interactvlm.sample_eval import keyframes_on_bag

    r = keyframes_on_bag(ensure_sample_bag(progress=False), every=10)
    assert r["source"] == "stand-in:proximity-painter" and r["body_model"] == "hoi_capsules"
    assert r["keyframes"] == 6
    # lifting loses what the fixed views cannot see; the painter also marks approach frames (measured P 0.69)
    assert r["body_vertices"]["precision"] > 0.6 and r["body_vertices"]["recall"] > 0.5
    assert r["object_vertices"]["recall"] > 0.8
    assert set(r["keyframe_p50_ms"]) == {"render", "engine", "lift"}
