"""ROS 2 nodes: thin rclpy shells (parameters, publishers, diagnostics) over the core modules."""
