"""RGB-D and camera ingest: validation, depth clean-up and resize, xyz map, counters."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from hoi_perception.geometry.camera import backproject_depth, intrinsics
from hoi_perception.imaging.encodings import ImageConversionError, numpy_to_image
from hoi_perception.imaging.rgbd import CameraIngest, IngestError, IngestStats, RgbdIngest, match_depth_size
from sensor_msgs.msg import CameraInfo, Image

H, W = 6, 8
K = intrinsics(10.0, 11.0, 3.5, 2.5)


def info(width: int = W, height: int = H, k: np.ndarray = K) -> CameraInfo:
    m = CameraInfo()
    m.width, m.height = width, height
    m.k = np.asarray(k, np.float64).reshape(-1)
    m.distortion_model = "plumb_bob"
    m.d = [0.0] * 5
    return m


def image(a: np.ndarray, encoding: str, stamp_ns: int = 1_700_000_000_123_456_789, frame: str = "zed_left") -> Image:
    m = numpy_to_image(a, encoding, Image())
    m.header.stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    m.header.frame_id = frame
    return m


def zed_pair(depth: np.ndarray | None = None, **kw) -> tuple[Image, Image]:
    bgra = np.zeros((H, W, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 10, 200, 255
    d = np.full((H, W), 2.0, np.float32) if depth is None else depth
    return image(bgra, "bgra8", **kw), image(d, "32FC1", **kw)


def test_zed_frame() -> None:
    depth = np.full((H, W), 2.0, np.float32)
    depth[0, 0], depth[0, 1], depth[0, 2], depth[0, 3] = np.nan, np.inf, 0.0, -1.0
    rgb_msg, depth_msg = zed_pair(depth)
    ing = RgbdIngest(compute_xyz=True)
    f = ing.from_messages(rgb_msg, depth_msg, info())
    assert f.rgb.shape == (H, W, 3) and f.rgb.dtype == np.uint8
    assert tuple(f.rgb[0, 0]) == (200, 0, 10)
    assert f.depth.dtype == np.float32 and np.isnan(f.depth[0, :4]).all() and f.depth[1, 1] == 2.0
    assert f.invalid_depth_pixels == 4
    assert f.xyz.shape == (H, W, 3) and f.xyz.dtype == np.float32
    np.testing.assert_array_equal(f.xyz, backproject_depth(f.depth, K))
    np.testing.assert_allclose(f.xyz[2, 5], [2.0 * (5 - 3.5) / 10.0, 2.0 * (2 - 2.5) / 11.0, 2.0], rtol=1e-6)
    assert f.stamp_ns == 1_700_000_000_123_456_789 and f.frame_id == "zed_left"
    assert ing.stats.frames == 1 and ing.stats.invalid_depth_pixels == 4 and ing.stats.rejected_total == 0


def test_16uc1_depth_in_mm() -> None:
    mm = np.full((H, W), 1500, np.uint16)
    mm[2, 2] = 0
    rgb_msg, _ = zed_pair()
    f = RgbdIngest().from_messages(rgb_msg, image(mm, "16UC1"), info())
    assert f.depth[0, 0] == np.float32(1.5) and np.isnan(f.depth[2, 2]) and f.invalid_depth_pixels == 1


@pytest.mark.parametrize("factor", [2, -2])
def test_depth_integer_ratio_resized_nearest(factor: int) -> None:
    if factor > 0:  # depth at half resolution
        small = np.arange((H // 2) * (W // 2), dtype=np.float32).reshape(H // 2, W // 2) + 1
        d = small
    else:  # depth at double resolution
        d = np.repeat(np.repeat(np.arange(H * W, dtype=np.float32).reshape(H, W) + 1, 2, 0), 2, 1)
    rgb_msg, _ = zed_pair()
    ing = RgbdIngest(compute_xyz=True)
    f = ing.from_messages(rgb_msg, image(d, "32FC1"), info())
    assert f.depth.shape == (H, W) and ing.stats.depth_resized == 1
    if factor > 0:
        assert f.depth[3, 5] == small[1, 2]
    else:
        assert f.depth[3, 5] == 3 * W + 5 + 1


def test_match_depth_size_rejects_non_integer_ratio() -> None:
    with pytest.raises(IngestError, match="not an integer ratio"):
        match_depth_size(np.zeros((4, 5), np.float32), H, W)
    with pytest.raises(IngestError, match="not an integer ratio"):
        match_depth_size(np.zeros((3, 2), np.float32), H, W)  # different factors per axis


@pytest.mark.parametrize(
    ("case", "reason", "match"),
    [
        ("no_info", "missing_camera_info", "no camera_info"),
        ("zero_k", "bad_camera_info", "uncalibrated"),
        ("info_size", "size_mismatch", "camera_info size 16x12 differs"),
        ("zero_stamp", "zero_stamp", "zero stamp"),
        ("depth_size", "size_mismatch", "not an integer ratio"),
        ("depth_encoding", "not_depth", "not a depth encoding"),
        ("colour_encoding", "not_colour", "not a colour encoding"),
        ("short_data", "size_mismatch", "data has"),
    ],
)
def test_rejections_counted(case: str, reason: str, match: str) -> None:
    rgb_msg, depth_msg = zed_pair()
    inf = info()
    if case == "no_info":
        inf = None
    elif case == "zero_k":
        inf = info(k=np.zeros((3, 3)))
    elif case == "info_size":
        inf = info(16, 12)
    elif case == "zero_stamp":
        rgb_msg, depth_msg = zed_pair(stamp_ns=0)
    elif case == "depth_size":
        depth_msg = image(np.ones((5, 5), np.float32), "32FC1")
    elif case == "depth_encoding":
        depth_msg = image(np.zeros((H, W, 3), np.uint8), "rgb8")
    elif case == "colour_encoding":
        rgb_msg = image(np.ones((H, W), np.float32), "32FC1")
    elif case == "short_data":
        depth_msg.data = depth_msg.data[:-1]
    ing = RgbdIngest(IngestStats())
    with pytest.raises(ImageConversionError, match=match) as exc:
        ing.from_messages(rgb_msg, depth_msg, inf)
    assert exc.value.reason == reason
    assert ing.stats.rejected == {reason: 1} and ing.stats.frames == 0


def test_from_arrays() -> None:
    d = np.full((H, W), 1.0, np.float64)
    d[1, 1] = -3
    ing = RgbdIngest(compute_xyz=False)
    f = ing.from_arrays(np.zeros((H, W, 3), np.uint8), d, SimpleNamespace(k=K.reshape(-1), width=W, height=H), 5, "c")
    assert f.xyz is None and f.depth.dtype == np.float32 and np.isnan(f.depth[1, 1]) and f.invalid_depth_pixels == 1
    with pytest.raises(IngestError, match="zero stamp"):
        ing.from_arrays(np.zeros((H, W, 3), np.uint8), d, SimpleNamespace(k=K.reshape(-1), width=W, height=H), 0, "c")
    assert ing.stats.rejected == {"zero_stamp": 1}


def test_camera_frame() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3)).astype(np.uint8)
    ing = CameraIngest()
    f = ing.from_messages(image(rgb, "rgb8", frame="cam_00_optical_frame"), info())
    np.testing.assert_array_equal(f.rgb, rgb)
    assert f.width == W and f.height == H and f.distortion_model == "plumb_bob" and f.distortion.shape == (5,)
    assert f.frame_id == "cam_00_optical_frame" and ing.stats.frames == 1
    with pytest.raises(IngestError):
        ing.from_messages(image(rgb, "rgb8"), None)
    assert ing.stats.rejected == {"missing_camera_info": 1}


def test_rosbags_messages() -> None:
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    hdr = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=3, nanosec=4), frame_id="z")
    cls = ts.types["sensor_msgs/msg/Image"]

    def make(**f):
        return cls(header=hdr, **f)

    rgb = numpy_to_image(np.zeros((H, W, 4), np.uint8), "bgra8", factory=make, ndarray_data=True)
    dep = numpy_to_image(np.ones((H, W), np.float32), "32FC1", factory=make, ndarray_data=True)
    inf = SimpleNamespace(k=K.reshape(-1), width=W, height=H)
    f = RgbdIngest().from_messages(rgb, dep, inf)
    assert f.stamp_ns == 3_000_000_004 and f.frame_id == "z" and f.invalid_depth_pixels == 0
