"""Replay evaluation (hoi-eval-bag): a short generated bag through the real graph
(body_pose with BlazePose, objects_hands, contacts, sparse4d_node stand-in) over
Fast DDS, paced so every frame is processed; then every metric family checked
against values computed here independently (own frame pairing, own transforms,
own formulas), and the report files. The objects and contacts families are
checked on recordings written here (the ground truth perturbed by known
amounts), through the same EvalContext/evaluate path a replay's recording goes
through; the replay checks that their nodes answer every frame and are scored."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

NS = 1_000_000_000
ZED_IMAGE = "/zed/zed_node/left/image_rect_color"
CAM0 = "/cameras/cam_00/image_raw"


def _stamp(m: Any) -> int:
    return int(m.header.stamp.sec) * NS + int(m.header.stamp.nanosec)


def _read(path: Path, topic: str) -> list[Any]:
    from hoi_perception.bag.io import read_messages

    return [m for _, _, m in read_messages(path, [topic])]


def _tf_world_from(bag: Path, frame: str) -> np.ndarray:
    """world_from_frame by walking /tf_static with scipy rotations (independent of the metric code)."""
    links = {}
    for msg in _read(bag, "/tf_static"):
        for t in msg.transforms:
            m = np.eye(4)
            r = t.transform.rotation
            m[:3, :3] = Rotation.from_quat([r.x, r.y, r.z, r.w]).as_matrix()
            m[:3, 3] = [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z]
            links[t.child_frame_id] = (t.header.frame_id, m)
    out = np.eye(4)
    while frame != "world":
        parent, m = links[frame]
        out = m @ out
        frame = parent
    return out


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hoi_perception.bag.sample import generate_sample_bag
    from hoi_perception.scene import SceneConfig

    cfg = SceneConfig(seed=0, num_static_cameras=2, width=160, height=90, zed_width=320, zed_height=180,
                      duration_s=3.0)
    return generate_sample_bag(tmp_path_factory.mktemp("evalbag") / "bag", cfg, progress=False).path


@pytest.fixture(scope="module")
def evaluated(small_bag: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """hoi-eval-bag on the bag with the default configuration and, side by side, a body-pose-only one."""
    import yaml

    tmp = tmp_path_factory.mktemp("evalout")
    from hoi_perception.evaluation.replay import default_config_path

    doc = yaml.safe_load(default_config_path().read_text())
    doc["name"] = "body_pose_only"
    only = {"/hoi/humans"}
    for part in ("sparse4d", "objects_hands", "contacts"):
        doc["launch_args"][part] = "false"
    doc["outputs"] = {t: ty for t, ty in doc["outputs"].items() if t in only}
    doc["pace"] = [p for p in doc["pace"] if p["output"] in only]
    cfg2 = tmp / "body_pose_only.yaml"
    cfg2.write_text(yaml.safe_dump(doc))
    out = tmp / "eval"
    proc = subprocess.run([sys.executable, "-m", "hoi_perception.evaluation.eval_bag_cli", str(small_bag),
                           "--compare-config", str(cfg2), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"out": out, "stdout": proc.stdout, "report": json.loads((out / "report.json").read_text()),
            "bag": small_bag}


def test_objects_and_contacts_nodes_answer_every_frame_and_are_scored(evaluated: dict[str, Any]) -> None:
    run = evaluated["report"]["runs"][0]
    lat = run["metrics"]["latency"]
    for topic in ("/hoi/objects", "/hoi/hoi_states"):
        row = lat["outputs"][topic]
        assert row["answered"] == row["frames"] > 0, row
    objs = run["metrics"]["object_pose"]["topics"]["/hoi/objects"]
    assert objs["pred_messages"] > 0 and objs["gt_objects"] > 0
    assert "/hoi/hoi_states" in run["metrics"]["contacts"]["topics"]
    assert "/hoi/contacts" in run["metrics"]["contacts"]["topics"]
    assert "object_pose" not in evaluated["report"]["runs"][1]["metrics"]  # switched off in the second run


def test_replay_processes_every_frame(evaluated: dict[str, Any]) -> None:
    from hoi_perception.bag.io import BagReader

    assert f"report: {evaluated['out'] / 'report.md'}" in evaluated["stdout"]
    with BagReader(evaluated["bag"]) as r:
        counts = {t: i.count for t, i in r.topics().items()}
    run = evaluated["report"]["runs"][0]
    rep = run["replay"]
    assert rep["published"] == counts  # every bag message went out, none failed
    assert not rep["publish_errors"]
    humans = rep["pacing"]["/hoi/humans"]
    assert humans["frames"] == counts[ZED_IMAGE] and humans["answered"] == humans["frames"]
    assert humans["missing"] == 0 and humans["timeouts"] == 0
    tracks = rep["pacing"]["/hoi/tracks"]
    # the approximate-time synchronizer holds the last set for a next frame that never comes
    assert tracks["frames"] == counts[CAM0] and tracks["answered"] >= tracks["frames"] - 1
    assert all(c == 0 for c in rep["node_exit_codes"].values()), \
        f"exit codes {rep['node_exit_codes']}; hoi-eval-bag said:\n{evaluated['stdout']}"
    assert rep["dds_profile"].endswith("fastdds_replay.xml")
    assert "XMLPARSER" not in Path(rep["log"]).read_text()  # Fast DDS took the replay profile
    assert rep["bag_duration_s"] == pytest.approx(2.9, abs=0.1)


def test_tracking_hota_matches_independent_pairing(evaluated: dict[str, Any]) -> None:
    from hoi_perception.evaluation.hota import TrackTable, evaluate_hota, evaluate_hota_leaderboard
    from hoi_perception.sparse4d import canonical_class_name

    run = evaluated["report"]["runs"][0]
    gt_msgs = _read(evaluated["bag"], "/ground_truth/tracks")
    pred_msgs = _read(Path(run["replay"]["recording"]), "/hoi/tracks")
    assert len(pred_msgs) == run["replay"]["pacing"]["/hoi/tracks"]["outputs"]
    gt_by_stamp = {_stamp(m): k for k, m in enumerate(gt_msgs)}
    gt, pred = TrackTable(), TrackTable()

    def box(o: Any) -> list[float]:
        q = o.pose.orientation
        yaw = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_euler("zyx")[0]
        return [o.pose.position.x, o.pose.position.y, o.pose.position.z, o.size.x, o.size.y, o.size.z, yaw]

    frames = set()
    for m in pred_msgs:
        s = _stamp(m)
        k = min(gt_by_stamp, key=lambda g: abs(g - s))
        assert abs(k - s) <= 25_000_000
        frames.add(gt_by_stamp[k])
        for o in m.objects:
            if canonical_class_name(o.class_label):
                pred.add("0", gt_by_stamp[k], canonical_class_name(o.class_label), o.track_id, box(o), o.score)
    for k, m in enumerate(gt_msgs):
        if k in frames:
            for o in m.objects:
                if canonical_class_name(o.class_label) and list(o.visible_cameras):
                    gt.add("0", k, canonical_class_name(o.class_label), o.track_id, box(o))
    expected = evaluate_hota(gt, pred).to_dict()
    got = run["metrics"]["tracking"]["topics"]["/hoi/tracks"]
    assert got["per_class"].keys() == expected["per_class"].keys()
    for c, v in expected["per_class"].items():
        for f in ("HOTA", "DetA", "AssA", "LocA"):
            assert got["per_class"][c][f] == pytest.approx(v[f], abs=1e-9)
    assert got["average"]["HOTA"] == pytest.approx(expected["average"]["HOTA"], abs=1e-9)
    assert 30 < got["average"]["HOTA"] <= 100  # the stand-in is noisy ground truth
    board = evaluate_hota_leaderboard(gt, pred, with_per_class=False).to_dict()
    for f in ("HOTA", "DetA", "AssA", "LocA"):
        assert got["leaderboard"]["final"][f] == pytest.approx(board["final"][f], abs=1e-9)


def _pa_error_mm(p: np.ndarray, g: np.ndarray) -> float:
    """Similarity Procrustes by scipy's rotation fit plus the closed-form scale."""
    pc, gc = p - p.mean(0), g - g.mean(0)
    rot, _ = Rotation.align_vectors(gc, pc)
    pr = rot.apply(pc)
    s = float((pr * gc).sum() / (pr * pr).sum())
    return float(np.linalg.norm(s * pr - gc, axis=1).mean() * 1000)


