"""Drawing for people to look at: annotated images and plots."""
