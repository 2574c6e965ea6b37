"""HOG people detector (Dalal & Triggs, CVPR 2005) as a person box source.

The pretrained linear SVM is OpenCV's default people detector
(``cv2.HOGDescriptor_getDefaultPeopleDetector()``, the one the classic
``samples/python/peopledetect.py`` runs on vtest.avi); nothing is downloaded.
The OpenCV 5 wheel this project pins dropped ``cv2.HOGDescriptor``, so the
weights are data in ``hog_people_svm.py`` and the features are computed here,
vectorised in numpy, to OpenCV's definition (modules/objdetect/src/hog.cpp,
read for the facts below; checked against opencv-python 4.10 descriptors to
float32 rounding, see test/test_bodypose_hog.py; the binning is done as dense
ramp channels in row bands, see ``_band_channels``):

* gamma: sqrt of each 8-bit channel; gradient [-1, 0, 1] in x and y (reflect-101
  border), per pixel the channel with the largest magnitude;
* 9 unsigned orientation bins over [0, 180) deg, bin centres at 10 + 20 i deg,
  each gradient split linearly between its two nearest bins;
* 64x128 window, 16x16 blocks at stride 8, 8x8 cells; a pixel's vote is
  weighted by a Gaussian over its block (sigma 4, centred at block pixel 8)
  and bilinearly between the block's cells (cell centres at 3.5 and 11.5);
* block L2-Hys: v / (|v| + 0.1 * 36), clip at 0.2, v / (|v| + 1e-3);
* descriptor order: block column, block row, cell column, cell row, bin;
  score = w . descriptor + rho, a hit when score >= hit_threshold.

Detection runs over an image pyramid (factor ``scale``), windows every
``win_stride`` pixels (a multiple of the 8 px block stride), frames
reflect-padded so people at the border fit a window. Raw hits are merged by
greedy non-maximum suppression; a kept box needs ``min_hits`` raw windows
(OpenCV's ``groupThreshold`` in spirit: isolated single-window hits are
mostly clutter).

Box tightening: the 64x128 window holds a person about 48x96 px (Dalal &
Triggs train on 96 px tall people with a 16 px margin above and below; the
side margin is 8 px for the average shoulder width, as OpenCV's peopledetect
sample's ~0.8 width shrink), so each hit is shrunk by ``pad_x`` = 8/64 of its
width on each side and ``pad_y`` = 16/128 of its height at top and bottom.
The landmark stage enlarges person boxes again for its ROI.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.types import PersonBox

log = logging.getLogger(__name__)

WIN_W, WIN_H = 64, 128
CELL = 8
BLOCK = 16
NBINS = 9
BLOCKS_X = (WIN_W - BLOCK) // CELL + 1  # 7
BLOCKS_Y = (WIN_H - BLOCK) // CELL + 1  # 15
BLOCK_DIM = 4 * NBINS
WIN_SIGMA = (BLOCK + BLOCK) / 8.0  # OpenCV getWinSigma() default
L2HYS_CLIP = 0.2
PAD_X = 8.0 / WIN_W  # window margin beside the person, fraction of the window width
PAD_Y = 16.0 / WIN_H  # margin above the head and below the feet

_GAMMA_LUT = np.sqrt(np.arange(256, dtype=np.float32)).astype(np.float32)


def _block_kernels() -> NDArray[np.float32]:
    """(8, 4) per-axis weights: for the first and second 8-px strip of a block
    (column pairs [strip0 cell0, strip0 cell1, strip1 cell0, strip1 cell1]),
    the Gaussian (block-centred at pixel 8) times the bilinear cell weight."""
    j = np.arange(BLOCK, dtype=np.float64)
    gauss = np.exp(-((j - BLOCK * 0.5) ** 2) / (2.0 * WIN_SIGMA * WIN_SIGMA))
    pos = (j + 0.5) / CELL - 0.5
    cells = np.stack([np.clip(1.0 - np.abs(pos - c), 0.0, None) for c in (0, 1)], axis=1)  # (16, 2)
    k = gauss[:, None] * cells  # separable: exp(-(di^2 + dj^2) s) = g(i) g(j)
    return np.concatenate([k[:CELL], k[CELL:]], axis=1).astype(np.float32)  # (8, 4)


_KERNEL = _block_kernels()


_KX = np.array([[-1.0, 0.0, 1.0]], np.float32)
_KY = np.ascontiguousarray(_KX.T)
_KERNEL_T = np.ascontiguousarray(_KERNEL.T)
NRAMP = NBINS + 1  # channels: magnitude, ramps S_0..S_8
BAND_PIXELS = 32768  # pixels per row band: its ~20 float planes stay in L2 and allocations stay small


def _ramp_combination() -> NDArray[np.float32]:
    """(10, 9): bins from the channels [mag, S_0..S_8] (see ``_band_channels``).
    Bin k is the hat S_{k-1} - S_k with S_{-1} = mag and, for the wrap of
    bin 0 past 180 deg, + S_8."""
    c = np.zeros((NRAMP, NBINS), np.float32)
    c[0, 0], c[1, 0], c[NBINS, 0] = 1.0, -1.0, 1.0
    for k in range(1, NBINS):
        c[k, k], c[k + 1, k] = 1.0, -1.0
    return c


_RAMP_TO_BINS = _ramp_combination()
_RAMP_TO_BINS_T = np.ascontiguousarray(_RAMP_TO_BINS.T)


def _band_channels(img: NDArray[np.uint8], r0: int, r1: int, out: NDArray[np.float32]) -> None:
    """Rows [r0, r1) of the vote channels into ``out`` (10, r1 - r0, W).

    Linear binning as clamped ramps instead of a per-pixel scatter: with
    y in [0, 9] the orientation in bin units, folded so that bin k's centre
    (10 + 20 k deg) is y = k, channel 1 + j is S_j = mag * clamp(y - j, 0, 1)
    and bin k's vote is S_{k-1} - S_k (a hat), combined after the (linear)
    block sums where the data is 64x smaller. Every op is a dense cv2 pass;
    ramps (bounded by mag) rather than hinges max(y - j, 0) keep the
    cancellation at float32 rounding of mag."""
    a0, a1 = max(r0 - 1, 0), min(r1 + 1, img.shape[0])  # one halo row each side for dy
    lo, hi = r0 - a0, r1 - a0
    planes = cv2.split(img[a0:a1]) if img.ndim == 3 else [img[a0:a1]]
    dx = dy = best = None
    for c, p in enumerate(planes):
        g = cv2.sqrt(p.astype(np.float32))  # = _GAMMA_LUT[p] (IEEE sqrt), SIMD where cv2.LUT to float is not
        gx = cv2.filter2D(g, cv2.CV_32F, _KX, borderType=cv2.BORDER_REFLECT_101)[lo:hi]
        gy = cv2.filter2D(g, cv2.CV_32F, _KY, borderType=cv2.BORDER_REFLECT_101)[lo:hi]
        if c == 0:
            dx, dy = gx, gy
            if len(planes) > 1:
                best = cv2.add(cv2.multiply(gx, gx), cv2.multiply(gy, gy))
            continue
        # the channel with the largest squared gradient, first on ties (as OpenCV); same float ops as
        # the reference so ties resolve identically
        m2 = cv2.add(cv2.multiply(gx, gx), cv2.multiply(gy, gy))
        take = cv2.compare(m2, best, cv2.CMP_GT)
        cv2.copyTo(gx, take, dx)
        cv2.copyTo(gy, take, dy)
        if c < len(planes) - 1:
            cv2.max(best, m2, dst=best)
    mag = out[0]
    deg = cv2.cartToPolar(dx, dy, magnitude=mag, angleInDegrees=True)[1]  # [0, 360)
    # fold to a = deg - 10 mod 180 shifted by -170: a in (-170, 10], y = a / 20 + 8.5 in (0, 9]
    t1 = cv2.threshold(deg, 10.0, 180.0, cv2.THRESH_BINARY)[1]
    t2 = cv2.threshold(deg, 190.0, 180.0, cv2.THRESH_BINARY)[1]
    cv2.subtract(deg, cv2.add(t1, t2, dst=t1), dst=deg)
    pm = cv2.multiply(mag, deg, scale=1.0 / 20)  # mag * (y - 8.5)
    for j in range(NBINS):
        s = out[j + 1]
        cv2.addWeighted(pm, 1.0, mag, 8.5 - j, 0.0, dst=s)  # mag * (y - j)
        cv2.threshold(s, 0.0, 0.0, cv2.THRESH_TOZERO, dst=s)
        if j < NBINS - 1:  # y <= 9: S_8 <= mag already
            cv2.min(s, mag, dst=s)


def gradient_histograms(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Orientation votes of an image with sides multiple of 8, laid out
    (H, W/8, 9, 8): row, 8-px strip, bin, pixel within the strip (for tests
    and inspection; ``block_features`` keeps the 10 ramp channels instead)."""
    h, w = img.shape[:2]
    ch = np.empty((NRAMP, h, w), np.float32)
    _band_channels(img, 0, h, ch)
    votes = (_RAMP_TO_BINS_T @ ch.reshape(NRAMP, -1)).reshape(NBINS, h, w // CELL, CELL)
    return np.ascontiguousarray(votes.transpose(1, 2, 0, 3))


def block_features(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """HOG blocks (nby, nbx, 36) of an image whose sides are multiples of 8,
    block (r, c) covering pixels [8r, 8r + 16) x [8c, 8c + 16); features in
    OpenCV's in-block order (cell x, cell y, bin), L2-Hys normalised."""
    h, w = img.shape[:2]
    sx, sy = w // CELL, h // CELL
    nbx, nby = sx - 1, sy - 1
    band = max(CELL, BAND_PIXELS // w // CELL * CELL)
    ch = np.empty((NRAMP, band, w), np.float32)
    # per 8x8 strip: [channel, strip row, y weight (first/second strip of a block x cell 0/1), strip col, x weight]
    acc = np.empty((NRAMP, sy, 4, sx, 4), np.float32)
    for r0 in range(0, h, band):
        r1 = min(r0 + band, h)
        rows = r1 - r0
        cb = ch if rows == band else np.empty((NRAMP, rows, w), np.float32)
        _band_channels(img, r0, r1, cb)
        ay = np.matmul(_KERNEL_T, cb.reshape(NRAMP, rows // CELL, CELL, w))  # (C, rows/8, 4, w)
        np.matmul(ay.reshape(NRAMP, rows // CELL, 4, sx, CELL), _KERNEL, out=acc[:, r0 // CELL:r1 // CELL])
    by = acc[:, :-1, 0:2] + acc[:, 1:, 2:4]  # (C, nby, cy, sx, 4)
    # x pairs as complex64 so the add runs over (cell 0, cell 1) pairs in one strided pass
    bc = by.view(np.complex64)  # (C, nby, cy, sx, 2)
    b = (bc[..., :-1, 0] + bc[..., 1:, 1]).view(np.float32)  # (C, nby, cy, nbx * cx)
    f = (_RAMP_TO_BINS_T @ b.reshape(NRAMP, -1)).reshape(NBINS, nby, 2, nbx, 2)
    f = np.ascontiguousarray(f.transpose(1, 3, 4, 2, 0)).reshape(nby, nbx, BLOCK_DIM)  # (cx, cy, bin)
    return _l2hys(f)


def _l2hys(f: NDArray[np.float32]) -> NDArray[np.float32]:
    """OpenCV's L2-Hys over the last axis (same ops as the reference)."""
    f = f / (np.sqrt(np.einsum("ijk,ijk->ij", f, f))[..., None] + np.float32(0.1 * BLOCK_DIM))
    np.minimum(f, np.float32(L2HYS_CLIP), out=f)
    f /= np.sqrt(np.einsum("ijk,ijk->ij", f, f))[..., None] + np.float32(1e-3)
    return f.astype(np.float32, copy=False)


@lru_cache(maxsize=64)
def _vote_base(h: int, w: int) -> NDArray[np.int32]:
    """Flat index of bin 0 of each pixel in the (h, w/8, 9, 8) vote layout."""
    col = np.arange(w, dtype=np.int32)
    return (np.arange(h, dtype=np.int32)[:, None] * (w // CELL) + col // CELL) * (NBINS * CELL) + col % CELL


def gradient_histograms_reference(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """The first numpy implementation (per-pixel bin scatter), kept as the
    reference the fast path is tested and benchmarked against; same result
    as ``gradient_histograms`` up to float32 rounding."""
    g = cv2.LUT(img, _GAMMA_LUT)
    kx = np.array([[-1.0, 0.0, 1.0]], np.float32)
    dx = cv2.filter2D(g, cv2.CV_32F, kx, borderType=cv2.BORDER_REFLECT_101)
    dy = cv2.filter2D(g, cv2.CV_32F, kx.T, borderType=cv2.BORDER_REFLECT_101)
    if g.ndim == 3:  # per pixel the channel with the largest squared gradient (first on ties, as OpenCV)
        dxs, dys = cv2.split(dx), cv2.split(dy)
        gx, gy = dxs[0], dys[0]
        best = cv2.add(cv2.multiply(gx, gx), cv2.multiply(gy, gy))
        for c in range(1, len(dxs)):
            m2 = cv2.add(cv2.multiply(dxs[c], dxs[c]), cv2.multiply(dys[c], dys[c]))
            take = m2 > best
            gx = np.where(take, dxs[c], gx)
            gy = np.where(take, dys[c], gy)
            best = np.maximum(best, m2)
        dx, dy = gx, gy
    mag, ang = cv2.cartToPolar(dx, dy)  # radians in [0, 2 pi)
    h, w = mag.shape
    a = ang * np.float32(NBINS / math.pi) + np.float32(0.5)  # bin position + 1, in [0.5, 18.5)
    i = a.astype(np.int32)  # floor, a > 0
    frac = a - i
    i -= 1  # lower bin in [-1, 17]
    b0 = np.where(i < 0, i + NBINS, np.where(i >= NBINS, i - NBINS, i))
    b1 = np.where(b0 == NBINS - 1, 0, b0 + 1)
    base = _vote_base(h, w)
    votes = np.zeros(h * w * NBINS, np.float32)
    w1 = mag * frac
    votes[(base + b0 * CELL).ravel()] = (mag - w1).ravel()
    votes[(base + b1 * CELL).ravel()] = w1.ravel()  # b1 != b0, so no collision
    return votes.reshape(h, w // CELL, NBINS, CELL)


def block_features_reference(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``block_features`` on ``gradient_histograms_reference`` (reference)."""
    votes = gradient_histograms_reference(img)
    h, sx = votes.shape[:2]
    sy = h // CELL
    # x: each 8-px strip's weighted sums for (first/second strip of a block) x (cell 0/1)
    ax = (votes.reshape(-1, CELL) @ _KERNEL).reshape(h, sx, NBINS, 4)
    bx = ax[:, :-1, :, 0:2] + ax[:, 1:, :, 2:4]  # (h, nbx, 9, cx)
    nbx = sx - 1
    ay = np.matmul(_KERNEL.T, bx.reshape(sy, CELL, nbx * NBINS * 2))  # (sy, 4, nbx*9*cx)
    by = ay[:-1, 0:2] + ay[1:, 2:4]  # (nby, cy, nbx*9*cx)
    nby = sy - 1
    f = by.reshape(nby, 2, nbx, NBINS, 2).transpose(0, 2, 4, 1, 3).reshape(nby, nbx, BLOCK_DIM)  # (cx, cy, bin)
    f = f / (np.sqrt(np.einsum("ijk,ijk->ij", f, f))[..., None] + np.float32(0.1 * BLOCK_DIM))
    np.minimum(f, np.float32(L2HYS_CLIP), out=f)
    f /= np.sqrt(np.einsum("ijk,ijk->ij", f, f))[..., None] + np.float32(1e-3)
    return f.astype(np.float32, copy=False)


def window_descriptor(window: NDArray[np.uint8]) -> NDArray[np.float32]:
    """3780-d descriptor of one 64x128 window (OpenCV ``HOGDescriptor.compute``
    order), from the window's own pixels (reflect-101 outside)."""
    f = block_features(window)  # (15, 7, 36)
    return f.transpose(1, 0, 2).reshape(-1)


def load_people_svm() -> tuple[NDArray[np.float32], float]:
    """(15, 7, 36) weights indexed [block row, block column] and the bias rho."""
    from hoi_perception.bodypose.hog_people_svm import DEFAULT_PEOPLE_SVM

    d = np.asarray(DEFAULT_PEOPLE_SVM, dtype=np.float32)
    w = d[:-1].reshape(BLOCKS_X, BLOCKS_Y, BLOCK_DIM).transpose(1, 0, 2)
    return np.ascontiguousarray(w), float(d[-1])


def window_scores(feat: NDArray[np.float32], weights: NDArray[np.float32], rho: float) -> NDArray[np.float32]:
    """Linear SVM score of every window whose top-left block is (r, c): (nby-14, nbx-6)."""
    nby, nbx, _ = feat.shape
    ny, nx = nby - BLOCKS_Y + 1, nbx - BLOCKS_X + 1
    if ny <= 0 or nx <= 0:
        return np.zeros((0, 0), np.float32)
    p = (feat.reshape(-1, BLOCK_DIM) @ weights.reshape(-1, BLOCK_DIM).T).reshape(nby, nbx, BLOCKS_Y, BLOCKS_X)
    s = np.full((ny, nx), rho, np.float32)
    for r in range(BLOCKS_Y):
        for c in range(BLOCKS_X):
            s += p[r:r + ny, c:c + nx, r, c]
    return s


def nms(boxes: NDArray[np.float64], scores: NDArray[np.float64], iou: float,
        min_hits: int = 1) -> list[tuple[int, int]]:
    """Greedy NMS; returns (kept index, cluster size) with cluster size >= min_hits.
    A box also joins a cluster when it lies mostly (> 70%) inside the kept one."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = []
    while order.size:
        i = order[0]
        rest = order[1:]
        ix = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = ix * iy
        ov = inter / (area[i] + area[rest] - inter)
        inside = inter / np.maximum(area[rest], 1e-9)
        member = (ov > iou) | (inside > 0.7)
        if 1 + int(member.sum()) >= min_hits:
            out.append((int(i), 1 + int(member.sum())))
        order = rest[~member]
    return out


@dataclass
class HogHit:
    box: tuple[float, float, float, float]  # the 64x128 window in image pixels
    score: float  # SVM margin w . x + rho


class HogPersonDetector:
    """HOG + linear SVM people detector; a ``BoxSource`` (name ``"hog"``).

    scale:         pyramid factor between levels (OpenCV default 1.05).
    win_stride:    window step in pixels, a multiple of 8.
    hit_threshold: minimum SVM margin of a raw window (OpenCV ``hitThreshold``).
    nms_iou:       IoU above which raw hits merge into the best one.
    min_hits:      raw windows a kept detection needs.
    upscale:       the frame is first resized by this (people under ~96 px need > 1).
    max_side:      frames whose long side (after ``upscale``) exceeds this are
                   downscaled to it first (speed); boxes come back in frame pixels.
    pad:           border in pixels (at the working resolution), reflect-101.
    tighten:       shrink windows to the person inside (PAD_X, PAD_Y).
    min_height:    drop detections shorter than this, frame pixels.

    ``PersonBox.score`` is the logistic of the SVM margin (monotone in it;
    margin 0 is 0.5); ``detect`` returns the raw margins.
    """

    name = "hog"

    def __init__(self, scale: float = 1.05, win_stride: int = 8, hit_threshold: float = 0.0, nms_iou: float = 0.3,
                 min_hits: int = 2, upscale: float = 1.0, max_side: int = 1000, pad: int = 16, tighten: bool = True,
                 min_height: float = 0.0, max_levels: int = 64) -> None:
        if scale <= 1.0:
            raise ValueError("scale must be > 1")
        if win_stride <= 0 or win_stride % CELL:
            raise ValueError("win_stride must be a positive multiple of 8")
        self.scale = float(scale)
        self.win_stride = int(win_stride)
        self.hit_threshold = float(hit_threshold)
        self.nms_iou = float(nms_iou)
        self.min_hits = max(1, int(min_hits))
        self.upscale = float(upscale)
        self.max_side = int(max_side)
        self.pad = int(math.ceil(max(0, pad) / CELL) * CELL)
        self.tighten = tighten
        self.min_height = float(min_height)
        self.max_levels = int(max_levels)
        self.weights, self.rho = load_people_svm()
        self.features = block_features  # (image) -> blocks; benchmarks swap in block_features_reference
        self.counters: dict[str, int] = {"frames": 0, "raw_hits": 0, "detections": 0, "bad_input": 0}

    def raw_hits(self, rgb: NDArray[np.uint8]) -> list[HogHit]:
        """All windows over the pyramid with margin >= hit_threshold (frame pixels)."""
        h, w = rgb.shape[:2]
        f = self.upscale
        if max(h, w) * f > self.max_side:
            f = self.max_side / max(h, w)
        base = rgb if f == 1.0 else cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))),
                                               interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        bh, bw = base.shape[:2]
        step = self.win_stride // CELL
        boxes, scores = [], []
        s = 1.0
        for _ in range(self.max_levels):
            lw, lh = round(bw / s), round(bh / s)
            if lw < WIN_W or lh < WIN_H:
                break
            level = base if s == 1.0 else cv2.resize(base, (lw, lh), interpolation=cv2.INTER_LINEAR)
            p = self.pad
            ex_r = (-(lw + 2 * p)) % CELL
            ex_b = (-(lh + 2 * p)) % CELL
            padded = cv2.copyMakeBorder(level, p, p + ex_b, p, p + ex_r, cv2.BORDER_REFLECT_101) if (p or ex_r or ex_b) \
                else level
            sc = window_scores(self.features(padded), self.weights, self.rho)[::step, ::step]
            rr, cc = np.nonzero(sc >= self.hit_threshold)
            if rr.size:
                x0 = (cc * self.win_stride - p) * s
                y0 = (rr * self.win_stride - p) * s
                boxes.append(np.stack([x0, y0, x0 + WIN_W * s, y0 + WIN_H * s], axis=1) / f)
                scores.append(sc[rr, cc].astype(np.float64))
            s *= self.scale
        if not boxes:
            return []
        b = np.concatenate(boxes)
        sv = np.concatenate(scores)
        return [HogHit(tuple(map(float, bb)), float(v)) for bb, v in zip(b, sv, strict=True)]  # type: ignore[misc]

    def detect(self, rgb: NDArray[np.uint8]) -> list[HogHit]:
        """Merged detections: the best window of each NMS cluster (untightened)."""
        hits = self.raw_hits(rgb)
        self.counters["raw_hits"] += len(hits)
        if not hits:
            return []
        b = np.array([x.box for x in hits])
        sv = np.array([x.score for x in hits])
        return [hits[i] for i, _ in nms(b, sv, self.nms_iou, self.min_hits)]

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64] | None = None) -> list[PersonBox]:
        self.counters["frames"] += 1
        if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            self.counters["bad_input"] += 1
            log.warning("hog: bad input image %s", getattr(rgb, "shape", None))
            return []
        h, w = rgb.shape[:2]
        out = []
        for d in self.detect(rgb):
            x0, y0, x1, y1 = d.box
            if self.tighten:
                dx, dy = PAD_X * (x1 - x0), PAD_Y * (y1 - y0)
                x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 - dx, y1 - dy
            x0, y0 = max(0.0, x0), max(0.0, y0)
            x1, y1 = min(w - 1.0, x1), min(h - 1.0, y1)
            if y1 - y0 < max(self.min_height, 2.0) or x1 - x0 < 2.0:
                continue
            score = 1.0 / (1.0 + math.exp(-d.score))
            out.append(PersonBox(x0, y0, x1, y1, score=score, source=self.name))
        self.counters["detections"] += len(out)
        return out
