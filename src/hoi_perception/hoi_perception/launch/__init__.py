"""A runner for ROS 2 YAML launch files where `ros2 launch` is not installed."""
