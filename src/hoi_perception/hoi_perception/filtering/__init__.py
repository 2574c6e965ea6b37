"""Signal filters (plain numpy, no ROS)."""

from hoi_perception.filtering.one_euro import OneEuroFilter, OneEuroParams

__all__ = ["OneEuroFilter", "OneEuroParams"]
