"""ROS glue: QoS profiles, TF broadcasting, message conversions, the rclpy
adapter of the synchronizer. The only place besides ``nodes`` that imports
rclpy."""
