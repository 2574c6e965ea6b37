"""Objects: 2D detection, HOI vocabulary, RGB-D segmentation, 6DoF pose
(with and without a mesh), 3D tracking; and the detector as a person box source."""
