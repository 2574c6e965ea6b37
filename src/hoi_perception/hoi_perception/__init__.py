"""hoi_perception: a ROS 2 perception stack for human-object interaction.

The package is split by room:

* ROS-free core modules (``geometry``, ``skeleton``, ``sync``, ``imaging``,
  ``scene``, ``bag``, ``engine``, ``bodypose``, ``sparse4d``, ``evaluation``,
  ``render``) work on numpy and never import rclpy;
* ``ros`` holds the thin ROS glue (QoS, TF broadcasting, message conversions)
  and ``nodes`` the node shells.
"""

__version__ = "0.1.0"
