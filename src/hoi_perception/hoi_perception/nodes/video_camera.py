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
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.time import stamp_from_ns

PARAMETERS = (
    Param("path", "", "video or image file to publish (anything OpenCV's VideoCapture opens)"),
    Param("frame_id", "camera_optical_frame", "frame_id of the images and camera_info"),
    Param("rate", 1.0, "playback rate (stamps stay on the video's own timeline)", 1e-3, 1000.0),
    Param("loop", False, "start again at the end"),
    Param("max_frames", 0, "stop after this many frames (0: the whole file)", 0, 2**31 - 1),
    Param("fx", 0.0, "focal length in pixels (fx = fy); 0: from hfov_deg", 0.0, 1e6),
    Param("hfov_deg", 60.0, "horizontal field of view when fx is 0, degrees", 1.0, 179.0),
    Param("fps", 0.0, "frame rate of the file's timeline; 0: the container's (10 if it has none)", 0.0, 10000.0),
    Param("encoding", "bgr8", "image encoding published", choices=("bgr8", "rgb8")),
    Param("qos_depth", 10, "publisher history depth (reliable, keep last)", 1, 10000),
    Param("wait_for_subscribers_s", 15.0, "wait this long at most for image and camera_info subscribers before "
          "the first frame, seconds", 0.0, 3600.0),
    Param("start_delay_s", 0.5, "then wait this long (e.g. for a recorder to discover the consumer's outputs), "
          "seconds", 0.0, 3600.0),
    Param("linger_s", 2.0, "keep spinning this long after the last frame so consumers finish it, seconds",
          0.0, 3600.0),
)


class VideoCamera(Node):
    def __init__(self) -> None:
        super().__init__("video_camera")
        v = declare_parameters(self, PARAMETERS)
        self.path = str(v["path"])
        self.frame_id = str(v["frame_id"])
        self.rate = float(v["rate"])
        self.loop = bool(v["loop"])
        self.max_frames = int(v["max_frames"])
        self.fx = float(v["fx"])
        self.hfov_deg = float(v["hfov_deg"])
        self.fps_override = float(v["fps"])
        self.encoding = str(v["encoding"])
        qos_depth = int(v["qos_depth"])
        self.wait_for_subscribers_s = float(v["wait_for_subscribers_s"])
        self.start_delay_s = float(v["start_delay_s"])
        self.linger_s = float(v["linger_s"])
        if not self.path or not Path(self.path).is_file():
            raise ValueError(f"parameter 'path' must name a video or image file, got {self.path!r}")
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


    def serve(self) -> None:
        """Wait (bounded) for subscribers, so the first frames are not published
        into the void while the consumer is still loading its models; publish;
        linger so the consumers finish the last frames before a launch file's
        on_exit: shutdown stops them."""
        end = time.monotonic() + self.wait_for_subscribers_s
        while time.monotonic() < end and min(self.pub_img.get_subscription_count(),
                                             self.pub_info.get_subscription_count()) == 0:
            rclpy.spin_once(self, timeout_sec=0.05)
        end = time.monotonic() + self.start_delay_s
        while time.monotonic() < end:
            rclpy.spin_once(self, timeout_sec=0.05)
        self.run()
        end = time.monotonic() + self.linger_s
        while time.monotonic() < end and rclpy.ok():
            rclpy.spin_once(self, timeout_sec=0.05)

    def close(self) -> None:
        self.cap.release()


def main(argv: list[str] | None = None) -> int:
    return run_node(VideoCamera, "video_camera", lambda n: f"video_camera: published {n.published} frames from "
                    f"{n.path}", argv, spin=lambda n: n.serve())


if __name__ == "__main__":
    sys.exit(main())