def test_body_pose_errors_match_independent_computation(evaluated: dict[str, Any]) -> None:
    bag = evaluated["bag"]
    for run in evaluated["report"]["runs"]:  # the compared configuration runs body_pose too
        gt_msgs = {_stamp(m): m for m in _read(bag, "/ground_truth/humans")}
        preds = _read(Path(run["replay"]["recording"]), "/hoi/humans")
        mp, pa, pelvis = [], [], []
        for m in preds:
            if not m.humans:
                continue
            g = gt_msgs[min(gt_msgs, key=lambda s: abs(s - _stamp(m)))]
            w = _tf_world_from(bag, m.header.frame_id)
            gts = [np.array([[p.x, p.y, p.z] for p in h.joints]) for h in g.humans]
            for h in m.humans:
                pj = np.array([[p.x, p.y, p.z] for p in h.joints]) @ w[:3, :3].T + w[:3, 3]
                d = [np.linalg.norm(pj[0] - gj[0]) for gj in gts]
                k = int(np.argmin(d))
                if d[k] > 1.0:
                    continue
                ok = ~np.array(h.joint_derived, bool) & (np.array(h.joint_confidence) > 0.5)
                mp.append(np.linalg.norm(pj[ok] - gts[k][ok], axis=1).mean() * 1000)
                pa.append(_pa_error_mm(pj[ok], gts[k][ok]))
                pelvis.append(np.linalg.norm(pj[0] - gts[k][0]) * 1000)
        got = run["metrics"]["body_pose"]["topics"]["/hoi/humans"]
        assert len(mp) >= 5, "BlazePose found the rendered person in too few frames to check anything"
        assert got["matched_people"] == len(mp)
        assert got["mpjpe_mm"]["mean"] == pytest.approx(np.mean(mp), rel=1e-9)
        assert got["pa_mpjpe_mm"]["mean"] == pytest.approx(np.mean(pa), rel=1e-6)
        assert got["pelvis_error_mm"]["mean"] == pytest.approx(np.mean(pelvis), rel=1e-9)
        assert got["pa_mpjpe_mm"]["mean"] < got["mpjpe_mm"]["mean"]


