"""Direct ZED capture with the Stereolabs SDK (pyzed.sl), live or SVO.

Publishes the topics and frames zed-ros2-wrapper publishes, so everything
downstream works the same with either: under ``<namespace>`` (default
``/zed/zed_node``) ``left/image_rect_color`` (bgra8), ``depth/depth_registered``
(32FC1, metres), ``left/camera_info``; TF ``zed_camera_link ->
zed_left_camera_frame -> zed_left_camera_optical_frame`` on /tf_static.

pyzed ships with the ZED SDK, not PyPI: where it is absent the node exits
with a message saying what to install.
"""

from __future__ import annotations

import sys

import numpy as np

PYZED_MISSING = (
    "zed_capture: pyzed (the ZED SDK's Python API) is not installed. Install the ZED SDK from "
    "https://www.stereolabs.com/developers/release, then run `python /usr/local/zed/get_python_api.py` "
    "inside this environment. Without a ZED, replay a bag (bag_player) or use zed-ros2-wrapper."
)


def _import_pyzed():  # noqa: ANN202 - the SDK module has no stubs
    try:
        import pyzed.sl as sl  # type: ignore[import-not-found]
    except ImportError:
        return None
    return sl


# (name, default, description, min, max, choices): plain data so this module imports without rclpy
PARAMETER_SPECS: tuple[tuple, ...] = (
    ("camera_name", "zed", "prefix of the published frames (<camera_name>_left_camera_optical_frame ...), as the "
     "wrapper's camera_name", None, None, ()),
    ("svo_file", "", "replay this SVO file instead of a live camera", None, None, ()),
    ("serial_number", 0, "open the camera with this serial number (0: the first found)", 0, 2**31 - 1, ()),
    ("resolution", "HD720", "live capture resolution (sl.RESOLUTION)", None, None,
     ("HD2K", "HD1200", "HD1080", "HD720", "SVGA", "VGA", "AUTO")),
    ("grab_frame_rate", 30, "live capture frame rate", 1, 120, ()),
    ("depth_mode", "NEURAL", "depth mode (sl.DEPTH_MODE)", None, None,
     ("NEURAL_LIGHT", "NEURAL", "NEURAL_PLUS", "ULTRA", "QUALITY", "PERFORMANCE")),
)


def parameters() -> tuple:
    from hoi_perception.ros.parameters import Param

    return tuple(Param(n, d, desc, lo, hi, choices) for n, d, desc, lo, hi, choices in PARAMETER_SPECS)


