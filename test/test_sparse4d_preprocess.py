"""Multi-camera pre-processing: layout, normalisation, projection matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
from hoi_perception.sparse4d.constants import IMAGE_MEAN, IMAGE_STD
from hoi_perception.sparse4d.preprocess import Sparse4DPreprocessor, projection_matrix


def _cams(n: int) -> list[PinholeCamera]:
    return [PinholeCamera(f"cam_{i:02d}", 1920, 1080, intrinsics(1100, 1100, 960, 540),
                          look_at([6.0 * np.cos(i), 6.0 * np.sin(i), 3.0], [0, 0, 1])) for i in range(n)]


def test_layout_and_normalisation():
    cams = _cams(3)
    pre = Sparse4DPreprocessor(cams, num_threads=2, resize_filter="area")  # the 2x2 mean below is INTER_AREA
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in cams]
    out = pre(frames)
    assert out["img"].shape == (1, 3, 3, 540, 960) and out["img"].dtype == np.float32
    assert out["projection_mat"].shape == (1, 3, 4, 4) and out["image_wh"].shape == (1, 3, 2)
    np.testing.assert_array_equal(out["image_wh"][0, 0], [960, 540])
    # Reference: 2x2 box average (what a 0.5 linear resize computes), then (x - mean) / std per network
    # channel in the contract's order, B, G, R (TAO's normalize_image swaps its RGB input; issue 11 point 1).
    f = frames[1].astype(np.float64)
    small = 0.25 * (f[0::2, 0::2] + f[1::2, 0::2] + f[0::2, 1::2] + f[1::2, 1::2])
    ref = (small[..., ::-1] - np.array(IMAGE_MEAN)) / np.array(IMAGE_STD)
    np.testing.assert_allclose(out["img"][0, 1].transpose(1, 2, 0), ref, atol=0.02)
    pre.close()


def test_bgr_input_and_missing_frame():
    cams = _cams(2)
    pre = Sparse4DPreprocessor(cams, encoding="bgr8", num_threads=1)
    red_bgr = np.zeros((1080, 1920, 3), np.uint8)
    red_bgr[..., 2] = 255
    out = pre([red_bgr, None])
    # Network channels are B, G, R (contract channel_order BGR): red lands in channel 2.
    assert out["img"][0, 0, 2].mean() == pytest.approx((255 - IMAGE_MEAN[2]) / IMAGE_STD[2], abs=1e-4)
    assert out["img"][0, 0, 0].mean() == pytest.approx(-IMAGE_MEAN[0] / IMAGE_STD[0], abs=1e-4)
    assert np.all(out["img"][0, 1] == 0.0)
    assert pre.counters["missing_frames"] == 1
    out = pre([np.zeros((10, 10), np.float32), None])  # bad frame: counted, not raised
    assert pre.counters["bad_frames"] == 1


def test_projection_matrix_scales_intrinsics():
    cam = _cams(1)[0]
    p = projection_matrix(cam)
    pw = np.array([0.3, -0.2, 1.0])
    uv_full, depth = cam.project(pw)
    h = p @ np.append(pw, 1.0)
    uv_net = h[:2] / h[2]
    np.testing.assert_allclose(uv_net, uv_full * 0.5, rtol=1e-5)
    assert h[2] == pytest.approx(depth, rel=1e-5)


def test_wrong_frame_count_raises():
    pre = Sparse4DPreprocessor(_cams(2), num_threads=1)
    with pytest.raises(ValueError):
        pre([None])
