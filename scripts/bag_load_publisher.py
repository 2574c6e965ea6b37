"""Publish numbered messages at a fixed rate, for recorder crash and soak tests.

Every message carries its sequence number and send time so a recording can
be checked against what was sent:

* ``--kind small``: std_msgs/String ``"<seq> <send time ns>"``;
* ``--kind image``: sensor_msgs/Image of ``--width`` x ``--height`` ``--encoding``
  (colour, or depth as 32FC1 / 16UC1)
  with ``header.frame_id = "f<seq:09d>"`` and ``header.stamp`` = send time. The
  CDR is built once and patched in place per frame (a Python image copy per
  frame would cap the rate far below 30 Hz at 1080p); a moving bar changes the
  pixels of each frame.

Waits for a subscriber (``--wait-subscriber-s``), publishes for
``--duration-s`` (bounded), then writes ``--out`` JSON: the send time (wall
clock, ns) of every sequence number, and exits. A publish call that DDS
refuses (Fast DDS under overload: "cannot publish data") is counted, not
fatal, and its sequence number is sent with the next message. DDS stays on the loopback
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST unless set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

_BYTES_PER_PIXEL = {"rgb8": 3, "bgr8": 3, "bgra8": 4, "rgba8": 4, "mono8": 1, "32FC1": 4, "16UC1": 2}


def image_cdr(width: int, height: int, encoding: str) -> tuple[bytearray, int, int, int]:
    """Serialized Image with a placeholder stamp and frame id; returns (cdr, stamp offset, frame id offset, data offset)."""
    import numpy as np
    from hoi_perception.bag.typestore import default_typestore

    ts = default_typestore()
    types = ts.types
    bpp = _BYTES_PER_PIXEL[encoding]
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0),
                                          frame_id="f000000000")
    msg = types["sensor_msgs/msg/Image"](header=header, height=height, width=width, encoding=encoding,
                                         is_bigendian=0, step=width * bpp,
                                         data=np.full(width * height * bpp, 40, dtype=np.uint8))
    cdr = bytearray(ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    # CDR: 4-byte encapsulation, stamp sec/nanosec, frame_id (uint32 length incl. NUL, chars).
    stamp_off = 4
    frame_off = 4 + 8
    data_off = len(cdr) - width * height * bpp
    return cdr, stamp_off, frame_off, data_off


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", default="/fault/small")
    ap.add_argument("--kind", choices=["small", "image"], default="small")
    ap.add_argument("--rate", type=float, default=500.0, help="messages per second")
    ap.add_argument("--duration-s", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--encoding", default="rgb8", choices=sorted(_BYTES_PER_PIXEL))
    ap.add_argument("--depth", type=int, default=10, help="publisher keep-last depth")
    ap.add_argument("--wait-subscriber-s", type=float, default=20.0)
    ap.add_argument("--out", help="JSON file for the send times")
    args = ap.parse_args(argv)
    if not 0 < args.rate <= 100_000 or not 0 < args.duration_s <= 3600:
        print("bag_load_publisher: --rate must be in (0, 100000], --duration-s in (0, 3600]", file=sys.stderr)
        return 2

    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node("bag_load_publisher")
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=args.depth, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(String if args.kind == "small" else Image, args.topic, qos)
    deadline = time.monotonic() + args.wait_subscriber_s
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    if pub.get_subscription_count() == 0:
        print(f"bag_load_publisher: no subscriber on {args.topic} after {args.wait_subscriber_s} s", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    if args.kind == "image":
        import numpy as np

        cdr, stamp_off, frame_off, data_off = image_cdr(args.width, args.height, args.encoding)
        pixels = np.frombuffer(memoryview(cdr)[data_off:], dtype=np.uint8).reshape(args.height, -1)
    print(f"publishing {args.kind} on {args.topic} at {args.rate} Hz for {args.duration_s} s", flush=True)
    from rclpy._rclpy_pybind11 import RCLError

    sent: list[int] = []
    failed = 0  # publish calls DDS refused (Fast DDS: a reliable writer whose history stayed full too long)
    period = 1.0 / args.rate
    t0 = time.monotonic()
    next_t = t0
    seq = 0
    try:
        while rclpy.ok() and time.monotonic() - t0 < args.duration_s:
            now_ns = time.time_ns()
            try:
                if args.kind == "small":
                    msg = String()
                    msg.data = f"{seq} {now_ns}"
                    pub.publish(msg)
                else:
                    sec, nsec = divmod(now_ns, 1_000_000_000)
                    cdr[stamp_off:stamp_off + 8] = sec.to_bytes(4, "little") + nsec.to_bytes(4, "little")
                    cdr[frame_off + 4:frame_off + 14] = f"f{seq:09d}".encode()
                    bar = (seq * 16) % pixels.shape[0]
                    pixels[bar:bar + 16] ^= 0xFF  # a band that moves: every frame differs
                    try:
                        pub.publish(bytes(cdr))
                    finally:
                        pixels[bar:bar + 16] ^= 0xFF
            except RCLError:
                # Not sent: the sequence number is used again for the next message, so the
                # recorded sequence still has a gap only where a sent message was lost.
                failed += 1
            else:
                sent.append(now_ns)
                seq += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # fell behind by over a second: do not burst to catch up
                next_t = time.monotonic()
    except KeyboardInterrupt:
        pass
    elapsed = time.monotonic() - t0
    print(f"published {seq} messages in {elapsed:.2f} s ({seq / max(elapsed, 1e-9):.1f}/s), "
          f"{failed} publish calls refused by DDS", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"topic": args.topic, "kind": args.kind, "send_time_ns": sent, "publish_failed": failed}, f)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
