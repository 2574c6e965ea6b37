"""Fast host path and ONNX graph path of the Sparse4D pre-processing against the reference implementation.

Equivalence only (no timings). Tolerances: integer resize factors (incl. 1920x1080 -> 960x540, 1x, 3x)
1e-5 for both paths (float rounding of the normalisation; the uint8 intermediates are identical);
other sizes: the fast host path 1e-5 (same OpenCV resize), the graph at most one uint8 step (1/std)
because OpenCV's uint8 INTER_LINEAR uses fixed-point weights and the graph float ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
from hoi_perception.sparse4d.constants import IMAGE_STD
from hoi_perception.sparse4d.preprocess import (
    ReferencePreprocessor,
    Sparse4DPreprocessor,
    normalisation_luts,
    preprocess_reference,
)

ONE_STEP = 1.0 / min(IMAGE_STD) + 1e-5


def _cams(n: int, w: int, h: int) -> list[PinholeCamera]:
    return [PinholeCamera(f"cam_{i:02d}", w, h, intrinsics(w, w, w / 2, h / 2),
                          look_at([6.0 * np.cos(i), 6.0 * np.sin(i), 3.0], [0, 0, 1])) for i in range(n)]


def _frames(n: int, w: int, h: int, seed: int, drop: tuple[int, ...] = ()) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed)
    return [None if i in drop else rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for i in range(n)]


# (frame w, h, network w, h, integer factor)
SIZES = [
    (1920, 1080, 960, 540, True),
    (192, 108, 96, 54, True),  # 2x, small
    (288, 162, 96, 54, True),  # 3x
    (96, 54, 96, 54, True),  # 1x
    (160, 90, 96, 54, False),  # 1.67x: INTER_LINEAR
    (250, 141, 96, 54, False),  # 2.6x: INTER_AREA, fractional
    (70, 40, 96, 54, False),  # upscale
]


@pytest.mark.parametrize("w,h,nw,nh,exact", SIZES)
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
@pytest.mark.parametrize("resize_filter", ["area", "pil_bicubic"])
def test_fast_path_matches_reference(w, h, nw, nh, exact, encoding, resize_filter):
    n = 3
    cams = _cams(n, w, h)
    frames = _frames(n, w, h, seed=w + h, drop=(1,))
    ref = preprocess_reference(frames, cams, (nw, nh), encoding, resize_filter=resize_filter)
    for threads in (1, 2, 4):
        pre = Sparse4DPreprocessor(cams, (nw, nh), encoding=encoding, num_threads=threads, strip_rows=7,
                                   resize_filter=resize_filter)
        out = pre(frames)["img"]
        assert out.shape == (1, n, 3, nh, nw)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)
        assert np.all(out[0, 1] == 0.0) and pre.counters["missing_frames"] == 1
        pre.close()


def test_fast_path_single_camera_bands_and_rgba():
    cams = _cams(1, 192, 108)
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (108, 192, 4), dtype=np.uint8)
    ref = preprocess_reference([rgba[..., :3].copy()], cams, (96, 54))
    pre = Sparse4DPreprocessor(cams, (96, 54), num_threads=3, strip_rows=5)  # 3 row bands of one camera
    np.testing.assert_allclose(pre([rgba])["img"], ref, rtol=0, atol=1e-5)
    # A bad frame after a good one zeroes the plane and is counted.
    out = pre([np.zeros((4, 4), np.float32)])
    assert np.all(out["img"] == 0.0) and pre.counters["bad_frames"] == 1
    pre.close()


def test_lut_is_the_normalisation():
    luts = normalisation_luts([10.0, 20.0, 30.0], [2.0, 4.0, 8.0])
    assert luts[1].dtype == np.float32 and luts[1].shape == (256, 1)
    assert luts[1][24, 0] == pytest.approx(1.0) and luts[2][30, 0] == 0.0


def test_reference_class_matches_function():
    cams = _cams(2, 192, 108)
    frames = _frames(2, 192, 108, seed=5)
    pre = ReferencePreprocessor(cams, (96, 54), num_threads=2)
    np.testing.assert_array_equal(pre(frames)["img"], preprocess_reference(frames, cams, (96, 54)))
    pre.close()


@pytest.mark.parametrize("w,h,nw,nh,exact", SIZES)
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
@pytest.mark.parametrize("resize_filter", ["area", "pil_bicubic"])
def test_graph_path_matches_reference(w, h, nw, nh, exact, encoding, resize_filter):
    """area: as before. pil_bicubic: Pillow's fixed-point weights vs the graph's float ones differ by one
    uint8 step at isolated pixels (< 0.1 %), whatever the factor."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from hoi_perception.sparse4d.preprocess_graph import GraphPreprocessor

    n = 3
    cams = _cams(n, w, h)
    frames = _frames(n, w, h, seed=w * h, drop=(2,))
    ref = preprocess_reference(frames, cams, (nw, nh), encoding, resize_filter=resize_filter)
    pre = GraphPreprocessor(cams, (nw, nh), encoding=encoding, num_threads=2, resize_filter=resize_filter)
    out = pre(frames)
    img = out["img"]
    assert isinstance(img, np.ndarray) and img.shape == (1, n, 3, nh, nw) and img.dtype == np.float32
    assert out["projection_mat"].shape == (1, n, 4, 4)
    diff = np.abs(img - ref)
    assert diff.max() <= (1e-5 if exact and resize_filter == "area" else ONE_STEP)
    assert diff.mean() < 5e-3
    if resize_filter == "pil_bicubic":
        assert (diff > 1e-4).mean() < 1e-3
    assert np.all(img[0, 2] == 0.0) and pre.counters["missing_frames"] == 1
    assert pre.backend_name.startswith("onnxruntime")
    pre.close()


