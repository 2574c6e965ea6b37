"""Issue 11 point 6: the Sparse4D resize matches TAO's (Pillow bicubic with antialias), not INTER_AREA.

TAO's ResizeCropFlipImage resizes with PIL Image.resize and its default filter (bicubic for RGB,
nvidia_tao_pytorch/cv/sparse4d/dataloader/augment.py). The default resize_filter is now pil_bicubic on
every path; this fails on the previous behaviour (INTER_AREA) on a real frame by tens of uint8 levels.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
from hoi_perception.sparse4d.constants import IMAGE_STD
from hoi_perception.sparse4d.preprocess import (
    DEFAULT_RESIZE_FILTER,
    ReferencePreprocessor,
    Sparse4DPreprocessor,
    pil_bicubic_weights,
)
from real_data import OPENCV_DATA, needs_opencv_doc

PIL = pytest.importorskip("PIL.Image")


def _frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(OPENCV_DATA / "vtest.avi"))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    return np.ascontiguousarray(bgr[..., ::-1])  # rgb8, 768x576


def _cam(w: int, h: int) -> PinholeCamera:
    return PinholeCamera("c", w, h, intrinsics(w, w, w / 2, h / 2), look_at([6.0, 0.0, 3.0], [0, 0, 1]))


def _pil_network_input(frame: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """TAO's path written out: PIL resize (default filter), then B, G, R and (x - mean) / std."""
    from hoi_perception.sparse4d.constants import IMAGE_MEAN

    small = np.asarray(PIL.fromarray(frame).resize(wh)).astype(np.float64)[..., ::-1]
    return ((small - np.array(IMAGE_MEAN)) / np.array(IMAGE_STD)).transpose(2, 0, 1)


def test_default_is_pil_bicubic_and_contract_says_so():
    assert DEFAULT_RESIZE_FILTER == "pil_bicubic"
    engine = pytest.importorskip("hoi_perception.engine")
    assert engine.load_contract("sparse4d").inputs["img"].conventions["resize_filter"] == "pil_bicubic"


@needs_opencv_doc
@pytest.mark.parametrize("path", ["reference", "fast", "graph"])
def test_paths_match_pil_on_a_real_frame(path):
    frame = _frame()
    h, w = frame.shape[:2]
    wh = (w // 2, h // 2)
    cams = [_cam(w, h)]
    if path == "reference":
        pre = ReferencePreprocessor(cams, wh, num_threads=1)
    elif path == "fast":
        pre = Sparse4DPreprocessor(cams, wh, num_threads=2)
    else:
        pytest.importorskip("onnxruntime")
        from hoi_perception.sparse4d.preprocess_graph import GraphPreprocessor

        pre = GraphPreprocessor(cams, wh, num_threads=1)
    got = np.asarray(pre([frame])["img"])[0, 0]
    want = _pil_network_input(frame, wh)
    diff = np.abs(got - want)
    tol = 1e-5 if path != "graph" else 1.0 / min(IMAGE_STD) + 1e-5  # graph: float weights, one step at most
    assert diff.max() <= tol
    assert (diff > 1e-4).mean() < 1e-3
    pre.close()
    # The old filter is measurably different on the same frame (the reason for this fix).
    old = Sparse4DPreprocessor(cams, wh, num_threads=1, resize_filter="area")
    assert np.abs(old([frame])["img"][0, 0] - want).max() * min(IMAGE_STD) > 10
    old.close()


def test_pil_weights_shape_and_antialias():
    m = pil_bicubic_weights(1920, 960)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    assert (np.count_nonzero(m[2:-2], axis=1) == 8).all()  # support 2 stretched by the 2x shrink: antialiased
    up = pil_bicubic_weights(54, 96)
    assert np.count_nonzero(up, axis=1).max() <= 4