def test_latency_figures_and_report_files(evaluated: dict[str, Any]) -> None:
    out = evaluated["out"]
    report = evaluated["report"]
    assert len(report["runs"]) == 2  # side by side
    run = report["runs"][0]
    lat = run["metrics"]["latency"]
    for topic, p in run["replay"]["pacing"].items():
        samples = np.array(p["latency_ms"])
        assert len(samples) == p["answered"] and (samples > 0).all()
        assert lat["outputs"][topic]["p50"] == pytest.approx(np.percentile(samples, 50))
        assert lat["outputs"][topic]["p99"] == pytest.approx(np.percentile(samples, 99))
        assert lat["outputs"][topic]["missing"] == p["frames"] - p["answered"]
    # the nodes' own reports came through /diagnostics
    assert any(n.startswith("body_pose") for n in lat["nodes"]) and any(n.startswith("sparse4d_node") for n in lat["nodes"])
    assert "tracking" not in report["runs"][1]["metrics"]  # the second configuration has no tracks
    md = (out / "report.md").read_text()
    assert "bag [body_pose_only]" in md and "bag [default]" in md
    for name in ("hota_per_class.png", "latency_cdf.png", "series_MPJPE__hoi_humans.png"):
        png = out / "plots" / name
        assert png.read_bytes()[:4] == b"\x89PNG" and f"plots/{name}" in md
    json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


# ---------------------------------------------------------------- objects and contacts families


def _write_recording(path: Path, topics: dict[str, str], messages: list[tuple[str, int, Any]]) -> Path:
    from hoi_perception.bag.io import BagWriter

    with BagWriter(path) as w:
        for t, ty in topics.items():
            w.add_topic(t, ty)
        for t, s, m in sorted(messages, key=lambda x: x[1]):
            w.write(t, s, m)
    return path


