"""Image ingest without ROS: message <-> numpy conversions and RGB-D frames."""
