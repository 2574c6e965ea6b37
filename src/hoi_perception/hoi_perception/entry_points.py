"""Console scripts of hoi_perception, shared by both setup.py files.

Node executables keep ROS naming (`ros2 run hoi_perception bag_player`);
tools get an `hoi-` prefix.
"""

CONSOLE_SCRIPTS = [
    "bag_player = hoi_perception.nodes.bag_player:main",
    "hoi-make-sample = hoi_perception.bag.sample:main",
    "hoi-launch = hoi_perception.launch.yaml_launch:main",
]
