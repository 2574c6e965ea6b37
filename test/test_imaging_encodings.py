"""Image <-> numpy conversions: round trips, padding, byte order, zero copy, compression, bad input."""

from __future__ import annotations

import array
from types import SimpleNamespace

import numpy as np
import pytest
from hoi_perception.imaging.encodings import (
    ENCODINGS,
    ImageConversionError,
    decode_compressed,
    depth_to_metres,
    encode_compressed,
    image_to_depth,
    image_to_numpy,
    image_to_rgb8,
    numpy_to_image,
    raw_to_numpy,
    to_rgb8,
)
from sensor_msgs.msg import CompressedImage, Image

H, W = 5, 7


def sample(encoding: str, seed: int = 0) -> np.ndarray:
    info = ENCODINGS[encoding]
    rng = np.random.default_rng(seed)
    shape = (H, W) if info.channels == 1 else (H, W, info.channels)
    if info.dtype == "f4":
        return rng.uniform(0.1, 10.0, shape).astype(np.float32)
    top = 65535 if info.dtype == "u2" else 255
    return rng.integers(0, top + 1, shape).astype(info.dtype)


def rosbags_image_class():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE).types["sensor_msgs/msg/Image"]


def rosbags_image(**fields):
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    hdr = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="f")
    return rosbags_image_class()(header=hdr, **fields)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_rclpy(encoding: str) -> None:
    a = sample(encoding)
    msg = numpy_to_image(a, encoding, Image())
    assert isinstance(msg.data, array.array)
    assert msg.step == W * a.itemsize * ENCODINGS[encoding].channels and msg.is_bigendian == 0
    b = image_to_numpy(msg)
    np.testing.assert_array_equal(a, b)
    assert np.shares_memory(b, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_rosbags(encoding: str) -> None:
    a = sample(encoding, 1)
    msg = numpy_to_image(a, encoding, factory=lambda **f: rosbags_image(**f), ndarray_data=True)
    assert isinstance(msg.data, np.ndarray) and msg.data.dtype == np.uint8
    b = image_to_numpy(msg)
    np.testing.assert_array_equal(a, b)
    assert np.shares_memory(b, msg.data)  # decode is a view of the message
    assert np.shares_memory(msg.data, a)  # and a contiguous array is shared, not copied


def test_factory_rclpy_class_and_instance_fill() -> None:
    a = sample("bgra8")
    m = numpy_to_image(a, "bgra8", factory=Image)
    assert isinstance(m, Image) and m.encoding == "bgra8"
    np.testing.assert_array_equal(image_to_numpy(m), a)
    r = rosbags_image(height=0, width=0, encoding="", is_bigendian=0, step=0, data=np.zeros(0, np.uint8))
    numpy_to_image(a, "bgra8", r)
    np.testing.assert_array_equal(image_to_numpy(r), a)


@pytest.mark.parametrize("encoding", ["rgb8", "bgra8", "mono8", "mono16", "16UC1", "32FC1"])
@pytest.mark.parametrize("data_kind", ["bytes", "array", "ndarray"])
def test_row_padding_gives_strided_view(encoding: str, data_kind: str) -> None:
    a = sample(encoding, 2)
    row = a.reshape(H, -1).view(np.uint8)
    pad = 13  # odd on purpose: rows of multi-byte pixels end unaligned
    step = row.shape[1] + pad
    padded = np.full((H, step), 0xAB, np.uint8)
    padded[:, : row.shape[1]] = row
    data = {"bytes": padded.tobytes(), "array": array.array("B", padded.tobytes()), "ndarray": padded.reshape(-1)}[
        data_kind
    ]
    msg = SimpleNamespace(height=H, width=W, encoding=encoding, is_bigendian=0, step=step, data=data)
    b = image_to_numpy(msg)
    np.testing.assert_array_equal(a, b)
    assert b.strides[0] == step
    assert np.shares_memory(b, np.frombuffer(data, np.uint8) if data_kind != "ndarray" else data)


def test_big_endian_16uc1() -> None:
    a = sample("16UC1", 3)
    msg = numpy_to_image(a.astype(">u2"), "16UC1", Image())
    assert msg.is_bigendian == 1
    assert bytes(msg.data[:2]) == np.array([a[0, 0]], ">u2").tobytes()
    b = image_to_numpy(msg)
    assert b.dtype == np.dtype(">u2")
    np.testing.assert_array_equal(a, b)
    assert np.shares_memory(b, np.frombuffer(msg.data, np.uint8))
    d = image_to_depth(msg)
    assert d.dtype == np.float32 and d.dtype.isnative
    np.testing.assert_allclose(d[a > 0], a[a > 0] / 1000.0, rtol=1e-6)


def test_big_endian_32fc1_raw() -> None:
    a = sample("32FC1", 4)
    b = raw_to_numpy(a.astype(">f4").tobytes(), H, W, "32FC1", W * 4, True)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16"])
def test_to_rgb8(encoding: str) -> None:
    a = sample(encoding, 5)
    rgb = image_to_rgb8(numpy_to_image(a, encoding, Image()))
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    expect = {
        "rgb8": lambda x: x,
        "bgr8": lambda x: x[..., ::-1],
        "rgba8": lambda x: x[..., :3],
        "bgra8": lambda x: x[..., 2::-1],
        "mono8": lambda x: np.repeat(x[..., None], 3, axis=2),
        "mono16": lambda x: np.repeat((x >> 8).astype(np.uint8)[..., None], 3, axis=2),
    }[encoding](a)
    np.testing.assert_array_equal(rgb, expect)


def test_depth_conversions() -> None:
    mm = np.array([[0, 1000, 65535], [1, 2, 3]], np.uint16)
    d = depth_to_metres(mm, "16UC1")
    assert np.isnan(d[0, 0]) and d[0, 1] == np.float32(1.0) and d[1, 0] == np.float32(0.001)
    m = np.array([[0.0, np.nan, np.inf], [-1.0, 2.5, -np.inf]], np.float32)
    d = depth_to_metres(m, "32FC1")
    assert np.isnan(d).sum() == 5 and d[1, 1] == np.float32(2.5)
    assert not np.shares_memory(d, m)
    with pytest.raises(ImageConversionError, match="not a depth encoding"):
        depth_to_metres(m, "rgb8")


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "bgra8", "mono8"])
def test_compressed_jpeg(encoding: str) -> None:
    # Smooth content: jpeg is lossy, noise would not survive.
    y, x = np.mgrid[0:32, 0:48]
    base = ((x * 4 + y * 2) % 256).astype(np.uint8)
    c = ENCODINGS[encoding].channels
    a = base if c == 1 else np.stack([base, 255 - base, base // 2, np.full_like(base, 255)][:c], axis=2)
    msg = encode_compressed(a, encoding, "jpeg", CompressedImage(), jpeg_quality=98)
    assert msg.format.startswith(f"{encoding}; jpeg compressed")
    img, enc = decode_compressed(msg)
    assert enc == ("mono8" if c == 1 else "bgr8")
    ref = to_rgb8(a, encoding)
    assert np.abs(to_rgb8(img, enc).astype(int) - ref).mean() < 3.0


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "16UC1"])
def test_compressed_png_lossless(encoding: str) -> None:
    a = sample(encoding, 6)
    msg = encode_compressed(a, encoding, "png", CompressedImage())
    img, enc = decode_compressed(msg)
    if ENCODINGS[encoding].colour in ("rgb", "bgr", "rgba", "bgra"):
        np.testing.assert_array_equal(to_rgb8(img, enc), to_rgb8(a, encoding))
        if ENCODINGS[encoding].channels == 4:
            assert enc == "bgra8"
    else:
        assert enc == encoding
        np.testing.assert_array_equal(img, a)


