"""Geometry on numpy: rotations, camera models, transforms."""
