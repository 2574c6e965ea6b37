"""Issue 11 point 9: HOTA as the AI City MTMC leaderboard computes it, the default of hoi-eval-tracks.

NVIDIA's AI City MTMC evaluation (spatialai_data_utils, run_aicity_mtmc_evaluation): frames < 9000,
only (scene, class) pairs with both GT and predictions, class mean per scene, scenes weighted by their
GT rows. The pooled per-class protocol (evaluate_hota) gives a different number on the same data;
hand-computed cases below. These fail on the previous behaviour (pooled protocol only, no protocol
named in the output).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hoi_perception.evaluation import TrackTable, evaluate_hota, evaluate_hota_leaderboard
from hoi_perception.evaluation.cli import main as eval_main
from hoi_perception.mtmc.formats import AicRow, write_aic_submission

BOX_A = (0.0, 0.0, 0.9, 0.6, 0.6, 1.8, 0.0)
BOX_B = (5.0, 5.0, 0.9, 1.2, 2.5, 2.0, 0.3)


def _data() -> tuple[TrackTable, TrackTable]:
    gt, pred = TrackTable(), TrackTable()
    # Scene A (8 GT rows): Person perfect; the Forklift is predicted as a Nova Carter, so Forklift has only
    # GT and Nova_Carter only predictions: the leaderboard skips both pairs, scene A = Person = 1.
    for f in range(4):
        gt.add("A", f, "Person", 1, BOX_A)
        pred.add("A", f, "Person", 11, BOX_A)
        gt.add("A", f, "Forklift", 2, BOX_B)
        pred.add("A", f, "Nova_Carter", 12, BOX_B)
    # Scene B (12 GT rows): one person, id switch half way: DetA 1, AssA 0.5 -> HOTA sqrt(0.5).
    for f in range(12):
        gt.add("B", f, "Person", 1, BOX_A)
        pred.add("B", f, "Person", 21 if f < 6 else 22, BOX_A)
    return gt, pred


def test_leaderboard_protocol_by_hand():
    gt, pred = _data()
    rep = evaluate_hota_leaderboard(gt, pred)
    assert rep.per_scene_per_class["A"]["Forklift"] is None and rep.per_scene_per_class["A"]["Nova_Carter"] is None
    assert rep.per_scene["A"]["HOTA"] == pytest.approx(1.0)
    assert rep.per_scene["B"]["HOTA"] == pytest.approx(np.sqrt(0.5))
    assert rep.scene_gt_rows == {"A": 8, "B": 12}
    assert rep.final["HOTA"] == pytest.approx((8 * 1.0 + 12 * np.sqrt(0.5)) / 20)
    # The pooled per-class protocol on the same data: Forklift 0 is averaged in, scenes pooled.
    pooled = evaluate_hota(gt, pred)
    assert pooled.per_class["Forklift"].hota["HOTA"] == 0.0
    assert pooled.average["HOTA"] < rep.final["HOTA"] - 0.2
    assert rep.per_class is not None and rep.per_class.protocol == "per_class_pooled"
    d = rep.to_dict()
    assert d["protocol"] == "aicity_leaderboard" and d["per_class_pooled"]["protocol"] == "per_class_pooled"
    assert "protocol: AI City leaderboard" in rep.table()


def test_truncation_and_scenes_without_predictions():
    gt, pred = _data()
    ref = evaluate_hota_leaderboard(gt, pred, with_per_class=False).final["HOTA"]
    # Rows at frames >= num_frames are ignored on both sides.
    for f in range(20, 30):
        pred.add("A", f, "Person", 99, (40.0, 40.0, 0.9, 0.6, 0.6, 1.8, 0.0))
        gt.add("B", f, "Person", 1, BOX_A)
    assert evaluate_hota_leaderboard(gt, pred, num_frames=20, with_per_class=False).final["HOTA"] == pytest.approx(ref)
    # A scene with GT but no predictions has no value and is dropped from the weighted mean, not counted as 0.
    for f in range(5):
        gt.add("C", f, "Person", 1, BOX_A)
    rep = evaluate_hota_leaderboard(gt, pred, num_frames=20, with_per_class=False)
    assert "C" not in rep.per_scene and rep.final["HOTA"] == pytest.approx(ref)


def test_cli_defaults_to_leaderboard_and_names_the_protocol(tmp_path, capsys):
    def rows(table: TrackTable, ids: dict[str, int]) -> list[AicRow]:
        from hoi_perception.mtmc.formats import aic_class_id

        return [AicRow(ids[s], aic_class_id(c), o, f, *b) for s, f, c, o, b in
                zip(table.scene, table.frame, table.class_name, table.obj_id, table.boxes, strict=True)]

    gt, pred = _data()
    ids = {"A": 1, "B": 2}
    write_aic_submission(tmp_path / "gt.txt", rows(gt, ids))
    write_aic_submission(tmp_path / "pred.txt", rows(pred, ids))
    out = tmp_path / "report.json"
    assert eval_main(["--gt", str(tmp_path / "gt.txt"), "--tracks", str(tmp_path / "pred.txt"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "protocol: AI City leaderboard" in text and "protocol: per_class_pooled" in text
    d = json.loads(out.read_text())
    assert d["protocol"] == "aicity_leaderboard"
    assert d["final"]["HOTA"] == pytest.approx(100 * (8 + 12 * np.sqrt(0.5)) / 20, abs=0.01)
    assert eval_main(["--gt", str(tmp_path / "gt.txt"), "--tracks", str(tmp_path / "pred.txt"),
                      "--protocol", "per_class_pooled", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["protocol"] == "per_class_pooled"


def test_box_convention_width_lies_along_the_heading():
    # TAO's box3d_to_corners: [W, L, H] scale the unit corners, then R_z(yaw): w along the heading.
    from hoi_perception.sparse4d.conventions import box_corners_ov

    c = box_corners_ov(np.array([[0.0, 0.0, 1.0, 4.0, 1.0, 2.0, np.pi / 2]]))[0]
    extent = c[:4, :2].max(0) - c[:4, :2].min(0)
    np.testing.assert_allclose(extent, [1.0, 4.0], atol=1e-9)  # heading +y: the 4 m width lies along y
