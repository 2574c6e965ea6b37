"""Console scripts of hoi_perception (read by src/hoi_perception/setup.py).

Node executables keep ROS naming (`ros2 run hoi_perception bag_player`);
tools get an `hoi-` prefix. Nodes start through ros/node_entry.py (a SIGINT
while the node module still imports ends the start quietly).
"""

CONSOLE_SCRIPTS = [
    "bag_player = hoi_perception.ros.node_entry:bag_player",
    "zed_capture = hoi_perception.ros.node_entry:zed_capture",
    "video_camera = hoi_perception.ros.node_entry:video_camera",
    "sync_monitor = hoi_perception.ros.node_entry:sync_monitor",
    "sparse4d_node = hoi_perception.ros.node_entry:sparse4d_node",
    "track_fusion = hoi_perception.ros.node_entry:track_fusion",
    "track_evaluator = hoi_perception.ros.node_entry:track_evaluator",
    "body_pose = hoi_perception.ros.node_entry:body_pose",
    "objects_hands = hoi_perception.ros.node_entry:objects_hands",
    "bag_recorder = hoi_perception.ros.node_entry:bag_recorder",
    "episode_recorder = hoi_perception.ros.node_entry:episode_recorder",
    "hoi-bag-repair = hoi_perception.bag.repair:main",
    "contacts = hoi_perception.ros.node_entry:contacts",
    "interactvlm = hoi_perception.ros.node_entry:interactvlm",
    "coconet = hoi_perception.ros.node_entry:coconet",
    "hoi-make-sample = hoi_perception.bag.sample:main",
    "hoi-launch = hoi_perception.launch.yaml_launch:main",
    "hoi-engine-build = hoi_perception.engine.build_cli:main",
    "hoi-engine-bench = hoi_perception.engine.bench_cli:main",
    "hoi-eval-tracks = hoi_perception.evaluation.cli:main",
    "hoi-fetch-models = hoi_perception.fetch_models:main",
    "hoi-eval-bag = hoi_perception.evaluation.eval_bag_cli:main",
    "hoi-eval-batch = hoi_perception.evaluation.batch:main",
]
