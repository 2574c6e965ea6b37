"""3D hands: palm detection + 21 landmarks (MediaPipe Hands models on CPU),
ROIs from the body pose, metric 3D from depth, person association."""
