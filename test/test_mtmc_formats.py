"""MTMC_Tracking_2025 readers and the AI City 2025 track 1 writer on small hand-written fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hoi_perception.evaluation import evaluate_hota
from hoi_perception.mtmc import (
    AicRow,
    aic_class_id,
    aic_rows_table,
    ground_truth_table,
    list_videos,
    parse_ground_truth,
    read_aic_submission,
    read_calibration,
    read_ground_truth,
    table_to_aic_rows,
    write_aic_submission,
)

K = [[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]]
# Camera 10 m up looking straight down: world -> camera rotates z down (x right, y down in the image).
EXT = [[1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 10.0]]
CALIB = {
    "calibrationType": "cartesian",
    "sensors": [
        {"type": "camera", "id": "Camera_0000", "coordinates": {"x": 0.0, "y": 0.0}, "scaleFactor": 20.0,
         "translationToGlobalCoordinates": {"x": 0.0, "y": 0.0},
         "attributes": [{"name": "fps", "value": "30"}, {"name": "frameWidth", "value": "1920"},
                        {"name": "frameHeight", "value": "1080"}],
         "intrinsicMatrix": K, "extrinsicMatrix": EXT,
         "cameraMatrix": (np.array(K) @ np.array(EXT)).tolist(),
         "homography": np.eye(3).tolist()},
        {"type": "camera", "id": "Camera_0001", "intrinsicMatrix": K},  # broken: no extrinsics -> skipped
        {"type": "lidar", "id": "Lidar_0"},
    ],
}
GT = {
    "0": [
        {"object type": "Person", "object id": 3, "3d location": [1.0, 2.0, 0.9],
         "3d bounding box scale": [0.6, 0.5, 1.8], "3d bounding box rotation": [0.0, 0.0, 0.5],
         "2d bounding box visible": {"Camera_0000": [900, 400, 960, 520]}},
        {"object type": "Forklift", "object id": 1, "3d location": [-3.0, 0.0, 1.0],
         "3d bounding box scale": [1.2, 2.4, 2.0], "3d bounding box rotation": [0.0, 0.0, -1.2]},
    ],
    "1": [
        {"object type": "Person", "object id": 3, "3d location": [1.1, 2.0, 0.9],
         "3d bounding box scale": [0.6, 0.5, 1.8], "3d bounding box rotation": [0.0, 0.0, 0.5]},
        {"object type": "Person", "3d location": [0, 0, 0]},  # broken: skipped and counted
    ],
    "not-a-frame": [],
}


def test_calibration_reader(tmp_path):
    p = tmp_path / "calibration.json"
    p.write_text(json.dumps(CALIB))
    sensors = read_calibration(p)
    assert list(sensors) == ["Camera_0000"]
    s = sensors["Camera_0000"]
    assert (s.camera.width, s.camera.height) == (1920, 1080) and s.fps == 30.0
    np.testing.assert_allclose(s.camera.world_from_camera[:3, 3], [0.0, 0.0, 10.0])
    uv, depth = s.camera.project([1.0, 2.0, 0.0])
    # Same pixel as the file's cameraMatrix.
    h = np.array(CALIB["sensors"][0]["cameraMatrix"]) @ [1.0, 2.0, 0.0, 1.0]
    np.testing.assert_allclose(uv, h[:2] / h[2])
    assert depth == pytest.approx(10.0)


def test_ground_truth_reader(tmp_path):
    p = tmp_path / "ground_truth.json"
    p.write_text(json.dumps(GT))
    frames = read_ground_truth(p)
    assert sorted(frames) == [0, 1]
    o = frames[0][0]
    assert o.object_type == "Person" and o.object_id == 3 and o.yaw == pytest.approx(0.5)
    np.testing.assert_allclose(o.box(), [1.0, 2.0, 0.9, 0.6, 0.5, 1.8, 0.5])
    assert o.boxes_2d["Camera_0000"] == (900, 400, 960, 520)
    _, counters = parse_ground_truth(GT)
    assert counters == {"bad_frame_key": 1, "bad_object": 1}
    t = ground_truth_table(frames, scene="7")
    assert sorted(set(t.class_name)) == ["Forklift", "Person"] and len(t) == 3


def test_submission_round_trip_and_class_ids(tmp_path):
    assert aic_class_id("Person") == 0 and aic_class_id("Forklift") == 1 and aic_class_id("Nova_Carter") == 2
    assert aic_class_id("Transporter") == 3 and aic_class_id("gr1_t2") == 4 and aic_class_id("AgilityDigit") == 5
    rows = [AicRow(7, 0, 3, 0, 1.0, 2.0, 0.9, 0.6, 0.5, 1.8, 0.5),
            AicRow(7, 1, 1, 0, -3.0, 0.0, 1.0, 1.2, 2.4, 2.0, -1.2),
            AicRow(7, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0),  # object id 0: invalid (ids are positive)
            AicRow(7, 0, 4, 1, float("nan"), 0, 0, 1, 1, 1, 0)]
    p = tmp_path / "track1.txt"
    assert write_aic_submission(p, rows) == 2
    lines = p.read_text().splitlines()
    assert lines[0] == "7 0 3 0 1.0000 2.0000 0.9000 0.6000 0.5000 1.8000 0.5000"
    with open(p, "a") as fh:
        fh.write("garbage line\n")
    back, bad = read_aic_submission(p)
    assert bad == 1 and back == rows[:2]


def test_gt_vs_own_submission_is_perfect(tmp_path):
    frames, _ = parse_ground_truth(GT)
    gt = ground_truth_table(frames, scene="7")
    p = tmp_path / "track1.txt"
    write_aic_submission(p, table_to_aic_rows(gt))
    pred = aic_rows_table(read_aic_submission(p)[0])
    rep = evaluate_hota(gt, pred)
    assert set(rep.per_class) == {"Person", "Forklift"}
    assert rep.average["HOTA"] == pytest.approx(1.0, abs=1e-3)


def test_list_videos(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "Camera_0000.mp4").write_bytes(b"")
    (tmp_path / "videos" / "Camera_0001.mp4").write_bytes(b"")
    assert list(list_videos(tmp_path)) == ["Camera_0000", "Camera_0001"]
    assert list_videos(tmp_path / "missing") == {}
