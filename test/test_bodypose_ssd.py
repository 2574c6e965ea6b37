"""The SSD object detector's person boxes as the body pose box source (issue
12 item 1): by name through make_box_source / make_pose_pipeline, the
default of both backends, the model folder through paths, and BlazePose
landmarks from SSD boxes on opencv-doc vtest.avi."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hoi_perception.bodypose.blazepose_detector import BlazePoseDetector
from hoi_perception.bodypose.box_sources import (
    BOX_SOURCES,
    DEFAULT_BOX_SOURCE,
    PosePipelineConfig,
    UnionBoxSource,
    make_box_source,
    make_pose_pipeline,
)
from hoi_perception.bodypose.hog_detector import HogPersonDetector
from hoi_perception.bodypose.types import BoxSource
from hoi_perception.objects.fetch_models import SSD_FILE, SSD_LABELS
from hoi_perception.objects.person_boxes import DetectorPersonBoxSource
from real_data import MODELS, needs_models, needs_vtest
from test_bodypose_hog import K_VTEST, _vtest, good_pose

from hoi_perception import paths


def _objects_dir() -> Path | None:
    try:
        folder = paths.models_dir("objects")
    except paths.ResourceNotFound:
        return None
    return folder if (folder / SSD_FILE).is_file() else None


OBJECTS = _objects_dir()
needs_ssd = pytest.mark.skipif(OBJECTS is None, reason="SSD model not fetched (hoi-fetch-models)")


def test_ssd_is_the_default_of_both_backends_and_hog_stays_an_option() -> None:
    assert DEFAULT_BOX_SOURCE == {"blazepose": "ssd+blazepose", "bodypose3dnet": "ssd"}
    assert {"ssd", "ssd+blazepose", "hog", "hog+blazepose"} <= set(BOX_SOURCES)


def test_ssd_model_folder_is_checked(tmp_path: Path) -> None:
    with pytest.raises(paths.ResourceNotFound, match=SSD_FILE):
        make_box_source("ssd", objects_model_dir=str(tmp_path))  # a folder without the model
    with pytest.raises(paths.ResourceNotFound, match="nowhere"):
        make_box_source("ssd", objects_model_dir=str(tmp_path / "nowhere"))


@needs_ssd
def test_ssd_box_source_by_name_and_from_a_copied_folder(tmp_path: Path) -> None:
    src = make_box_source("ssd", ssd={"min_score": 0.5, "min_height_px": 30.0})
    assert isinstance(src, DetectorPersonBoxSource) and isinstance(src, BoxSource)
    assert src.min_score == 0.5 and src.min_height_px == 30.0 and src.name.startswith("detector:ssd")
    assert make_box_source("ssd", ssd=src) is src  # a ready source is shared, not rebuilt
    for f in (SSD_FILE, SSD_LABELS):
        shutil.copy(OBJECTS / f, tmp_path / f)
    assert isinstance(make_box_source("ssd", objects_model_dir=str(tmp_path)), DetectorPersonBoxSource)


@needs_ssd
@needs_models
def test_default_pipeline_builds_ssd_and_blazepose_detector_once() -> None:
    p = make_pose_pipeline(PosePipelineConfig(backend="blazepose", blazepose_model_dir=str(MODELS)))
    assert p.box_source_name == "ssd+blazepose" and isinstance(p.box_source, UnionBoxSource)
    blaze, ssd = p.box_source.sources
    assert blaze is p.estimator.detector and isinstance(blaze, BlazePoseDetector)  # one interpreter, shared
    assert isinstance(ssd, DetectorPersonBoxSource)
    p = make_pose_pipeline(PosePipelineConfig(box_source="hog+blazepose", blazepose_model_dir=str(MODELS)))
    assert isinstance(p.box_source.sources[1], HogPersonDetector)  # HOG still by name


@needs_ssd
@needs_vtest
def test_bodypose3dnet_default_boxes_are_ssd_and_find_people_on_vtest() -> None:
    from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine

    p = make_pose_pipeline(PosePipelineConfig(backend="bodypose3dnet"), engine=StandInBodyPose3DNetEngine(K_VTEST))
    assert p.box_source_name == "ssd" and p.estimator.box_source is p.box_source and p.model_dir is None
    frames = _vtest([0, 30, 60])
    counts = []
    for f in frames.values():
        boxes = p.box_source.boxes(f, K_VTEST)
        for b in boxes:
            assert 0.3 <= b.score <= 1.0 and b.height >= 24.0 and b.source.startswith("detector:ssd")
        counts.append(len(boxes))
    # measured at 768x576: 4, 6, 6 boxes (HOG at upscale 1.25: 5, 5, 5; BlazePose detector alone: 0)
    assert min(counts) >= 4, counts


@needs_ssd
@needs_models
@needs_vtest
def test_vtest_people_from_ssd_boxes() -> None:
    est = make_pose_pipeline(PosePipelineConfig(box_source="ssd", blazepose_model_dir=str(MODELS),
                                                max_people=16)).estimator
    counts = []
    for f in _vtest([0, 30, 60]).values():
        # SSD boxes are tight (feet and head at the edge): a wider margin than for HOG windows
        counts.append(sum(good_pose(r, margin=0.4) for r in est.estimate(f, K_VTEST)))
    # measured: 3, 3, 4 people with an in-box upright skeleton (HOG boxes: 3, 3, 4)
    assert np.mean(counts) >= 3.0 and min(counts) >= 2, counts
