"""Without the ZED SDK the capture node exits at once with a message naming
what to install (pyzed is not on PyPI)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(importlib.util.find_spec("pyzed") is not None, reason="pyzed is installed here")
def test_zed_capture_without_pyzed_says_what_to_install() -> None:
    r = subprocess.run([sys.executable, "-m", "hoi_perception.nodes.zed_capture"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert "pyzed" in r.stderr and "ZED SDK" in r.stderr and "get_python_api.py" in r.stderr