def test_object_pose_family_against_known_perturbation(small_bag: Path, tmp_path: Path) -> None:
    from hoi_perception.bag.typestore import default_typestore
    from hoi_perception.evaluation.metrics import EvalContext, evaluate
    from hoi_perception.evaluation.object_pose import box_model_points

    ts = default_typestore()
    cam = "zed_left_camera_optical_frame"
    cam_from_world = np.linalg.inv(_tf_world_from(small_bag, cam))
    offset, angle = np.array([0.03, -0.04, 0.0]), np.radians(10.0)
    sizes = {o.track_id: np.array([o.size.x, o.size.y, o.size.z]) for o in _read(small_bag, "/ground_truth/tracks")[0].objects}
    msgs, expected = [], {"t": [], "r": [], "add": [], "adds": [], "either": [], "ok": []}
    gt_all = _read(small_bag, "/ground_truth/objects")
    for k, g in enumerate(gt_all):
        objs = []
        for o in g.objects:
            if o.object_name == "Table" and k % 2:
                continue  # a missed object in every other frame
            tg = np.eye(4)
            q = o.pose.orientation
            tg[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
            tg[:3, 3] = [o.pose.position.x, o.pose.position.y, o.pose.position.z]
            tp = tg.copy()
            tp[:3, :3] = tg[:3, :3] @ Rotation.from_rotvec([0, 0, angle]).as_matrix()
            tp[:3, 3] += offset
            pc = cam_from_world @ tp  # published in the camera frame: the metric must use /tf_static
            qp = Rotation.from_matrix(pc[:3, :3]).as_quat()
            pose = ts.types["geometry_msgs/msg/Pose"](
                position=ts.types["geometry_msgs/msg/Point"](x=pc[0, 3], y=pc[1, 3], z=pc[2, 3]),
                orientation=ts.types["geometry_msgs/msg/Quaternion"](x=qp[0], y=qp[1], z=qp[2], w=qp[3]))
            hdr = dataclasses.replace(g.header, frame_id=cam)
            objs.append(dataclasses.replace(o, header=hdr, pose=pose, track_id=0, source="test-perturbed"))
            pts = box_model_points(sizes[o.track_id])
            a, b = pts @ tg[:3, :3].T + tg[:3, 3], pts @ tp[:3, :3].T + tp[:3, 3]
            add = np.linalg.norm(a - b, axis=1).mean()
            adds = cKDTree(b).query(a)[0].mean()
            either = adds if o.object_name.lower() in ("box", "bin") else add
            diam = max(np.linalg.norm(p - pts, axis=1).max() for p in pts)
            expected["t"].append(np.linalg.norm(offset))
            expected["r"].append(10.0)
            expected["add"].append(add)
            expected["adds"].append(adds)
            expected["either"].append(either)
            expected["ok"].append(either < 0.1 * diam)
        arr = ts.types["hoi_msgs/msg/ObjectPoseArray"](header=dataclasses.replace(g.header, frame_id=cam), objects=objs)
        msgs.append(("/hoi/objects", _stamp(g), arr))
    rec = _write_recording(tmp_path / "rec", {"/hoi/objects": "hoi_msgs/msg/ObjectPoseArray"}, msgs)
    res = evaluate(EvalContext.open(small_bag, rec))
    got = res["object_pose"]["topics"]["/hoi/objects"]
    n_gt = sum(len(g.objects) for g in gt_all)
    assert got["matched"] == len(expected["t"]) and got["recall"] == pytest.approx(len(expected["t"]) / n_gt)
    assert got["translation_error_m"]["mean"] == pytest.approx(0.05, abs=1e-6)
    assert got["rotation_error_deg"]["mean"] == pytest.approx(10.0, abs=1e-4)
    assert got["add_m"]["mean"] == pytest.approx(np.mean(expected["add"]), rel=1e-6)
    assert got["adds_m"]["mean"] == pytest.approx(np.mean(expected["adds"]), rel=1e-6)
    assert got["add_or_adds_m"]["mean"] == pytest.approx(np.mean(expected["either"]), rel=1e-6)
    assert got["add_accuracy"] == pytest.approx(np.mean(expected["ok"]))
    assert "contacts" not in res and "tracking" not in res


def test_contacts_family_against_known_perturbation(small_bag: Path, tmp_path: Path) -> None:
    from hoi_perception.evaluation.metrics import EvalContext, evaluate

    shift = 2  # predictions lag the ground truth by two frames (200 ms at 10 fps)
    gt = _read(small_bag, "/ground_truth/hoi")
    stamps = [_stamp(m) for m in gt]
    msgs = []
    counts = {h: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for h in ("left", "right")}
    for k, m in enumerate(gt):
        src = gt[max(0, k - shift)]
        states = [dataclasses.replace(s, left_hand_contact=src.states[0].left_hand_contact,
                                      right_hand_contact=src.states[0].right_hand_contact
                                      if k != 20 else not src.states[0].right_hand_contact, source="test-lagged")
                  for s in m.states]
        msgs.append(("/hoi/hoi_states", stamps[k], dataclasses.replace(m, states=states)))
        for h in ("left", "right"):
            g = getattr(m.states[0], f"{h}_hand_contact")
            p = getattr(states[0], f"{h}_hand_contact")
            counts[h]["tp" if g and p else "fp" if p else "fn" if g else "tn"] += 1
    # contact vertices: half the body vertices kept, 5 wrong ones added; object vertices exact
    gt_c = _read(small_bag, "/ground_truth/contacts")
    tp = fp = fn = n_obj = 0
    for m in gt_c:
        sets = []
        for cs in m.contacts:
            body = list(cs.body_vertex_indices)
            keep = body[: len(body) // 2]
            wrong = [10_000_000 + i for i in range(5)]
            tp, fp, fn = tp + len(keep), fp + len(wrong), fn + len(body) - len(keep)
            n_obj += len(cs.object_vertex_indices)
            sets.append(dataclasses.replace(cs, body_vertex_indices=np.array(keep + wrong, dtype=np.int32),
                                            body_vertex_scores=np.ones(len(keep) + 5, dtype=np.float32),
                                            body_points=[cs.body_points[0]] * (len(keep) + 5) if cs.body_points else []))
        msgs.append(("/hoi/contacts", _stamp(m), dataclasses.replace(m, contacts=sets)))
    assert n_obj > 0 and tp > 0, "the bag has no grasp: nothing to check"
    rec = _write_recording(tmp_path / "rec", {"/hoi/hoi_states": "hoi_msgs/msg/HoiStateArray",
                                              "/hoi/contacts": "hoi_msgs/msg/ContactSetArray"}, msgs)
    res = evaluate(EvalContext.open(small_bag, rec))["contacts"]
    hoi = res["topics"]["/hoi/hoi_states"]
    for h in ("left", "right"):
        c = counts[h]
        assert hoi["per_hand_counts"][h] == c
        assert hoi["accuracy"][h] == pytest.approx((c["tp"] + c["tn"]) / sum(c.values()))
    t = sum(counts[h]["tp"] for h in counts)
    f_p = sum(counts[h]["fp"] for h in counts)
    f_n = sum(counts[h]["fn"] for h in counts)
    assert hoi["contact"]["f1"] == pytest.approx(2 * t / (2 * t + f_p + f_n))
    # ground truth: grasp at 1.2 s, release at 2.5 s, both hands -> 4 events, each predicted 200 ms late;
    # the flipped right-hand label at frame 20 adds a spurious release + grasp pair
    ev = hoi["grasp_events"]
    assert ev["gt_events"] == 4 and ev["matched"] == 4 and ev["missed"] == 0 and ev["spurious"] == 2
    assert ev["timing_error_ms"]["mean"] == pytest.approx(200.0, abs=1e-6)
    verts = res["topics"]["/hoi/contacts"]
    assert verts["body_vertices"]["precision"] == pytest.approx(tp / (tp + fp))
    assert verts["body_vertices"]["recall"] == pytest.approx(tp / (tp + fn))
    assert verts["object_vertices"]["f1"] == pytest.approx(1.0)


def test_a_node_that_fails_ends_the_replay_with_one_clear_line(small_bag: Path, tmp_path: Path) -> None:
    """A node that exits (here: a bad parameter) stops the evaluation at once with exit 1,
    naming the node and its log, instead of waiting out every frame."""
    import yaml
    from hoi_perception.evaluation.replay import default_config_path

    doc = yaml.safe_load(default_config_path().read_text())
    doc["launch_args"]["body_pose_backend"] = "nope"
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    r = subprocess.run([sys.executable, "-m", "hoi_perception.evaluation.eval_bag_cli", str(small_bag), "--config",
                        str(cfg), "--out", str(tmp_path / "out"), "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "error: node body_pose exited with code 2 during the replay; see" in r.stderr
    assert "must be one of" in next((tmp_path / "out").glob("run1_*/graph.log")).read_text()
