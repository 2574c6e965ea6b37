"""Turn recorded image topics into things a person looks at: a video and a
contact sheet (a grid of frames) as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray


def write_video(frames_rgb: Sequence[NDArray[np.uint8]], path: Path | str, fps: float = 10.0) -> Path:
    """MP4 (mp4v) of RGB frames; frames of another size are resized to the first's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not frames_rgb:
        raise ValueError("no frames to write")
    h, w = frames_rgb[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not vw.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for f in frames_rgb:
            if f.shape[:2] != (h, w):
                f = cv2.resize(f, (w, h))
            vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        vw.release()
    return path


def contact_sheet(frames_rgb: Sequence[NDArray[np.uint8]], columns: int = 3, max_frames: int = 9,
                  tile_width: int = 480) -> NDArray[np.uint8]:
    """Evenly spaced frames tiled in a grid (RGB)."""
    if not frames_rgb:
        raise ValueError("no frames")
    idx = np.linspace(0, len(frames_rgb) - 1, min(max_frames, len(frames_rgb))).round().astype(int)
    tiles = []
    for i in idx:
        f = frames_rgb[i]
        scale = tile_width / f.shape[1]
        tiles.append(cv2.resize(f, (tile_width, int(round(f.shape[0] * scale)))))
    th = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, th - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r:r + columns], axis=1) for r in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def write_png(image_rgb: NDArray[np.uint8], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise RuntimeError(f"OpenCV cannot write {path}")
    return path
