"""pip-installable hoi_perception (the Python package and its console scripts).

On a full ROS 2 install colcon builds src/hoi_perception with its own
ament_python setup.py; this file serves the PyPI-wheel workflow
(`make setup` installs it into .venv).
"""

import runpy

from setuptools import find_namespace_packages, setup

PKG_ROOT = "src/hoi_perception"
CONSOLE_SCRIPTS = runpy.run_path(f"{PKG_ROOT}/hoi_perception/entry_points.py")["CONSOLE_SCRIPTS"]

setup(
    name="hoi_perception",
    version="0.1.0",
    description="ROS 2 perception stack for human-object interaction",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"": PKG_ROOT},
    packages=find_namespace_packages(PKG_ROOT, include=["hoi_perception", "hoi_perception.*"]),
    package_data={"hoi_perception": ["contracts/*.yaml", "data/*"]},
    include_package_data=True,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
