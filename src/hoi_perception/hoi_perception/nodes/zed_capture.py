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


def main(argv: list[str] | None = None) -> int:
    sl = _import_pyzed()
    if sl is None:
        print(PYZED_MISSING, file=sys.stderr)
        return 1

    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image

    from hoi_perception.imaging.encodings import numpy_to_image
    from hoi_perception.ros.conversions import camera_info_msg
    from hoi_perception.ros.qos import SENSOR_DATA_QOS
    from hoi_perception.ros.tf import StaticTransformBroadcaster, transform_stamped
    from hoi_perception.ros.time import stamp_from_ns

    rclpy.init(args=argv)
    node = Node("zed_capture")
    camera_name = node.declare_parameter("camera_name", "zed").value
    svo = node.declare_parameter("svo_file", "").value
    serial = int(node.declare_parameter("serial_number", 0).value)
    resolution = node.declare_parameter("resolution", "HD720").value
    fps = int(node.declare_parameter("grab_frame_rate", 30).value)
    depth_mode = node.declare_parameter("depth_mode", "NEURAL").value

    init = sl.InitParameters()
    init.coordinate_units = sl.UNIT.METER
    init.depth_mode = getattr(sl.DEPTH_MODE, depth_mode, sl.DEPTH_MODE.NEURAL)
    if svo:
        init.set_from_svo_file(svo)
        init.svo_real_time_mode = False
    else:
        init.camera_resolution = getattr(sl.RESOLUTION, resolution, sl.RESOLUTION.HD720)
        init.camera_fps = fps
        if serial:
            init.set_from_serial_number(serial)
    cam = sl.Camera()
    err = cam.open(init)
    if err != sl.ERROR_CODE.SUCCESS:
        node.get_logger().fatal(f"cannot open the ZED ({'SVO ' + svo if svo else 'live'}): {err}")
        rclpy.shutdown()
        return 1

    calib = cam.get_camera_information().camera_configuration.calibration_parameters.left_cam
    k = np.array([[calib.fx, 0.0, calib.cx], [0.0, calib.fy, calib.cy], [0.0, 0.0, 1.0]])
    optical = f"{camera_name}_left_camera_optical_frame"
    pub_img = node.create_publisher(Image, "~/left/image_rect_color", SENSOR_DATA_QOS)
    pub_depth = node.create_publisher(Image, "~/depth/depth_registered", SENSOR_DATA_QOS)
    pub_info = node.create_publisher(CameraInfo, "~/left/camera_info", SENSOR_DATA_QOS)
    static = StaticTransformBroadcaster(node)
    baseline = cam.get_camera_information().camera_configuration.calibration_parameters.get_camera_baseline()
    # zed-ros2-wrapper frame chain; the left sensor sits half a baseline to the left of the camera centre.
    static.send_transform([
        transform_stamped(f"{camera_name}_camera_link", f"{camera_name}_left_camera_frame", 0,
                          translation=[0.0, baseline / 2.0, 0.0]),
        transform_stamped(f"{camera_name}_left_camera_frame", optical, 0,
                          quaternion_xyzw=[-0.5, 0.5, -0.5, 0.5]),
    ])
    image, depth = sl.Mat(), sl.Mat()
    runtime = sl.RuntimeParameters()
    grabbed = failed = 0
    node.get_logger().info(f"ZED open ({'SVO ' + svo if svo else 'live'}), publishing under {node.get_namespace()}")
    try:
        while rclpy.ok():
            status = cam.grab(runtime)
            if status == sl.ERROR_CODE.END_OF_SVOFILE_REACHED:
                node.get_logger().info("end of SVO file")
                break
            if status != sl.ERROR_CODE.SUCCESS:
                failed += 1
                node.get_logger().warning(f"grab failed ({status}); {failed} failures so far")
                continue
            cam.retrieve_image(image, sl.VIEW.LEFT)
            cam.retrieve_measure(depth, sl.MEASURE.DEPTH)
            stamp_ns = cam.get_timestamp(sl.TIME_REFERENCE.IMAGE).get_nanoseconds()
            bgra = image.get_data()
            dmap = depth.get_data().astype(np.float32, copy=False)
            dmap[~np.isfinite(dmap)] = np.nan  # the wrapper publishes NaN/inf for invalid; downstream expects NaN
            for arr, enc, pub in ((bgra, "bgra8", pub_img), (dmap, "32FC1", pub_depth)):
                msg = numpy_to_image(arr, enc, factory=Image)
                msg.header.stamp = stamp_from_ns(stamp_ns)
                msg.header.frame_id = optical
                pub.publish(msg)
            pub_info.publish(camera_info_msg(k, bgra.shape[1], bgra.shape[0], optical, stamp_ns))
            grabbed += 1
            rclpy.spin_once(node, timeout_sec=0.0)
    finally:
        node.get_logger().info(f"grabbed {grabbed} frames, {failed} grab failures")
        cam.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