def make_node(sl):  # noqa: ANN001, ANN201 - pyzed has no stubs; the class needs rclpy, imported here
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image

    from hoi_perception.ros.parameters import declare_parameters
    from hoi_perception.ros.qos import SENSOR_DATA_QOS
    from hoi_perception.ros.tf import StaticTransformBroadcaster, transform_stamped

    class ZedCapture(Node):
        def __init__(self) -> None:
            super().__init__("zed_capture")
            v = declare_parameters(self, parameters())
            camera_name, self.svo = str(v["camera_name"]), str(v["svo_file"])
            init = sl.InitParameters()
            init.coordinate_units = sl.UNIT.METER
            init.depth_mode = getattr(sl.DEPTH_MODE, v["depth_mode"], sl.DEPTH_MODE.NEURAL)
            if self.svo:
                init.set_from_svo_file(self.svo)
                init.svo_real_time_mode = False
            else:
                init.camera_resolution = getattr(sl.RESOLUTION, v["resolution"], sl.RESOLUTION.HD720)
                init.camera_fps = int(v["grab_frame_rate"])
                if int(v["serial_number"]):
                    init.set_from_serial_number(int(v["serial_number"]))
            self.cam = sl.Camera()
            err = self.cam.open(init)
            if err != sl.ERROR_CODE.SUCCESS:
                raise RuntimeError(f"cannot open the ZED ({'SVO ' + self.svo if self.svo else 'live'}): {err}")
            info = self.cam.get_camera_information().camera_configuration.calibration_parameters
            calib = info.left_cam
            self.k = np.array([[calib.fx, 0.0, calib.cx], [0.0, calib.fy, calib.cy], [0.0, 0.0, 1.0]])
            self.optical = f"{camera_name}_left_camera_optical_frame"
            self.pub_img = self.create_publisher(Image, "~/left/image_rect_color", SENSOR_DATA_QOS)
            self.pub_depth = self.create_publisher(Image, "~/depth/depth_registered", SENSOR_DATA_QOS)
            self.pub_info = self.create_publisher(CameraInfo, "~/left/camera_info", SENSOR_DATA_QOS)
            self.static = StaticTransformBroadcaster(self)
            # zed-ros2-wrapper frame chain; the left sensor sits half a baseline to the left of the camera centre.
            self.static.send_transform([
                transform_stamped(f"{camera_name}_camera_link", f"{camera_name}_left_camera_frame", 0,
                                  translation=[0.0, info.get_camera_baseline() / 2.0, 0.0]),
                transform_stamped(f"{camera_name}_left_camera_frame", self.optical, 0,
                                  quaternion_xyzw=[-0.5, 0.5, -0.5, 0.5]),
            ])
            self.grabbed = self.failed = 0
            self.get_logger().info(f"ZED open ({'SVO ' + self.svo if self.svo else 'live'}), publishing under "
                                   f"{self.get_namespace()}")

        def capture(self) -> None:
            import rclpy

            from hoi_perception.imaging.encodings import numpy_to_image
            from hoi_perception.ros.conversions import camera_info_msg
            from hoi_perception.ros.time import stamp_from_ns

            image, depth = sl.Mat(), sl.Mat()
            runtime = sl.RuntimeParameters()
            while rclpy.ok():
                status = self.cam.grab(runtime)
                if status == sl.ERROR_CODE.END_OF_SVOFILE_REACHED:
                    self.get_logger().info("end of SVO file")
                    break
                if status != sl.ERROR_CODE.SUCCESS:
                    self.failed += 1
                    self.get_logger().warning(f"grab failed ({status}); {self.failed} failures so far")
                    continue
                self.cam.retrieve_image(image, sl.VIEW.LEFT)
                self.cam.retrieve_measure(depth, sl.MEASURE.DEPTH)
                stamp_ns = self.cam.get_timestamp(sl.TIME_REFERENCE.IMAGE).get_nanoseconds()
                bgra = image.get_data()
                dmap = depth.get_data().astype(np.float32, copy=False)
                dmap[~np.isfinite(dmap)] = np.nan  # the wrapper publishes NaN/inf for invalid; downstream expects NaN
                for arr, enc, pub in ((bgra, "bgra8", self.pub_img), (dmap, "32FC1", self.pub_depth)):
                    msg = numpy_to_image(arr, enc, factory=Image)
                    msg.header.stamp = stamp_from_ns(stamp_ns)
                    msg.header.frame_id = self.optical
                    pub.publish(msg)
                self.pub_info.publish(camera_info_msg(self.k, bgra.shape[1], bgra.shape[0], self.optical, stamp_ns))
                self.grabbed += 1
                rclpy.spin_once(self, timeout_sec=0.0)

        def close(self) -> None:
            self.cam.close()

    return ZedCapture


def main(argv: list[str] | None = None) -> int:
    sl = _import_pyzed()
    if sl is None:
        print(PYZED_MISSING, file=sys.stderr)
        return 1
    from hoi_perception.ros.node_main import run_node

    return run_node(make_node(sl), "zed_capture", lambda n: f"zed_capture: grabbed {n.grabbed} frames, "
                    f"{n.failed} grab failures", argv, spin=lambda n: n.capture())


if __name__ == "__main__":
    sys.exit(main())
