"""Where the real test images and models live, and skip markers for machines
that have not run `make setup` (which installs opencv-doc and the models)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hoi_perception.bodypose.blazepose import default_model_dir

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MODELS = default_model_dir()

needs_models = pytest.mark.skipif(not (MODELS / "pose_landmark_full.tflite").is_file(),
                                  reason=f"BlazePose models missing in {MODELS}: run hoi-fetch-models")
needs_opencv_doc = pytest.mark.skipif(not (OPENCV_DATA / "basketball1.png").is_file(),
                                      reason="opencv-doc not installed (apt-get install opencv-doc)")
needs_vtest = pytest.mark.skipif(not (OPENCV_DATA / "vtest.avi").is_file(),
                                 reason="opencv-doc not installed (apt-get install opencv-doc)")
