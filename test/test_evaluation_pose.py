"""MPJPE on hand-computed cases."""

from __future__ import annotations

import numpy as np
from hoi_perception.evaluation.pose import match_by_root, mpjpe_mm, root_relative_mpjpe_mm


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((34, 3))
    pred = gt.copy()
    pred[:, 0] += 0.01  # every joint 10 mm off
    assert abs(mpjpe_mm(pred, gt) - 10.0) < 1e-9
    assert abs(root_relative_mpjpe_mm(pred, gt)) < 1e-9  # a pure translation has no articulation error
    pred[5] = [0.0, 0.3, 0.4]  # one joint 500 mm off, masked out
    valid = np.ones(34, bool)
    valid[5] = False
    assert abs(mpjpe_mm(pred, gt, valid) - 10.0) < 1e-9
    pred[6] = np.nan  # non-finite joints are skipped too
    valid[5] = True
    assert abs(mpjpe_mm(pred, gt, valid) - (33 * 10.0 + 500.0 - 10.0) / 33) < 1e-9
    assert np.isnan(mpjpe_mm(pred, gt, np.zeros(34, bool)))


def test_match_by_root() -> None:
    gt = np.array([[0.0, 0, 3], [1.0, 0, 3]])
    pred = np.array([[1.1, 0, 3], [5.0, 0, 3], [0.05, 0, 3]])
    assert sorted(match_by_root(pred, gt, 0.5)) == [(0, 1), (2, 0)]
