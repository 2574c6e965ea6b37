"""3D hands on CPU: MediaPipe Hands models (palm detection + 21 landmarks) run
with our own pre/post-processing on ai-edge-litert, seeded by the body pose.

Pipeline per person and side (MediaPipe's holistic approach: the palm
detector misses small hands in a full frame, so it looks only around each
wrist the body pose found):

1. **Seed ROI** from the body pose's wrist, index knuckle, pinky knuckle and
   thumb tip (2D): a square around the hand, rotated so the fingers point up.
2. **Palm detection** (palm_detection_full, 192x192, letterboxed, RGB in
   [0, 1]) in a crop of that ROI; the detection nearest the seed wins and
   gives the hand ROI (wrist keypoint 0 -> middle finger MCP keypoint 2 sets
   the rotation; box scaled 2.6, shifted -0.5 along the hand axis, squared).
   Without a palm the seed ROI is used as is (counted).
3. **Landmarks** (hand_landmark_full, 224x224 ROI crop, RGB in [0, 1]):
   21 x (x, y, z) in crop pixels, hand presence, handedness, and 21 world
   landmarks in metres around the hand's centre.
4. **Metric 3D**: each keypoint with valid depth is back-projected
   (``depth_measured``); the rest take the world landmarks' shape, placed by
   the measured keypoints (rigid translation on them), or, with no depth at
   all, by solving the translation that projects them onto the 2D landmarks.
5. **Handedness** is the side of the body pose the hand was seeded from (the
   person's anatomical side); the model's own handedness is reported as the
   agreement score. The model assumes a mirrored (selfie) image
   (google/mediapipe docs/solutions/hands.md "multi_handedness"), so on a
   non-mirrored camera its "Left" is the person's right; its single output is
   the score of the first label of handedness.txt ("Left"), as MediaPipe's
   binary TensorsToClassificationCalculator reads it. On messi5.jpg and
   basketball1.png this reading agrees with the pose side on 2 of 3 hands
   (the reverse reading on 1 of 3).

Constants from google/mediapipe (modules/palm_detection/palm_detection_cpu.pbtxt:
anchors num_layers 4, min/max scale 0.1484375/0.75, strides 8, 16, 16, 16,
fixed anchor size -> 24*24*2 + 12*12*6 = 2016 anchors; box and 7 keypoints
scaled by 192 around the anchor centre; score sigmoid clipped at 100, 0.5,
weighted NMS 0.3; modules/hand_landmark/palm_detection_detection_to_roi.pbtxt:
rotation target 90 deg from keypoints 0 -> 2, scale 2.6, shift_y -0.5;
modules/hand_landmark/hand_landmark_cpu.pbtxt: 224 input, presence 0.5).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception import paths
from hoi_perception.bodypose.blazepose_detector import Roi, letterbox
from hoi_perception.bodypose.depth import place_root_relative, sample_depth
from hoi_perception.bodypose.types import iou_matrix
from hoi_perception.hands.fetch_models import LANDMARK_FILE, PALM_FILE

log = logging.getLogger(__name__)

PALM_SIZE = 192
PALM_ANCHORS = 2016
LM_SIZE = 224
NUM_KP = 21
LEFT, RIGHT = 0, 1
SIDES = ("left", "right")
# MediaPipe hand keypoint order (Hand3D.msg)
HAND_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)


@dataclass
class HandSeed:
    """Where the body pose says a hand is (image pixels)."""

    side: int  # LEFT / RIGHT: the person's anatomical side
    wrist: NDArray[np.float64]
    index: NDArray[np.float64]  # index knuckle
    pinky: NDArray[np.float64]  # pinky knuckle
    thumb: NDArray[np.float64] | None = None
    person_track_id: int = 0
    confidence: float = 1.0


@dataclass
class HandResult:
    side: int
    handedness_score: float  # agreement of the landmark model with ``side``
    person_track_id: int
    keypoints_2d: NDArray[np.float64]  # (21, 2) pixels
    keypoints_cam: NDArray[np.float64]  # (21, 3) metres, camera optical frame
    keypoint_scores: NDArray[np.float64]  # (21,)
    depth_measured: NDArray[np.bool_]  # (21,)
    roi: Roi
    score: float  # hand presence
    placement: str  # "depth", "depth+relative", "relative" (no depth: projected fit)
    palm_found: bool
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def box(self) -> tuple[float, float, float, float]:
        lo, hi = self.keypoints_2d.min(0), self.keypoints_2d.max(0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def seeds_from_joints(joints_2d: NDArray[np.float64], confidence: NDArray[np.float64], track_id: int,
                      min_confidence: float = 0.3) -> list[HandSeed]:
    """Hand seeds from a 34-joint skeleton's 2D joints (PoseResult.joints_2d or
    HumanPose3D.joints_2d)."""
    from hoi_perception.skeleton.bodypose34 import JOINT_INDEX as J

    out = []
    for side, name in enumerate(SIDES):
        idx = [J[f"{name}_wrist"], J[f"{name}_index_knuckle"], J[f"{name}_pinky_knuckle"], J[f"{name}_thumb_tip"]]
        pts = np.asarray(joints_2d, dtype=np.float64)[idx]
        conf = np.asarray(confidence, dtype=np.float64)[idx]
        if not np.all(np.isfinite(pts[:3])) or conf[0] < min_confidence:
            continue
        out.append(HandSeed(side, pts[0], pts[1], pts[2], pts[3] if np.all(np.isfinite(pts[3])) else None,
                            int(track_id), float(conf[:3].mean())))
    return out


def seed_roi(seed: HandSeed, min_size: float = 24.0) -> Roi:
    """Square ROI around the hand from the body's wrist and knuckles, fingers up.

    The knuckle midpoint is about one palm length from the wrist; the hand
    (wrist to finger tips) is about twice that, so the ROI is centred one
    palm length out and is 2.6 palm lengths wide (the palm ROI scale)."""
    mid = 0.5 * (seed.index + seed.pinky)
    v = mid - seed.wrist
    palm = float(np.hypot(*v))
    if seed.thumb is not None:
        palm = max(palm, 0.8 * float(np.hypot(*(seed.thumb - seed.wrist))))
    if palm < 1e-3:
        return Roi(float(seed.wrist[0]), float(seed.wrist[1]), min_size, 0.0)
    rotation = math.pi / 2 - math.atan2(-v[1], v[0])
    centre = seed.wrist + v / max(np.hypot(*v), 1e-9) * palm
    return Roi(float(centre[0]), float(centre[1]), max(2.6 * palm, min_size), _norm(rotation))


def _norm(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def palm_anchors() -> NDArray[np.float64]:
    out = []
    for fm, per_cell in ((24, 2), (12, 6)):
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        out.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), per_cell, axis=0))
    a = np.concatenate(out)
    assert a.shape == (PALM_ANCHORS, 2)
    return a


@dataclass
class Palm:
    box: NDArray[np.float64]  # xyxy, normalised in the palm input (letterboxed)
    keypoints: NDArray[np.float64]  # (7, 2) same
    score: float


def decode_palms(raw: NDArray[np.float32], raw_scores: NDArray[np.float32], anchors: NDArray[np.float64],
                 min_score: float = 0.5, nms_iou: float = 0.3) -> list[Palm]:
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    r = raw.reshape(PALM_ANCHORS, 18)[keep].astype(np.float64)
    a = anchors[keep]
    c = r[:, 0:2] / PALM_SIZE + a
    wh = r[:, 2:4] / PALM_SIZE
    boxes = np.concatenate([c - wh / 2, c + wh / 2], 1)
    kps = r[:, 4:18].reshape(-1, 7, 2) / PALM_SIZE + a[:, None, :]
    sc = scores[keep]
    order = np.argsort(-sc, kind="stable")
    out = []
    while order.size:
        top = order[0]
        ious = iou_matrix(boxes[top][None], boxes[order])[0]
        members = order[ious > nms_iou]
        if members.size == 0:
            members = order[:1]
        w = sc[members]
        out.append(Palm((boxes[members] * w[:, None]).sum(0) / w.sum(),
                        (kps[members] * w[:, None, None]).sum(0) / w.sum(), float(sc[top])))
        order = order[~np.isin(order, members)]
    return out


class HandEstimator:
    """Hands for people whose body pose is known (see the module docstring)."""

    backend_name = "mediapipe-hands-full:ai-edge-litert-cpu"

    def __init__(self, model_dir: str | Path | None = None, num_threads: int = 2, min_presence: float = 0.5,
                 min_palm_score: float = 0.5, use_palm_detector: bool = True, max_hands: int = 8) -> None:
        from ai_edge_litert.interpreter import Interpreter

        folder = paths.model_folder("hands", model_dir)
        self.palm = Interpreter(model_path=str(folder / PALM_FILE), num_threads=num_threads)
        self.palm.allocate_tensors()
        self.lm = Interpreter(model_path=str(folder / LANDMARK_FILE), num_threads=num_threads)
        self.lm.allocate_tensors()
        pin = self.palm.get_input_details()[0]
        if tuple(pin["shape"]) != (1, PALM_SIZE, PALM_SIZE, 3):
            raise ValueError(f"{PALM_FILE}: input {pin['shape']} is not 1x192x192x3")
        self._palm_in = pin["index"]
        pouts = {tuple(d["shape"]): d["index"] for d in self.palm.get_output_details()}
        self._palm_boxes, self._palm_scores = pouts[(1, PALM_ANCHORS, 18)], pouts[(1, PALM_ANCHORS, 1)]
        lin = self.lm.get_input_details()[0]
        if tuple(lin["shape"]) != (1, LM_SIZE, LM_SIZE, 3):
            raise ValueError(f"{LANDMARK_FILE}: input {lin['shape']} is not 1x224x224x3")
        self._lm_in = lin["index"]
        # outputs by name (two are 1x63 and two 1x1): Identity = landmarks, _1 = presence,
        # _2 = handedness, _3 = world landmarks (tensor names in the tflite file)
        byname = {d["name"]: d["index"] for d in self.lm.get_output_details()}
        self._lm_out = [byname["Identity"], byname["Identity_1"], byname["Identity_2"], byname["Identity_3"]]
        self.anchors = palm_anchors()
        self.min_presence, self.min_palm_score = min_presence, min_palm_score
        self.use_palm_detector, self.max_hands = use_palm_detector, max_hands
        self.counters: dict[str, int] = {"seeds": 0, "palm_runs": 0, "palm_found": 0, "palm_missed": 0,
                                         "hands": 0, "rejected_presence": 0, "bad_input": 0}

    # -- stages ------------------------------------------------------------
    def detect_palm(self, rgb: NDArray[np.uint8], roi: Roi) -> Roi | None:
        """Palm detection inside ``roi`` (crop 2x its size); the hand ROI of the
        palm nearest the ROI centre, or None."""
        search = Roi(roi.cx, roi.cy, roi.size * 1.6, 0.0)
        size = max(PALM_SIZE, 1)
        crop = cv2.warpAffine(rgb, search.matrix(size), (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        t, lb = letterbox(crop, PALM_SIZE)  # [-1, 1]; the palm model wants [0, 1]
        self.palm.set_tensor(self._palm_in, (t + np.float32(1.0)) * np.float32(0.5))
        self.palm.invoke()
        self.counters["palm_runs"] += 1
        palms = decode_palms(self.palm.get_tensor(self._palm_boxes), self.palm.get_tensor(self._palm_scores),
                             self.anchors, self.min_palm_score)
        if not palms:
            return None
        left, top, right, bottom = lb.pad

        def to_img(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            u = (xy[..., 0] - left) / (1 - left - right)
            v = (xy[..., 1] - top) / (1 - top - bottom)
            return search.to_image(np.stack([u, v], -1))

        best, best_d = None, np.inf
        for p in palms:
            kp = to_img(p.keypoints)
            corners = to_img(p.box.reshape(2, 2))
            c = corners.mean(0)
            d = float(np.hypot(c[0] - roi.cx, c[1] - roi.cy))
            if d < best_d:
                best, best_d = (kp, corners), d
        assert best is not None
        kp, corners = best
        w = abs(corners[1, 0] - corners[0, 0])
        h = abs(corners[1, 1] - corners[0, 1])
        v = kp[2] - kp[0]
        rotation = _norm(math.pi / 2 - math.atan2(-v[1], v[0]))
        c = corners.mean(0)
        # shift -0.5 box heights along the hand axis (towards the fingers), then scale 2.6, square
        shift = -0.5 * h
        cx = c[0] - shift * math.sin(rotation)
        cy = c[1] + shift * math.cos(rotation)
        return Roi(float(cx), float(cy), float(max(w, h) * 2.6), rotation)

    def landmarks(self, rgb: NDArray[np.uint8], roi: Roi) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                                     float, float]:
        """(21, 3) image-pixel x, y and crop-scale z; (21, 3) world metres; presence; P(anatomical
        right hand) for a non-mirrored image (the model's mirrored "Left" score)."""
        crop = cv2.warpAffine(rgb, roi.matrix(LM_SIZE), (LM_SIZE, LM_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        self.lm.set_tensor(self._lm_in, (crop.astype(np.float32) * np.float32(1 / 255))[None])
        self.lm.invoke()
        raw, flag, hand, world = (self.lm.get_tensor(i) for i in self._lm_out)
        lm = raw.reshape(NUM_KP, 3).astype(np.float64)
        xy = roi.to_image(lm[:, :2] / LM_SIZE)
        z = lm[:, 2] / LM_SIZE * roi.size
        wl = world.reshape(NUM_KP, 3).astype(np.float64)
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        wl = np.column_stack([c * wl[:, 0] - s * wl[:, 1], s * wl[:, 0] + c * wl[:, 1], wl[:, 2]])
        return np.column_stack([xy, z]), wl, _prob(float(flag.reshape(-1)[0])), _prob(float(hand.reshape(-1)[0]))

    # -- whole step ----------------------------------------------------------
    def estimate(self, rgb: NDArray[np.uint8], k: NDArray[np.float64], seeds: list[HandSeed],
                 depth: NDArray[np.float32] | None = None) -> list[HandResult]:
        if rgb is None or getattr(rgb, "ndim", 0) != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 \
                or np.asarray(k).shape != (3, 3):
            self.counters["bad_input"] += 1
            log.warning("hands: bad input image %s / K", getattr(rgb, "shape", None))
            return []
        k = np.asarray(k, dtype=np.float64)
        h, w = rgb.shape[:2]
        out: list[HandResult] = []
        for seed in sorted(seeds, key=lambda s: -s.confidence)[: self.max_hands]:
            self.counters["seeds"] += 1
            roi = seed_roi(seed)
            if roi.size < 8 or not (-roi.size < roi.cx < w + roi.size and -roi.size < roi.cy < h + roi.size):
                continue
            palm_roi = self.detect_palm(rgb, roi) if self.use_palm_detector else None
            if palm_roi is not None:
                self.counters["palm_found"] += 1
            elif self.use_palm_detector:
                self.counters["palm_missed"] += 1
            lm, world, presence, p_right = self.landmarks(rgb, palm_roi or roi)
            if presence < self.min_presence:
                self.counters["rejected_presence"] += 1
                continue
            p_side = p_right if seed.side == RIGHT else 1.0 - p_right
            cam, measured, placement = self._metric(lm[:, :2], world, k, depth, (w, h))
            scores = np.full(NUM_KP, presence)
            out.append(HandResult(seed.side, float(p_side), seed.person_track_id, lm[:, :2].copy(), cam, scores,
                                  measured, palm_roi or roi, presence, placement, palm_roi is not None,
                                  extras={"model_p_right": p_right}))
        out = self._dedupe(out)
        self.counters["hands"] += len(out)
        return out

    @staticmethod
    def _dedupe(hands: list[HandResult]) -> list[HandResult]:
        """Two seeds landing on one hand (crossed arms, a wrong pose side): keep the more present one."""
        kept: list[HandResult] = []
        for hr in sorted(hands, key=lambda x: -x.score):
            if kept and iou_matrix(np.array([hr.box]), np.array([x.box for x in kept])).max() > 0.5:
                continue
            kept.append(hr)
        return kept

    @staticmethod
    def _metric(xy: NDArray[np.float64], world: NDArray[np.float64], k: NDArray[np.float64],
                depth: NDArray[np.float32] | None, size: tuple[int, int]
                ) -> tuple[NDArray[np.float64], NDArray[np.bool_], str]:
        fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
        measured = np.zeros(NUM_KP, dtype=bool)
        if depth is not None:
            z = sample_depth(depth, xy, size, window=1)
            # a fingertip over the background reads the wall: keep depths near the hand's median
            ok = np.isfinite(z)
            if ok.sum() >= 3:
                med = float(np.median(z[ok]))
                ok &= np.abs(z - med) < 0.12
            if ok.sum() >= 3:
                measured = ok
                pts = np.column_stack([(xy[:, 0] - cx) / fx * z, (xy[:, 1] - cy) / fy * z, z])
                if ok.all():
                    return pts, measured, "depth"
                # the relative shape, translated onto the measured keypoints
                t = np.median(pts[ok] - world[ok], axis=0)
                out = world + t
                out[ok] = pts[ok]
                return out, measured, "depth+relative"
        cam, _ = place_root_relative(world, xy, np.ones(NUM_KP), k, min_depth=0.1)
        return cam, measured, "relative"


def _prob(v: float) -> float:
    """The tflite heads already end in a sigmoid; guard against a logit anyway."""
    return v if 0.0 <= v <= 1.0 else 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, v))))
