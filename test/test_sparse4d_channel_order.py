"""Issue 11 point 1: the Sparse4D network is fed B, G, R (what TAO's pipeline produces), as a contract field.

TAO opens images with PIL as RGB and normalize_image(..., to_rgb=True) then applies
cv2.cvtColor(COLOR_BGR2RGB) to them (nvidia_tao_pytorch/cv/sparse4d/dataloader/augment.py), so the
network's channel 0 is blue and gets mean[0] = 123.675. Each pre-processing path (reference, fast,
graph) is checked with a pure-blue frame in both frame encodings. These tests fail on the old
behaviour, which fed true RGB.
"""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
from hoi_perception.sparse4d.constants import CHANNEL_ORDER, IMAGE_MEAN, IMAGE_STD
from hoi_perception.sparse4d.preprocess import ReferencePreprocessor, Sparse4DPreprocessor, source_channels

W, H, NW, NH = 192, 108, 96, 54


def _cams(n: int) -> list[PinholeCamera]:
    return [PinholeCamera(f"cam_{i}", W, H, intrinsics(W, W, W / 2, H / 2),
                          look_at([6.0 * np.cos(i), 6.0 * np.sin(i), 3.0], [0, 0, 1])) for i in range(n)]


def _blue(encoding: str) -> np.ndarray:
    f = np.zeros((H, W, 3), np.uint8)
    f[..., 2 if encoding == "rgb8" else 0] = 255
    return f


def _make(path: str, cams: list[PinholeCamera], encoding: str, **kw):
    if path == "reference":
        return ReferencePreprocessor(cams, (NW, NH), encoding=encoding, num_threads=1, **kw)
    if path == "fast":
        return Sparse4DPreprocessor(cams, (NW, NH), encoding=encoding, num_threads=2, **kw)
    pytest.importorskip("onnxruntime")
    from hoi_perception.sparse4d.preprocess_graph import GraphPreprocessor

    return GraphPreprocessor(cams, (NW, NH), encoding=encoding, num_threads=1, **kw)


def test_contract_declares_bgr():
    engine = pytest.importorskip("hoi_perception.engine")
    from hoi_perception.sparse4d.tracker import contract_channel_order

    contract = engine.load_contract("sparse4d")
    assert contract.inputs["img"].conventions["channel_order"] == "BGR" == CHANNEL_ORDER
    assert contract_channel_order(contract) == "BGR"
    assert contract_channel_order({"inputs": [{"name": "img", "conventions": {"channel_order": "rgb"}}]}) == "RGB"


@pytest.mark.parametrize("path", ["reference", "fast", "graph"])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
def test_blue_lands_in_channel_0_with_mean_0(path, encoding):
    cams = _cams(2)
    pre = _make(path, cams, encoding)
    img = np.asarray(pre([_blue(encoding), None])["img"])
    np.testing.assert_allclose(img[0, 0, 0], (255 - IMAGE_MEAN[0]) / IMAGE_STD[0], atol=1e-5)
    np.testing.assert_allclose(img[0, 0, 1], -IMAGE_MEAN[1] / IMAGE_STD[1], atol=1e-5)
    np.testing.assert_allclose(img[0, 0, 2], -IMAGE_MEAN[2] / IMAGE_STD[2], atol=1e-5)
    assert np.all(img[0, 1] == 0.0)
    pre.close()


@pytest.mark.parametrize("path", ["reference", "fast", "graph"])
def test_rgb_order_is_an_explicit_option(path):
    cams = _cams(1)
    pre = _make(path, cams, "rgb8", channel_order="RGB")
    img = np.asarray(pre([_blue("rgb8")])["img"])
    np.testing.assert_allclose(img[0, 0, 2], (255 - IMAGE_MEAN[2]) / IMAGE_STD[2], atol=1e-5)
    pre.close()


def test_three_paths_agree_on_a_real_like_frame():
    pytest.importorskip("onnxruntime")
    cams = _cams(1)
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    outs = {p: np.asarray(_make(p, cams, "rgb8")([frame])["img"]).copy() for p in ("reference", "fast", "graph")}
    np.testing.assert_allclose(outs["fast"], outs["reference"], atol=1e-5)
    np.testing.assert_allclose(outs["graph"], outs["reference"], atol=1e-5)


def test_source_channels_validation():
    assert source_channels("rgb8", "BGR") == (2, 1, 0)
    assert source_channels("bgr8", "BGR") == (0, 1, 2)
    with pytest.raises(ValueError):
        source_channels("rgb8", "GBR")
    with pytest.raises(ValueError):
        source_channels("mono8", "BGR")
