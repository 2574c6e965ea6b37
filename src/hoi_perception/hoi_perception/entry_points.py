"""Console scripts of hoi_perception (read by src/hoi_perception/setup.py).

Node executables keep ROS naming (`ros2 run hoi_perception bag_player`);
tools get an `hoi-` prefix.
"""

CONSOLE_SCRIPTS = [
    "bag_player = hoi_perception.nodes.bag_player:main",
    "zed_capture = hoi_perception.nodes.zed_capture:main",
    "video_camera = hoi_perception.nodes.video_camera:main",
    "sync_monitor = hoi_perception.nodes.sync_monitor:main",
    "sparse4d_node = hoi_perception.nodes.sparse4d_node:main",
    "track_fusion = hoi_perception.nodes.track_fusion_node:main",
    "track_evaluator = hoi_perception.nodes.track_evaluator:main",
    "body_pose = hoi_perception.nodes.body_pose:main",
    "objects_hands = hoi_perception.nodes.objects_hands:main",
    "bag_recorder = hoi_perception.nodes.bag_recorder:main",
    "episode_recorder = hoi_perception.nodes.episode_recorder:main",
    "hoi-bag-repair = hoi_perception.bag.repair:main",
    "contacts = hoi_perception.nodes.contacts_node:main",
    "interactvlm = hoi_perception.nodes.interactvlm_node:main",
    "coconet = hoi_perception.nodes.coconet_node:main",
    "hoi-make-sample = hoi_perception.bag.sample:main",
    "hoi-launch = hoi_perception.launch.yaml_launch:main",
    "hoi-engine-build = hoi_perception.engine.build_cli:main",
    "hoi-engine-bench = hoi_perception.engine.bench_cli:main",
    "hoi-eval-tracks = hoi_perception.evaluation.cli:main",
    "hoi-fetch-models = hoi_perception.fetch_models:main",
    "hoi-eval-bag = hoi_perception.evaluation.eval_bag_cli:main",
    "hoi-eval-batch = hoi_perception.evaluation.batch:main",
]
