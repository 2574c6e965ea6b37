"""MTMC_Tracking_2025 readers (calibration.json, ground_truth.json, per-camera videos) and the
AI City Challenge 2025 track 1 submission writer/reader."""

from hoi_perception.mtmc.formats import (
    AicRow,
    MtmcObject,
    MtmcSensor,
    VideoFrames,
    aic_class_id,
    aic_rows_table,
    ground_truth_table,
    list_videos,
    parse_calibration,
    parse_ground_truth,
    read_aic_submission,
    read_calibration,
    read_ground_truth,
    table_to_aic_rows,
    write_aic_submission,
)

__all__ = [
    "AicRow",
    "MtmcObject",
    "MtmcSensor",
    "VideoFrames",
    "aic_class_id",
    "aic_rows_table",
    "ground_truth_table",
    "list_videos",
    "parse_calibration",
    "parse_ground_truth",
    "read_aic_submission",
    "read_calibration",
    "read_ground_truth",
    "table_to_aic_rows",
    "write_aic_submission",
]
