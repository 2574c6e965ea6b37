"""Evaluation: 3D HOTA per class through TrackEval with the AI City 2025 3D-IoU similarity."""

from hoi_perception.evaluation.hota import (
    HOTA_FIELDS,
    PROTOCOLS,
    ClassResult,
    HotaReport,
    LeaderboardReport,
    TrackTable,
    evaluate_hota,
    evaluate_hota_leaderboard,
)
from hoi_perception.evaluation.similarity import center_distance_similarity, iou_3d

__all__ = [
    "HOTA_FIELDS",
    "ClassResult",
    "HotaReport",
    "TrackTable",
    "center_distance_similarity",
    "evaluate_hota",
    "evaluate_hota_leaderboard",
    "LeaderboardReport",
    "PROTOCOLS",
    "iou_3d",
]
