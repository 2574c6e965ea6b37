"""Hand/body-object contacts: geometric estimator, HOI state, metrics (ROS-free)."""
