"""The one "nearest stamp within a tolerance" buffer of the stack.

Items (ground truth frames, external detections, 3D tracks, ...) are kept in
stamp order; ``nearest(stamp)`` answers the item whose stamp is closest to it
when that is within ``tolerance_ns``, else None. Bounded by ``maxlen`` (oldest
dropped first) so a node never grows without limit. Ties go to the older item.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def nearest_index(stamps: list[int], stamp_ns: int, tolerance_ns: int) -> int | None:
    """Index of the stamp in sorted ``stamps`` nearest ``stamp_ns`` within the
    tolerance (ties: the earlier one), or None."""
    if not stamps:
        return None
    i = bisect.bisect_left(stamps, stamp_ns)
    best = None
    for j in (i - 1, i):
        if 0 <= j < len(stamps):
            d = abs(stamps[j] - stamp_ns)
            if d <= tolerance_ns and (best is None or d < abs(stamps[best] - stamp_ns)):
                best = j
    return best


class NearestStampBuffer(Generic[T]):
    """Items by stamp; nearest lookup within ``tolerance_ns``."""

    def __init__(self, tolerance_ns: int, maxlen: int | None = None) -> None:
        if tolerance_ns < 0 or (maxlen is not None and maxlen < 1):
            raise ValueError("tolerance_ns must be >= 0 and maxlen >= 1")
        self.tolerance_ns = int(tolerance_ns)
        self.maxlen = maxlen
        self._stamps: list[int] = []
        self._items: list[T] = []
        self.dropped = 0  # items pushed out by maxlen

    def add(self, stamp_ns: int, item: T) -> None:
        i = bisect.bisect_right(self._stamps, int(stamp_ns))
        self._stamps.insert(i, int(stamp_ns))
        self._items.insert(i, item)
        if self.maxlen is not None and len(self._stamps) > self.maxlen:
            del self._stamps[0], self._items[0]
            self.dropped += 1

    def nearest(self, stamp_ns: int) -> T | None:
        i = nearest_index(self._stamps, int(stamp_ns), self.tolerance_ns)
        return None if i is None else self._items[i]

    def nearest_with_stamp(self, stamp_ns: int) -> tuple[int, T] | None:
        i = nearest_index(self._stamps, int(stamp_ns), self.tolerance_ns)
        return None if i is None else (self._stamps[i], self._items[i])

    def matching_or_before(self, stamp_ns: int) -> tuple[int, T] | None:
        """The item whose stamp matches ``stamp_ns`` (within the tolerance), else
        the newest one not newer than it, else None: how a frame is paired with
        its camera_info (a newer one may describe a changed camera)."""
        hit = self.nearest_with_stamp(stamp_ns)
        if hit is not None:
            return hit
        i = bisect.bisect_right(self._stamps, int(stamp_ns))
        return None if i == 0 else (self._stamps[i - 1], self._items[i - 1])

    @property
    def oldest_ns(self) -> int | None:
        return self._stamps[0] if self._stamps else None

    @property
    def newest_ns(self) -> int | None:
        return self._stamps[-1] if self._stamps else None

    def clear(self) -> None:
        self._stamps.clear()
        self._items.clear()

    def __len__(self) -> int:
        return len(self._stamps)

    def __iter__(self) -> Iterator[tuple[int, T]]:
        return iter(zip(self._stamps, self._items, strict=True))
