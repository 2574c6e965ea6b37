"""The one nearest-stamp-within-tolerance buffer (sync/nearest.py)."""

from __future__ import annotations

import pytest
from hoi_perception.sync.nearest import NearestStampBuffer, nearest_index


def test_nearest_within_tolerance_ties_to_the_older() -> None:
    b: NearestStampBuffer[str] = NearestStampBuffer(tolerance_ns=10)
    for s, v in ((100, "a"), (130, "b"), (120, "c")):  # out of order on purpose
        b.add(s, v)
    assert [s for s, _ in b] == [100, 120, 130]
    assert b.nearest(104) == "a" and b.nearest(126) == "b" and b.nearest(125) == "c"  # 125: tie -> older
    assert b.nearest(110) == "a" and b.nearest(141) is None and b.nearest(89) is None
    assert b.nearest_with_stamp(131) == (130, "b") and b.newest_ns == 130


def test_bounded_and_cleared() -> None:
    b: NearestStampBuffer[int] = NearestStampBuffer(tolerance_ns=0, maxlen=3)
    for s in range(10):
        b.add(s, s)
    assert len(b) == 3 and b.dropped == 7 and b.nearest(6) is None and b.nearest(7) == 7
    b.clear()
    assert len(b) == 0 and b.newest_ns is None and b.nearest(7) is None
    with pytest.raises(ValueError):
        NearestStampBuffer(tolerance_ns=-1)


def test_nearest_index() -> None:
    assert nearest_index([], 5, 10) is None
    assert nearest_index([0, 10, 20], 14, 5) == 1 and nearest_index([0, 10, 20], 15, 5) == 1
    assert nearest_index([0, 10, 20], 16, 5) == 2 and nearest_index([0, 10, 20], 26, 5) is None
