"""Console scripts of hoi_perception, shared by both setup.py files.

Node executables keep ROS naming (`ros2 run hoi_perception bag_player`);
tools get an `hoi-` prefix.
"""

CONSOLE_SCRIPTS = [
    "bag_player = hoi_perception.nodes.bag_player:main",
    "zed_capture = hoi_perception.nodes.zed_capture:main",
    "video_camera = hoi_perception.nodes.video_camera:main",
    "hoi-make-sample = hoi_perception.bag.sample:main",
    "hoi-launch = hoi_perception.launch.yaml_launch:main",
]
