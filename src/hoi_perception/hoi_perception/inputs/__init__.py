"""Input checks and fault bookkeeping shared by every node (ROS-free)."""
