"""hoi_perception: one setup.py for both ways of installing it.

* colcon (ament_python) on a ROS 2 install: ``colcon build`` from the
  workspace; setup.cfg puts the node executables in ``lib/hoi_perception``
  where ``ros2 run`` / ``ros2 launch`` look for them.
* pip (``make setup`` runs ``pip install -e src/hoi_perception`` into .venv):
  the wheel's console scripts land in the venv's ``bin/``.

Either way the data files register the package in the prefix's ament index
(``share/ament_index/resource_index/packages/hoi_perception`` and
``share/hoi_perception/package.xml``), so hoi_perception.paths resolves
installed folders the same way in a colcon install and in the venv.
"""

import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent  # setup.py is build code, not the runtime package
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
    python_requires=">=3.10",
    install_requires=["setuptools"],
    # colcon test runs pytest only for packages that declare it (extras "test")
    extras_require={"test": ["pytest"]},
    zip_safe=False,
    maintainer="hoi_perception maintainers",
    maintainer_email="maintainers@hoi-perception.invalid",
    description="Nodes and ROS-free core of the hoi_perception stack",
    license="Apache-2.0",
    entry_points={"console_scripts": ENTRY_POINTS},
)
