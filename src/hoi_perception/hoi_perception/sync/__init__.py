"""Time synchronisation of message streams (pure Python, no rclpy)."""

from hoi_perception.sync.approximate import (
    ApproximateTimeSynchronizer,
    DropReason,
    StreamPolicy,
    SyncedSet,
    SyncStats,
)

__all__ = ["ApproximateTimeSynchronizer", "DropReason", "StreamPolicy", "SyncStats", "SyncedSet"]
