"""Publish a video file (or a still image) as a camera: Image + CameraInfo.

Lets the stack run on real footage without a camera, e.g. OpenCV's
vtest.avi pedestrians in `make demo`. Intrinsics come from parameters
(focal length in pixels, or a horizontal field of view); the principal point
is the image centre. Frames are stamped on the video's own timeline (the
first frame at the node clock's time, then 1/fps apart), whatever the
playback ``rate``: a slowed-down replay looks to trackers and synchronizers
like the original footage.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from hoi_perception.geometry.camera import intrinsics
from hoi_perception.imaging.encodings import numpy_to_image
from hoi_perception.ros.conversions import camera_info_msg
from hoi_perception.ros.time import stamp_from_ns


class VideoCamera(Node):
    def __init__(self) -> None:
        super().__init__("video_camera")
        self.path = str(self.declare_parameter("path", "").value)
        self.frame_id = str(self.declare_parameter("frame_id", "camera_optical_frame").value)
        self.rate = float(self.declare_parameter("rate", 1.0).value)
        self.loop = bool(self.declare_parameter("loop", False).value)
        self.max_frames = int(self.declare_parameter("max_frames", 0).value)
        self.fx = float(self.declare_parameter("fx", 0.0).value)
        self.hfov_deg = float(self.declare_parameter("hfov_deg", 60.0).value)
        self.fps_override = float(self.declare_parameter("fps", 0.0).value)
        self.encoding = str(self.declare_parameter("encoding", "bgr8").value)
        qos_depth = int(self.declare_parameter("qos_depth", 10).value)
        if not self.path or not Path(self.path).is_file():
            raise ValueError(f"parameter 'path' must name a video or image file, got {self.path!r}")
        if self.rate <= 0:
            raise ValueError(f"parameter 'rate' must be > 0, got {self.rate}")
        if self.encoding not in ("bgr8", "rgb8"):
            raise ValueError(f"parameter 'encoding' must be bgr8 or rgb8, got {self.encoding!r}")
        # Reliable keep-last: a file source should not lose frames to a slow subscriber's best-effort QoS.
        self.pub_img = self.create_publisher(Image, "image_raw", qos_depth)
        self.pub_info = self.create_publisher(CameraInfo, "camera_info", qos_depth)
        self.cap = cv2.VideoCapture(self.path)
        if not self.cap.isOpened():
            raise ValueError(f"cannot open {self.path} with OpenCV")
        self.fps = self.fps_override or self.cap.get(cv2.CAP_PROP_FPS) or 10.0
        self.period = 1.0 / (self.fps * self.rate)
        self.published = 0

    def k_for(self, width: int, height: int) -> np.ndarray:
        fx = self.fx if self.fx > 0 else (width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        return intrinsics(fx, fx, width / 2.0, height / 2.0)

    def run(self) -> None:
        next_t = time.monotonic()
        t0_ns = self.get_clock().now().nanoseconds
        index = 0
        while rclpy.ok():
            ok, frame = self.cap.read()
            if not ok:
                if self.loop and self.published:
                    self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                break
            if self.encoding == "rgb8":
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            stamp_ns = t0_ns + int(round(index * 1e9 / self.fps))
            index += 1
            msg = numpy_to_image(frame, self.encoding, factory=Image)
            msg.header.stamp = stamp_from_ns(stamp_ns)
            msg.header.frame_id = self.frame_id
            h, w = frame.shape[:2]
            self.pub_info.publish(camera_info_msg(self.k_for(w, h), w, h, self.frame_id, stamp_ns))
            self.pub_img.publish(msg)
            self.published += 1
            if self.max_frames and self.published >= self.max_frames:
                break
            next_t += self.period
            rclpy.spin_once(self, timeout_sec=max(0.0, next_t - time.monotonic()))
        self.get_logger().info(f"published {self.published} frames from {self.path}")


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    try:
        node = VideoCamera()
    except ValueError as e:
        print(f"video_camera: error: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        # Wait (bounded) for a subscriber, so the first frames are not published
        # into the void while the consumer is still loading its models.
        wait_s = float(node.declare_parameter("wait_for_subscribers_s", 15.0).value)
        end = time.monotonic() + wait_s
        while time.monotonic() < end and min(node.pub_img.get_subscription_count(),
                                             node.pub_info.get_subscription_count()) == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        end = time.monotonic() + float(node.declare_parameter("start_delay_s", 0.5).value)
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        node.run()
        # linger so the consumers can finish the last frames before a launch
        # file's on_exit: shutdown stops them
        end = time.monotonic() + float(node.declare_parameter("linger_s", 2.0).value)
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
