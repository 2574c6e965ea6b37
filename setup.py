"""pip-installable hoi_perception (the Python package and its console scripts).

On a full ROS 2 install colcon builds src/hoi_perception with its own
ament_python setup.py; this file serves the PyPI-wheel workflow
(`make setup` installs it into .venv).
"""

from setuptools import find_packages, setup

PKG_ROOT = "src/hoi_perception"

CONSOLE_SCRIPTS = [
    # filled by each capability as it lands: "hoi-<tool> = hoi_perception.<module>:main"
]

setup(
    name="hoi_perception",
    version="0.1.0",
    description="ROS 2 perception stack for human-object interaction",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"": PKG_ROOT},
    packages=find_packages(PKG_ROOT, exclude=["test", "test.*"]),
    package_data={"hoi_perception": ["contracts/*.yaml", "data/*"]},
    include_package_data=True,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
