#!/usr/bin/env bash
# One idempotent set-up step (`make setup`): system packages, .venv with the
# pinned ROS 2 wheels and Python dependencies, hoi_msgs (and tf2_msgs where the
# wheels lack it), hoi_bringup and hoi_perception_stack built into the venv
# prefix, hoi_perception installed (editable) and registered in the venv's
# ament index, and the models fetched into the venv's share/hoi_perception/models,
# where an installed package finds them. Re-running it when nothing changed
# takes seconds: every step is guarded by a stamp holding a hash of its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.venv"
say() { printf '[setup] %s\n' "$*"; }

# 1. system packages: a compiler and cmake for the interface build, npm (fetches one
#    model tarball at set-up, nothing else), and the
#    OpenCV sample images/video the body-pose checks use.
need=()
for p in cmake g++ opencv-doc; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${need[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    say "WARNING: missing Debian packages ${need[*]}; install them with: sudo apt-get install ${need[*]}"
  fi
fi

# 2. the virtual environment
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ament_index lookups (package share directories) need the venv on
# AMENT_PREFIX_PATH; activating the venv sets it. Nothing else needs it.
if ! grep -q 'hoi_perception: ament prefix' "$venv/bin/activate"; then
  cat >> "$venv/bin/activate" <<'ACT'
# hoi_perception: ament prefix (make setup installs ROS packages into this venv)
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
ACT
fi

# 3. pinned dependencies
h=$(hash_of requirements.txt constraints.txt)
if ! stamp_ok "$venv/.hoi_requirements" "$h"; then
  say "installing pinned dependencies (requirements.txt, constraints.txt)"
  "$py" -m pip install -q --upgrade pip >/dev/null
  "$py" -m pip install -q -r requirements.txt -c constraints.txt
  echo "$h" > "$venv/.hoi_requirements"
fi

# 3b. one cv2: opencv-python, opencv-python-headless and opencv-contrib-python-headless
#     all install the same cv2 package (trackeval pulls in opencv-python). Keep only the
#     pinned contrib wheel (OpenCV 5 has HOGDescriptor there) and reinstall it over
#     whatever the others left behind.
others=$("$py" -m pip list --format=freeze 2>/dev/null | grep -iE '^opencv-(python|python-headless|contrib-python)==' \
         | cut -d= -f1 || true)
if [ -n "$others" ]; then
  say "one cv2: removing $(echo $others | tr '\n' ' ')"
  # shellcheck disable=SC2086
  "$py" -m pip uninstall -q -y $others
  "$py" -m pip install -q --no-deps --force-reinstall "$(grep -E '^opencv-contrib-python-headless==' requirements.txt)"
fi
"$py" -c 'import cv2; assert hasattr(cv2, "HOGDescriptor"), cv2.__file__' \
  || { say "ERROR: cv2 lacks HOGDescriptor (opencv-contrib-python-headless not the installed cv2)"; exit 1; }

# 4. interface packages into the venv prefix
pkgs=(src/hoi_msgs)
if [ -f "$venv/share/tf2_msgs/.hoi_build_stamp" ] || ! "$py" -c 'import tf2_msgs.msg' 2>/dev/null; then
  pkgs=(setup/tf2_msgs "${pkgs[@]}")
fi
setup/build_interfaces.sh "$venv" "${pkgs[@]}"
# launch files and parameter files as links into this checkout (edits need no re-run)
setup/build_interfaces.sh --symlink "$venv" src/hoi_bringup src/hoi_perception_stack

# 5. the project itself (editable, so a checkout edit needs no reinstall). Its
#    data files put the ament index marker and package.xml into the venv.
h=$(hash_of src/hoi_perception/setup.py src/hoi_perception/setup.cfg src/hoi_perception/package.xml \
            src/hoi_perception/hoi_perception/entry_points.py)
if ! stamp_ok "$venv/.hoi_project" "$h" || ! "$py" -c 'import hoi_perception' 2>/dev/null \
   || [ ! -f "$venv/share/ament_index/resource_index/packages/hoi_perception" ] \
   || [ ! -d "$venv/lib/hoi_perception" ]; then
  say "installing hoi_perception (editable)"
  "$py" -m pip uninstall -q -y hoi_perception >/dev/null 2>&1 || true  # an install of the old root setup.py
  "$py" -m pip install -q --no-deps -e src/hoi_perception
  # An editable wheel carries no data_files: register the package in the
  # venv's ament index as setup.py's data_files do for a colcon or wheel install.
  install -D -m 644 src/hoi_perception/resource/hoi_perception "$venv/share/ament_index/resource_index/packages/hoi_perception"
  install -D -m 644 src/hoi_perception/package.xml "$venv/share/hoi_perception/package.xml"
  # ros2 run / launch_ros look for a package's executables in <prefix>/lib/<package>
  # (setup.cfg's script_dir in a colcon install); pip put them in bin/.
  mkdir -p "$venv/lib/hoi_perception"
  "$py" - "$venv" <<'PY'
import runpy, sys
from pathlib import Path
venv = Path(sys.argv[1])
for spec in runpy.run_path("src/hoi_perception/hoi_perception/entry_points.py")["CONSOLE_SCRIPTS"]:
    name = spec.split("=")[0].strip()
    link = venv / "lib" / "hoi_perception" / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(venv / "bin" / name)
PY
  echo "$h" > "$venv/.hoi_project"
fi

# 6. the models (BlazePose CPU models extracted from the mediapipe wheel, and
#    every other family with a fetch_models module) into the venv's
#    share/hoi_perception/models; each fetch is hash-checked and idempotent.
"$venv/bin/hoi-fetch-models"

AMENT_PREFIX_PATH="$venv" "$py" -c "import rclpy, hoi_msgs.msg, tf2_msgs.msg, hoi_perception
from hoi_perception import paths
for p in ('hoi_msgs', 'hoi_perception', 'hoi_bringup'): paths.share_dir(p)" \
  && say "ready: . .venv/bin/activate && python -c 'import rclpy, hoi_msgs.msg, tf2_msgs.msg, hoi_perception'"
