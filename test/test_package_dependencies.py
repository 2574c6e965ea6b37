"""package.xml declares every third-party library the hoi_perception package
imports, so `rosdep install --from-paths src` on a robot installs what the nodes
need (a missing key shows up only there, as an ImportError at start)."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET

from conftest import REPO_ROOT

PACKAGE_XML = REPO_ROOT / "src" / "hoi_perception" / "package.xml"
PACKAGE = PACKAGE_XML.parent / "hoi_perception"

# import name -> rosdep key, where the key is not python3-<import>(-pip)
KEYS = {
    "PIL": "python3-pil",
    "cv2": "python3-opencv",
    "yaml": "python3-yaml",
    "skimage": "python3-skimage",
    "ai_edge_litert": "python3-ai-edge-litert-pip",
    "small_gicp": "python3-small-gicp-pip",
    # rosbags' own dependencies, used by the bag reader beside it
    "ruamel": "python3-rosbags-pip",
    "lz4": "python3-rosbags-pip",
    "backports": "python3-rosbags-pip",
    "compression": "python3-rosbags-pip",
}
# optional back ends, imported only where installed (each import is guarded)
OPTIONAL = {"tensorrt", "cuda", "pyzed", "open3d"}


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "hoi_perception"}


def test_every_imported_library_has_a_rosdep_key() -> None:
    root = ET.parse(PACKAGE_XML).getroot()
    declared = {e.text for e in root if e.tag in ("depend", "exec_depend") and e.text}
    missing = []
    for module in sorted(_third_party_imports() - OPTIONAL):
        candidates = {KEYS[module]} if module in KEYS else {module, f"python3-{module}", f"python3-{module}-pip"}
        if not candidates & declared:
            missing.append(f"{module} (expected one of {sorted(candidates)})")
    assert not missing, "package.xml lacks: " + "; ".join(missing)
