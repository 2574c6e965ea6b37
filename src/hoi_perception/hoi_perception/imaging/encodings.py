"""sensor_msgs/Image and CompressedImage <-> numpy, without ROS imports.

Works on any object with the message's fields: rclpy messages (``data`` is an
``array.array('B')``), rosbags dataclasses (``data`` is a uint8 ndarray),
plain namespaces (``bytes``). Decoding returns a *view* of the message buffer
whenever the layout allows, including padded rows (``step`` larger than
``width * channels * itemsize`` gives a strided view, not a copy) and
big-endian data (a view with a big-endian dtype). The view aliases the
message: copy it if the message buffer will be reused.

Encodings and their meaning follow sensor_msgs/image_encodings.hpp (ROS);
depth conventions follow REP 118: ``16UC1`` is millimetres, ``32FC1`` metres,
0 / NaN mean no measurement.
"""

from __future__ import annotations

import array
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


class ImageConversionError(ValueError):
    """A message that cannot be converted; ``reason`` is a short counter key."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class EncodingInfo:
    dtype: str  # numpy kind + size without byte order, e.g. "u1", "f4"
    channels: int
    colour: str | None  # channel order of colour encodings ("rgb", "bgra", "mono")
    depth_scale: float | None  # metres per unit for depth encodings


ENCODINGS: dict[str, EncodingInfo] = {
    "rgb8": EncodingInfo("u1", 3, "rgb", None),
    "bgr8": EncodingInfo("u1", 3, "bgr", None),
    "rgba8": EncodingInfo("u1", 4, "rgba", None),
    "bgra8": EncodingInfo("u1", 4, "bgra", None),
    "mono8": EncodingInfo("u1", 1, "mono", None),
    "mono16": EncodingInfo("u2", 1, "mono", None),
    "8UC1": EncodingInfo("u1", 1, None, None),
    "8UC3": EncodingInfo("u1", 3, None, None),
    "8UC4": EncodingInfo("u1", 4, None, None),
    "16UC1": EncodingInfo("u2", 1, None, 0.001),
    "32FC1": EncodingInfo("f4", 1, None, 1.0),
}

_HOST_BIG = sys.byteorder == "big"


def encoding_info(encoding: str) -> EncodingInfo:
    info = ENCODINGS.get(encoding)
    if info is None:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r} (supported: {', '.join(ENCODINGS)})", "unknown_encoding"
        )
    return info


def buffer_of(data: Any) -> NDArray[np.uint8]:
    """The bytes of a message ``data`` field as a flat uint8 array, sharing
    memory for bytes, bytearray, memoryview, array.array and ndarrays."""
    if isinstance(data, np.ndarray):
        if data.dtype == np.uint8 and data.ndim == 1:
            return data
        if data.flags.c_contiguous:
            return data.reshape(-1).view(np.uint8)
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)  # a list of ints: copies, rare
    except (TypeError, ValueError, OverflowError) as exc:
        raise ImageConversionError(f"image data of type {type(data).__name__} is not a byte buffer", "bad_data") from exc


def image_to_numpy(msg: Any) -> NDArray[Any]:
    """Image message -> (H, W) or (H, W, C) array viewing ``msg.data``.

    The dtype carries the message's byte order (``>u2`` for big-endian
    16UC1); raises ImageConversionError for unknown encodings, a step too
    small for the width, or data shorter than ``step * height``.
    """
    return raw_to_numpy(
        msg.data, int(msg.height), int(msg.width), str(msg.encoding), int(msg.step), bool(msg.is_bigendian)
    )


def raw_to_numpy(
    data: Any, height: int, width: int, encoding: str, step: int, is_bigendian: bool = False
) -> NDArray[Any]:
    info = encoding_info(encoding)
    dtype = np.dtype(info.dtype).newbyteorder(">" if is_bigendian else "<")
    pixel = dtype.itemsize * info.channels
    if height < 0 or width < 0:
        raise ImageConversionError(f"negative image size {width}x{height}", "size_mismatch")
    if step < width * pixel:
        raise ImageConversionError(
            f"{encoding} image step {step} is smaller than width {width} x {pixel} bytes per pixel", "size_mismatch"
        )
    buf = buffer_of(data)
    if buf.size < step * height:
        raise ImageConversionError(
            f"{encoding} image {width}x{height} with step {step} needs {step * height} bytes, data has {buf.size}",
            "size_mismatch",
        )
    shape: tuple[int, ...] = (height, width) if info.channels == 1 else (height, width, info.channels)
    strides: tuple[int, ...] = (step, pixel) if info.channels == 1 else (step, pixel, dtype.itemsize)
    if height == 0 or width == 0:
        return np.zeros(shape, dtype=dtype)
    # np.ndarray over the buffer: no copy, even for padded rows or unaligned
    # multi-byte pixels (numpy handles unaligned views).
    return np.ndarray(shape, dtype=dtype, buffer=buf, offset=0, strides=strides)


def _is_big(dtype: np.dtype) -> bool:
    return dtype.byteorder == ">" or (dtype.byteorder == "=" and _HOST_BIG)


def numpy_to_image(
    array: NDArray[Any],
    encoding: str,
    msg: Any = None,
    *,
    factory: Callable[..., Any] | None = None,
    ndarray_data: bool | None = None,
) -> Any:
    """Fill an Image message from an array (fields height, width, encoding,
    is_bigendian, step, data; the header is left to the caller).

    ``msg``: an existing message object (rclpy or rosbags) whose fields are
    set; or ``factory``: a callable taking those fields as keywords, e.g. the
    rclpy ``Image`` class or ``lambda **f: RosbagsImage(header=h, **f)``.
    ``data`` is set in the type the message already uses: an ndarray for
    rosbags (a contiguous input is then shared, not copied), else an
    ``array.array('B')`` (one copy; what rclpy stores). With a factory,
    ``ndarray_data`` says which (default: ndarray for dataclass factories,
    i.e. rosbags classes; pass True for a lambda around one).
    Big-endian arrays give ``is_bigendian=1``.
    """
    info = encoding_info(encoding)
    a = np.asarray(array)
    want = np.dtype(info.dtype)
    if a.dtype.kind != want.kind or a.dtype.itemsize != want.itemsize:
        raise ImageConversionError(f"{encoding} needs dtype {want}, got {a.dtype}", "dtype_mismatch")
    if info.channels == 1 and a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    expect_ndim = 2 if info.channels == 1 else 3
    if a.ndim != expect_ndim or (info.channels > 1 and a.shape[2] != info.channels):
        raise ImageConversionError(
            f"{encoding} needs shape (H, W{'' if info.channels == 1 else f', {info.channels}'}), got {a.shape}",
            "shape_mismatch",
        )
    a = np.ascontiguousarray(a)
    height, width = a.shape[:2]
    fields = {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": int(a.dtype.itemsize > 1 and _is_big(a.dtype)),
        "step": int(width * info.channels * a.dtype.itemsize),
    }
    return _fill(msg, factory, ndarray_data, fields, a.reshape(-1).view(np.uint8))


def _fill(
    msg: Any, factory: Callable[..., Any] | None, ndarray_data: bool | None, fields: dict[str, Any], flat: NDArray[Any]
) -> Any:
    if msg is None:
        if factory is None:
            raise ValueError("a message instance or a factory is needed")
        if ndarray_data is None:
            ndarray_data = dataclasses.is_dataclass(factory)  # rosbags message classes are dataclasses
        return factory(**fields, data=_data_value(flat, ndarray_data))
    for name, value in fields.items():
        setattr(msg, name, value)
    msg.data = _data_value(flat, isinstance(msg.data, np.ndarray))
    return msg


def _data_value(flat: NDArray[np.uint8], ndarray: bool) -> Any:
    if ndarray:
        return flat
    # rclpy takes an array.array('B') as is; anything else goes through a
    # per-element check that costs ~10 ns per byte. frombytes is one memcpy.
    out = array.array("B")
    out.frombytes(flat)
    return out


# ----------------------------------------------------------------- colour


def to_rgb8(image: NDArray[Any], encoding: str) -> NDArray[np.uint8]:
    """Any colour or mono encoding -> contiguous (H, W, 3) uint8 RGB (a new array).

    mono16 keeps its high byte. Depth and generic encodings are refused.
    """
    info = encoding_info(encoding)
    c = info.colour
    if c is None:
        raise ImageConversionError(f"{encoding} is not a colour encoding", "not_colour")
    if encoding == "mono16":
        image = (image.astype(np.uint16) >> 8).astype(np.uint8)
    if c == "rgb":
        return np.array(image, dtype=np.uint8, order="C", copy=True)
    code = {
        "bgr": cv2.COLOR_BGR2RGB,
        "bgra": cv2.COLOR_BGRA2RGB,
        "rgba": cv2.COLOR_RGBA2RGB,
        "mono": cv2.COLOR_GRAY2RGB,
    }[c]
    return cv2.cvtColor(_cv_input(image), code)


def _cv_input(image: NDArray[Any]) -> NDArray[Any]:
    # OpenCV takes padded rows as they are, but needs contiguous pixels and
    # native byte order.
    if not image.dtype.isnative:
        image = image.astype(image.dtype.newbyteorder("="))
    pixel_contiguous = image.strides[-1] == image.dtype.itemsize and (
        image.ndim == 2 or image.strides[1] == image.shape[2] * image.dtype.itemsize
    )
    if not pixel_contiguous:
        image = np.ascontiguousarray(image)
    return image


def image_to_rgb8(msg: Any) -> NDArray[np.uint8]:
    """Image message (any colour encoding) -> (H, W, 3) uint8 RGB."""
    return to_rgb8(image_to_numpy(msg), str(msg.encoding))


# ------------------------------------------------------------------ depth


def depth_to_metres(image: NDArray[Any], encoding: str) -> NDArray[np.float32]:
    """16UC1 / mono16 millimetres or 32FC1 metres -> new float32 metres array,
    with every invalid measurement (0, negative, NaN, inf) as NaN."""
    if encoding in ("16UC1", "mono16"):
        out = image.astype(np.float32)
        out /= np.float32(1000.0)  # division rounds 1500 mm to exactly 1.5 m; * 0.001 does not
        out[out == 0] = np.nan
        return out
    if encoding == "32FC1":
        valid = (image > 0) & (image < np.inf)  # NaN fails both comparisons
        # One pass writing a new native float32 array (faster than copy + masked store).
        return np.where(valid, image, np.float32(np.nan)).astype(np.float32, copy=False)
    raise ImageConversionError(f"{encoding} is not a depth encoding (16UC1 mm or 32FC1 m)", "not_depth")


def depth_to_metres_counted(image: NDArray[Any], encoding: str) -> tuple[NDArray[np.float32], int]:
    """``depth_to_metres`` and the number of invalid pixels from the same mask
    (one pass less than counting NaN afterwards; a frame without holes is a
    plain copy)."""
    if encoding != "32FC1":
        out = depth_to_metres(image, encoding)
        return out, int(out.size - np.count_nonzero(out == out))
    valid = image > 0  # NaN fails it
    valid &= image < np.inf
    n_valid = int(np.count_nonzero(valid))
    if n_valid == image.size:
        return np.array(image, dtype=np.float32), 0
    return np.where(valid, image, np.float32(np.nan)).astype(np.float32, copy=False), int(image.size - n_valid)


def image_to_depth(msg: Any) -> NDArray[np.float32]:
    """Depth Image message -> float32 metres, NaN where invalid."""
    return depth_to_metres(image_to_numpy(msg), str(msg.encoding))


# ------------------------------------------------------------- compressed


def decode_compressed(msg: Any) -> tuple[NDArray[Any], str]:
    """CompressedImage (jpeg or png, as image_transport's compressed plugin
    writes them) -> (array, encoding). Colour comes out as bgr8 / bgra8 (what
    OpenCV decodes to), grey as mono8 / mono16, or 16UC1 when the format
    string says the source was 16UC1."""
    fmt = str(getattr(msg, "format", "")).lower()
    buf = buffer_of(msg.data)
    if buf.size == 0:
        raise ImageConversionError("compressed image has no data", "decode_failed")
    if "compresseddepth" in fmt:
        raise ImageConversionError(
            f"compressedDepth format {msg.format!r} is not supported (use raw depth)", "unknown_encoding"
        )
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageConversionError(f"could not decode compressed image (format {msg.format!r})", "decode_failed")
    if img.ndim == 2:
        if img.dtype == np.uint16:
            return img, "16UC1" if fmt.startswith("16uc1") else "mono16"
        return img, "mono8"
    if img.dtype != np.uint8:
        raise ImageConversionError(f"compressed colour image of dtype {img.dtype} is not supported", "decode_failed")
    return img, "bgra8" if img.shape[2] == 4 else "bgr8"


def encode_compressed(
    array: NDArray[Any],
    encoding: str,
    fmt: str = "jpeg",
    msg: Any = None,
    *,
    factory: Callable[..., Any] | None = None,
    ndarray_data: bool | None = None,
    jpeg_quality: int = 95,
    png_level: int = 3,
) -> Any:
    """Array -> CompressedImage fields ``format`` and ``data`` (header left to
    the caller), format strings as image_transport writes them, e.g.
    ``"rgb8; jpeg compressed bgr8"``."""
    info = encoding_info(encoding)
    if fmt not in ("jpeg", "png"):
        raise ImageConversionError(f"compression format {fmt!r} is not jpeg or png", "unknown_encoding")
    a = _cv_input(np.asarray(array))
    if info.colour == "rgb":
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    elif info.colour == "rgba":
        a = cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA)
    if fmt == "jpeg":
        if a.dtype != np.uint8:
            raise ImageConversionError(f"jpeg needs 8-bit data, {encoding} is not", "dtype_mismatch")
        if a.ndim == 3 and a.shape[2] == 4:
            a = cv2.cvtColor(a, cv2.COLOR_BGRA2BGR)  # jpeg has no alpha
        ok, out = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        target = "bgr8" if a.ndim == 3 else "mono8"
    else:
        ok, out = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)])
        target = {3: "bgr8", 4: "bgra8"}[a.shape[2]] if a.ndim == 3 else encoding
    if not ok:
        raise ImageConversionError(f"OpenCV could not encode {encoding} as {fmt}", "encode_failed")
    fields = {"format": f"{encoding}; {fmt} compressed {target}"}
    return _fill(msg, factory, ndarray_data, fields, out.reshape(-1))