def test_compressed_rosbags_factory() -> None:
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    hdr = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="")
    cls = ts.types["sensor_msgs/msg/CompressedImage"]
    msg = encode_compressed(sample("bgr8"), "bgr8", "png", factory=lambda **f: cls(header=hdr, **f), ndarray_data=True)
    assert isinstance(msg.data, np.ndarray)
    np.testing.assert_array_equal(decode_compressed(msg)[0], sample("bgr8"))


def bad_image(**over) -> SimpleNamespace:
    f = dict(height=H, width=W, encoding="rgb8", is_bigendian=0, step=W * 3, data=bytes(H * W * 3))
    f.update(over)
    return SimpleNamespace(**f)


@pytest.mark.parametrize(
    ("over", "reason", "match"),
    [
        ({"encoding": "yuv422"}, "unknown_encoding", "unsupported image encoding 'yuv422'"),
        ({"encoding": ""}, "unknown_encoding", "unsupported image encoding ''"),
        ({"data": bytes(H * W * 3 - 1)}, "size_mismatch", "needs 105 bytes, data has 104"),
        ({"step": W * 3 - 1}, "size_mismatch", "step 20 is smaller than width 7"),
        ({"step": W * 3 + 2}, "size_mismatch", "needs 115 bytes"),
        ({"data": object()}, "bad_data", "not a byte buffer"),
    ],
)
def test_bad_images_raise(over: dict, reason: str, match: str) -> None:
    with pytest.raises(ImageConversionError, match=match) as exc:
        image_to_numpy(bad_image(**over))
    assert exc.value.reason == reason


def test_bad_builders_and_compressed_raise() -> None:
    with pytest.raises(ImageConversionError, match="needs dtype uint16"):
        numpy_to_image(np.zeros((2, 2), np.uint8), "16UC1", Image())
    with pytest.raises(ImageConversionError, match=r"needs shape \(H, W, 3\)"):
        numpy_to_image(np.zeros((2, 2), np.uint8), "rgb8", Image())
    with pytest.raises(ImageConversionError, match="not a colour encoding"):
        to_rgb8(np.zeros((2, 2), np.float32), "32FC1")
    with pytest.raises(ImageConversionError, match="could not decode"):
        decode_compressed(SimpleNamespace(format="jpeg", data=b"not a jpeg at all"))
    with pytest.raises(ImageConversionError, match="no data"):
        decode_compressed(SimpleNamespace(format="png", data=b""))
    with pytest.raises(ImageConversionError, match="jpeg needs 8-bit"):
        encode_compressed(np.zeros((4, 4), np.uint16), "16UC1", "jpeg", CompressedImage())
