#!/usr/bin/env bash
# Build ament_cmake packages (the interface packages, hoi_bringup and the
# stack's metapackage) into the venv prefix with the PyPI ROS wheels, so the
# venv is an ament prefix like a colcon install.
# Usage: setup/build_interfaces.sh [--symlink] <venv> <package-dir>...
#   --symlink  install files as links into the checkout (colcon's
#              --symlink-install): launch and config edits need no re-run.
# Idempotent: a package is rebuilt only when its sources changed (stamp file
# holds a hash of them).
set -euo pipefail
symlink=OFF
if [ "${1:-}" = "--symlink" ]; then symlink=ON; shift; fi
venv=$(cd "$1" && pwd); shift
py="$venv/bin/python"
pyinc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
npinc=$("$py" -c 'import numpy; print(numpy.get_include())')

# The wheels' exported CMake files name the include dirs of the machine that
# built them; point them at this venv's Python and numpy.
{ grep -rl '/opt/python/cp311-cp311/' "$venv/share" --include='*.cmake' 2>/dev/null || true; } | while read -r f; do
  sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#${pyinc}#g" \
         -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${npinc}#g" "$f"
done

export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
export PATH="$venv/bin:$PATH"
jobs=$(nproc 2>/dev/null || echo 2)
for pkg_dir in "$@"; do
  pkg_dir=$(cd "$pkg_dir" && pwd)
  name=$(basename "$pkg_dir")
  stamp="$venv/share/$name/.hoi_build_stamp"
  # -L: hoi_bringup/config is a link to the top-level config/
  hash=$( ([ "$symlink" = ON ] && echo symlink; cd "$pkg_dir" && find -L . -type f \( -name '*.msg' -o -name '*.srv' -o -name 'CMakeLists.txt' -o -name 'package.xml' -o -name '*.yaml' -o -name '*.py' \) -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    echo "[setup] $name is up to date"
    continue
  fi
  echo "[setup] building $name into $venv"
  build="$venv/build/$name"
  rm -rf "$build"; mkdir -p "$build"
  cmake -S "$pkg_dir" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_BUILD_TYPE=Release \
        -DPython3_EXECUTABLE="$py" -DPython3_FIND_VIRTUALENV=ONLY -DBUILD_TESTING=OFF \
        -DAMENT_CMAKE_SYMLINK_INSTALL="$symlink" >"$build/configure.log" 2>&1 \
    || { cat "$build/configure.log"; exit 1; }
  cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 || { tail -50 "$build/build.log"; exit 1; }
  # from the build folder: a symlink install writes symlink_install_manifest.txt into the working directory
  (cd "$build" && cmake --install .) >"$build/install.log" 2>&1 || { tail -50 "$build/install.log"; exit 1; }
  echo "$hash" > "$stamp"
done
