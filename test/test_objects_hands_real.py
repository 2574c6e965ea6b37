"""Real pretrained models on real images: the object detectors (SSD OIDv4, YOLOv3-tiny)
and the hand models land where a person sees things; the fetch steps are idempotent
and hash-checked; the detector as a person box source; bad input is refused clearly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from real_data import OPENCV_DATA, needs_models, needs_opencv_doc

from hoi_perception import paths


def _have(kind: str, name: str) -> bool:
    try:
        return (paths.models_dir(kind) / name).is_file()
    except paths.ResourceNotFound:
        return False


needs_objects = pytest.mark.skipif(not _have("objects", "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"),
                                   reason="object models missing: python -m hoi_perception.objects.fetch_models")
needs_yolo = pytest.mark.skipif(not _have("objects", "yolov3-tiny.onnx"),
                                reason="yolov3-tiny missing: python -m hoi_perception.objects.fetch_models")
needs_hands = pytest.mark.skipif(not _have("hands", "hand_landmark_full.tflite"),
                                 reason="hand models missing: python -m hoi_perception.hands.fetch_models")


def _rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(OPENCV_DATA / name)), cv2.COLOR_BGR2RGB)


def _inside(b: tuple, region: tuple) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


@needs_objects
def test_ssd_finds_the_cup_in_skimage_coffee() -> None:
    import skimage.data
    from hoi_perception.objects.detector import make_object_detector

    det = make_object_detector("ssd_oidv4", min_score=0.3)
    rgb = skimage.data.coffee()  # 400x600, one cup in the middle
    dets = det.detect(rgb)
    cups = [d for d in dets if d.hoi_class == "cup"]
    assert cups, [(d.label, d.score) for d in dets]
    assert _inside(cups[0].box, (150, 50, 450, 350))
    assert all(d.hoi_class is not None for d in dets)  # unmapped classes are dropped by default


@needs_objects
@needs_opencv_doc
@pytest.mark.parametrize("name", ["ssd_oidv4", "yolov3_tiny"])
def test_detectors_find_the_vtest_pedestrians(name: str) -> None:
    if name == "yolov3_tiny" and not _have("objects", "yolov3-tiny.onnx"):
        pytest.skip("yolov3-tiny not converted")
    from hoi_perception.objects.person_boxes import DetectorPersonBoxSource

    cap = cv2.VideoCapture(str(OPENCV_DATA / "vtest.avi"))
    ok, bgr = cap.read()
    assert ok
    src = DetectorPersonBoxSource(name, min_score=0.3, min_height_px=20)
    boxes = src.boxes(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.eye(3))
    # the three pedestrians on the path in frame 0 (hand-labelled, scripts/bench_objects.py)
    people = [(252, 215, 283, 308), (497, 156, 531, 233), (643, 238, 688, 326)]
    for p in people:
        assert any(_inside(b.xyxy, (p[0] - 5, p[1] - 5, p[2] + 5, p[3] + 5)) for b in boxes), (p, boxes)
    assert all(b.source.startswith("detector:") and b.keypoints is None for b in boxes)


@needs_objects
def test_detector_refuses_bad_input_clearly() -> None:
    from hoi_perception.objects.detector import make_object_detector

    det = make_object_detector("ssd_oidv4")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        det.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="unknown object detector"):
        make_object_detector("centernet")


@needs_hands
@needs_models
@needs_opencv_doc
def test_hands_on_messi_land_on_his_hands_with_sides_from_the_pose() -> None:
    from hoi_perception.bodypose.blazepose import BlazePoseEstimator
    from hoi_perception.hands.estimator import LEFT, RIGHT, HandEstimator, seeds_from_joints

    rgb = _rgb("messi5.jpg")  # 548x342; he faces the camera: his right hand is on the image's left
    h, w = rgb.shape[:2]
    k = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1.0]])
    poses = BlazePoseEstimator().estimate(rgb, k)
    assert poses
    seeds = seeds_from_joints(poses[0].joints_2d, poses[0].confidence, 7)
    hands = HandEstimator().estimate(rgb, k, seeds)
    assert len(hands) == 2
    by_side = {hr.side: hr for hr in hands}
    assert set(by_side) == {LEFT, RIGHT}
    assert by_side[RIGHT].box[2] < w / 2 < by_side[LEFT].box[0]
    for hr in hands:
        assert hr.person_track_id == 7 and hr.keypoints_2d.shape == (21, 2)
        assert hr.placement == "relative" and not hr.depth_measured.any()
        span = np.ptp(hr.keypoints_cam, axis=0).max()
        assert 0.05 < span < 0.3  # a hand's size in metres from the model's world landmarks
        assert np.all(hr.keypoints_cam[:, 2] > 0)


@needs_hands
def test_hand_depth_placement_uses_measured_depth() -> None:
    from hoi_perception.hands.estimator import HandEstimator

    k = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    xy = np.stack([np.linspace(300, 340, 21), np.linspace(220, 260, 21)], 1)
    world = np.zeros((21, 3))
    world[:, 0] = np.linspace(-0.04, 0.04, 21)
    depth = np.full((480, 640), 0.8, np.float32)
    depth[:, 330:] = np.nan  # half the keypoints without depth
    cam, measured, how = HandEstimator._metric(xy, world, k, depth, (640, 480))
    assert how == "depth+relative" and measured.any() and not measured.all()
    assert np.allclose(cam[measured, 2], 0.8, atol=1e-6)
    assert np.all(np.abs(cam[~measured, 2] - 0.8) < 0.05)


def test_fetch_is_idempotent_and_checks_hashes(tmp_path) -> None:  # noqa: ANN001
    from hoi_perception.model_fetch import FetchError, all_present, write_checked

    write_checked(tmp_path, "a.bin", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert all_present(tmp_path, {"a.bin": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"})
    with pytest.raises(FetchError, match="sha256"):
        write_checked(tmp_path, "b.bin", b"abd", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert not (tmp_path / "b.bin").exists()


@needs_hands
def test_hands_fetch_second_run_downloads_nothing(capsys) -> None:  # noqa: ANN001
    from hoi_perception.hands import fetch_models

    fetch_models.fetch(paths.models_dir("hands"))
    assert "present" in capsys.readouterr().out
