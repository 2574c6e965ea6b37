"""Test session set-up: keep DDS on the loopback with a domain of our own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before anything imports rclpy: no discovery traffic off this machine, and a
# domain id per test session so parallel sessions do not see each other.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# Always our own domain (never the user's robot domain from the shell): 1..100
# lies in the range Fast DDS maps to valid ports on Linux (0..101).
os.environ["ROS_DOMAIN_ID"] = os.environ.get("HOI_TEST_ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The sample bag of the tests is the checkout's data/sample_bag (as under make).
os.environ.setdefault("HOI_DATA_DIR", str(REPO_ROOT / "data"))
_src = str(REPO_ROOT / "src" / "hoi_perception")
if _src not in sys.path:
    sys.path.insert(0, _src)
