"""ament_python build of hoi_perception for colcon on a full ROS 2 install.

Console scripts are shared with the repository's top-level setup.py (the
PyPI-wheel workflow) through hoi_perception/entry_points.py, so `ros2 run
hoi_perception <node>` and the venv's console scripts name the same things.
"""

import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
ENTRY_POINTS = runpy.run_path(str(HERE / "hoi_perception" / "entry_points.py"))["CONSOLE_SCRIPTS"]

setup(
    name="hoi_perception",
    version="0.1.0",
    packages=find_namespace_packages(include=["hoi_perception", "hoi_perception.*"]),
    package_data={"hoi_perception": ["contracts/*.yaml", "data/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/hoi_perception"]),
        ("share/hoi_perception", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hoi_perception maintainers",
    maintainer_email="maintainers@hoi-perception.invalid",
    description="Nodes and ROS-free core of the hoi_perception stack",
    license="Apache-2.0",
    entry_points={"console_scripts": ENTRY_POINTS},
)
