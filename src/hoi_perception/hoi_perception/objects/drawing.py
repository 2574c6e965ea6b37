"""Annotated images of objects and hands (the node's ~/annotated, the demo's video)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.hands.estimator import HAND_BONES


def draw_objects_hands(rgb: NDArray[np.uint8], res: Any, banner: str = "") -> NDArray[np.uint8]:
    """Detections (thin grey), tracked objects (box, id, method, depth), hands (skeleton, side, person)."""
    img = np.ascontiguousarray(rgb.copy())
    for d in res.detections:
        b = [int(round(v)) for v in d.box]
        cv2.rectangle(img, b[:2], b[2:], (160, 160, 160), 1)
    for o in res.objects:
        b = [int(round(v)) for v in o.box]
        cv2.rectangle(img, b[:2], b[2:], (40, 150, 255), 2)
        z = o.cam_from_object[2, 3]
        cv2.putText(img, f"{o.hoi_class} #{o.track_id} {o.method} {z:.2f}m", (b[0], max(10, b[1] - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 150, 255), 1, cv2.LINE_AA)
    for h in res.hands:
        col = (40, 220, 60) if h.side else (230, 60, 40)
        kp = h.keypoints_2d
        for a, b in HAND_BONES:
            cv2.line(img, (int(kp[a][0]), int(kp[a][1])), (int(kp[b][0]), int(kp[b][1])), col, 2, cv2.LINE_AA)
        cv2.putText(img, f"{'R' if h.side else 'L'} p{h.person_track_id} {h.placement}", (int(kp[0][0]), int(kp[0][1]) + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, col, 1, cv2.LINE_AA)
    if banner:
        cv2.putText(img, banner, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img
