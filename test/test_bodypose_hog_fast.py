"""The banded ramp-channel HOG features equal the first (scatter) numpy
implementation kept in hog_detector as ``*_reference``, to float32 rounding,
and the detector finds the same windows with either."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hoi_perception.bodypose import hog_detector as hd
from hoi_perception.bodypose.hog_detector import (
    HogPersonDetector,
    block_features,
    block_features_reference,
    gradient_histograms,
    gradient_histograms_reference,
)

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    imgs = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(16, 16, 3), (128, 64, 3), (136, 200, 3), (64, 48), (40, 24)]]
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (96, 80, 3), dtype=np.uint8), (7, 7), 2.0)  # near-ties between channels
    edges = np.zeros((64, 64), np.uint8)  # axis-aligned and diagonal gradients: angles 0, 90, 180, 270, 45 deg exactly
    edges[20:44, 20:44] = 200
    edges[np.arange(64)[:, None] > np.arange(64)[None, :] + 30] = 90
    gray3 = np.repeat(rng.integers(0, 256, (32, 48, 1), dtype=np.uint8), 3, axis=2)  # exact ties: first channel wins
    return [*imgs, smooth, edges, gray3, np.full((24, 32, 3), 77, np.uint8)]


@pytest.mark.parametrize("idx", range(len(_images())))
def test_gradient_histograms_match_reference(idx: int) -> None:
    img = _images()[idx]
    ref = gradient_histograms_reference(img)
    new = gradient_histograms(img)
    assert new.shape == ref.shape and new.dtype == np.float32
    # votes up to ~16 * sqrt(2); the hats are differences of ramps bounded by the magnitude
    np.testing.assert_allclose(new, ref, rtol=0, atol=1e-5 * max(1.0, float(ref.max())))


@pytest.mark.parametrize("idx", range(len(_images())))
def test_block_features_match_reference(idx: int) -> None:
    img = _images()[idx]
    ref = block_features_reference(img)
    new = block_features(img)
    assert new.shape == ref.shape and new.dtype == np.float32
    np.testing.assert_allclose(new, ref, rtol=0, atol=2e-6)


def test_block_features_band_split_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    # bands of 8 rows (halo rows at every seam) and a ragged last band give the one-band result
    img = np.random.default_rng(3).integers(0, 256, (120, 72, 3), dtype=np.uint8)
    whole = block_features(img)
    monkeypatch.setattr(hd, "BAND_PIXELS", 72 * 8)
    np.testing.assert_allclose(block_features(img), whole, rtol=0, atol=1e-7)
    monkeypatch.setattr(hd, "BAND_PIXELS", 72 * 48)  # 48-row bands: 48, 48, 24
    np.testing.assert_allclose(block_features(img), whole, rtol=0, atol=1e-7)


@pytest.mark.skipif(not VTEST.is_file(), reason="opencv-doc not installed (apt-get install opencv-doc)")
def test_detector_same_windows_as_reference() -> None:
    cap = cv2.VideoCapture(str(VTEST))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    det = HogPersonDetector(max_side=384, scale=1.1)  # a few pyramid levels keep the reference run short
    new = det.raw_hits(rgb)
    det.features = block_features_reference
    ref = det.raw_hits(rgb)
    assert len(new) == len(ref) > 0
    for a, b in zip(new, ref, strict=True):
        assert a.box == b.box
        assert a.score == pytest.approx(b.score, abs=1e-4)
