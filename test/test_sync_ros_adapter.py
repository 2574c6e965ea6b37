"""The rclpy adapter: a publisher node and a TopicSynchronizer in one process."""

from __future__ import annotations

import time

import rclpy
from builtin_interfaces.msg import Time
from hoi_perception.ros.qos import sensor_data_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.sync import SyncedSet
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

N_FRAMES = 12
PERIOD_NS = 33_000_000


def spin_until(executor: SingleThreadedExecutor, cond, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        executor.spin_once(timeout_sec=0.02)
    return cond()


def test_three_topics_in_one_process() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        sub_node = rclpy.create_node(
            "sync_adapter_test", context=context, parameter_overrides=[
                Parameter("s.queue_size", value=6),  # as a launch file would override them
                Parameter("s.qos_depth", value=N_FRAMES),
                Parameter("s.max_interval_s", value=0.02),
            ],
        )
        pub_node = rclpy.create_node("sync_adapter_test_pub", context=context)
        cfg = SyncConfig.declare(sub_node, "s")
        assert cfg.queue_size == 6 and cfg.qos_depth == N_FRAMES and cfg.stream_policy == "wait"
        got: list[SyncedSet] = []
        topics = [(Image, "/t/sync/image"), (Image, "/t/sync/depth"), (CameraInfo, "/t/sync/info")]
        sync = TopicSynchronizer(sub_node, topics, got.append, cfg)
        pubs = [pub_node.create_publisher(t, n, sensor_data_qos(N_FRAMES)) for t, n in topics]
        executor.add_node(sub_node)
        executor.add_node(pub_node)
        assert spin_until(executor, lambda: all(p.get_subscription_count() >= 1 for p in pubs), 10.0)

        t0 = 1_700_000_000_000_000_000
        for f in range(N_FRAMES):
            for i, (msg_type, _) in enumerate(topics):
                m = msg_type()
                ns = t0 + f * PERIOD_NS + (i * 1_000_000 if f % 2 else 0)  # some jitter
                m.header.stamp = Time(sec=ns // 10**9, nanosec=ns % 10**9)
                m.header.frame_id = f"f{f}"
                pubs[i].publish(m)
            spin_until(executor, lambda f=f: sum(sync.stats().received) >= 3 * (f + 1), 1.0)
        spin_until(executor, lambda: len(got) >= N_FRAMES - 1, 10.0)

        # Best effort may lose a message on a loaded machine; with max_interval_s
        # a loss costs a set instead of producing one across frames.
        assert len(got) >= N_FRAMES // 2
        for s in got:
            assert s.complete and isinstance(s.messages[2], CameraInfo)
            assert len({m.header.frame_id for m in s.messages}) == 1  # one frame per set
        st = sync.stats()
        assert st.num_streams == 3 and sum(st.received) <= 3 * N_FRAMES
        assert st.emitted_sets == len(got)
        assert len(sync.lost_messages) == 3 and sync.callback_errors == 0

        # Headerless types are stamped on arrival; a failing callback is counted, not raised.
        def bad(_: SyncedSet) -> None:
            raise RuntimeError("boom")

        sync2 = TopicSynchronizer(sub_node, [(String, "/t/sync/str")], bad, SyncConfig(queue_size=2))
        p2 = pub_node.create_publisher(String, "/t/sync/str", sensor_data_qos(5))
        assert spin_until(executor, lambda: p2.get_subscription_count() >= 1, 10.0)
        for _ in range(3):
            p2.publish(String(data="x"))
            executor.spin_once(timeout_sec=0.01)
        assert spin_until(executor, lambda: sync2.callback_errors >= 2, 10.0)
        sync.destroy()
        sync2.destroy()
    finally:
        executor.shutdown()
        rclpy.shutdown(context=context)
