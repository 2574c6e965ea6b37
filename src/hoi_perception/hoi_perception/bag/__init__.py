"""rosbag2 MCAP bags (rosbags): typestore with hoi_msgs, writer/reader, playback scheduling, sample bags.

ROS-free: nothing here imports rclpy.
"""

from hoi_perception.bag.io import (
    LATCHED_QOS,
    SENSOR_QOS,
    BagMessage,
    BagReader,
    BagWriter,
    TopicInfo,
    is_complete_bag,
    make_qos,
    read_messages,
)
from hoi_perception.bag.typestore import default_typestore, find_msg_dirs, make_typestore

__all__ = [
    "LATCHED_QOS",
    "SENSOR_QOS",
    "BagMessage",
    "BagReader",
    "BagWriter",
    "TopicInfo",
    "default_typestore",
    "find_msg_dirs",
    "is_complete_bag",
    "make_qos",
    "make_typestore",
    "read_messages",
]