def test_graph_mixed_sizes_fall_back_to_host():
    pytest.importorskip("onnxruntime")
    from hoi_perception.sparse4d.preprocess_graph import GraphPreprocessor

    cams = _cams(2, 192, 108)
    frames = [_frames(1, 192, 108, 1)[0], _frames(1, 160, 90, 2)[0]]
    pre = GraphPreprocessor(cams, (96, 54), num_threads=1)
    ref = preprocess_reference(frames, cams, (96, 54))
    np.testing.assert_allclose(pre(frames)["img"], ref, rtol=0, atol=1e-5)
    assert pre.counters["graph_fallback"] == 1  # 160x90 has the same aspect: no aspect_mismatch
    pre.close()


def test_tracker_graph_preprocess_gives_same_tracks(tmp_path):
    engine_mod = pytest.importorskip("hoi_perception.engine")
    test_models = pytest.importorskip("hoi_perception.engine.test_models")
    from hoi_perception.sparse4d import Sparse4DParams, Sparse4DTracker

    contract = engine_mod.load_contract("sparse4d")
    path = tmp_path / "sparse4d_test.onnx"
    test_models.make_test_model("sparse4d", path)
    engine = engine_mod.create_engine(str(path), contract, backend="onnxruntime")
    cams = _cams(2, 960, 540)
    trackers = {m: Sparse4DTracker(engine, cams, Sparse4DParams(preprocess=m), contract=contract)
                for m in ("cpu", "graph")}
    assert trackers["graph"].preprocess.device == "cpu"
    for k in range(3):
        frames = _frames(2, 960, 540, seed=k, drop=(1,) if k == 1 else ())
        res = {m: t.step(frames, k * 33_333_333) for m, t in trackers.items()}
        assert res["cpu"].ok and res["graph"].ok
        a = [(t.track_id, t.class_name) for t in res["cpu"].tracks]
        b = [(t.track_id, t.class_name) for t in res["graph"].tracks]
        assert a == b
    for t in trackers.values():
        t.close()
    with pytest.raises(ValueError):
        Sparse4DTracker(engine, cams, Sparse4DParams(preprocess="gpu"))
