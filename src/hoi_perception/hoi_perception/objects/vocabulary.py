"""The HOI object vocabulary: what the stack calls an object, whatever detector ran.

Each detector's class names (Open Images V4 for the Objectron SSD, COCO for
YOLOv3-tiny) map onto one small vocabulary of things people interact with
(``VOCABULARY`` below is the list). Classes outside it are dropped by default
(vehicles, animals) so consumers see one set of names. ``graspable`` marks
objects a hand can carry (contact reasoning treats them as movable);
``support`` marks furniture things are put on or sat on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HoiClass:
    name: str
    graspable: bool
    support: bool = False


VOCABULARY: dict[str, HoiClass] = {c.name: c for c in (
    HoiClass("person", graspable=False),
    HoiClass("cup", graspable=True),
    HoiClass("bottle", graspable=True),
    HoiClass("bowl", graspable=True),
    HoiClass("box", graspable=True),
    HoiClass("book", graspable=True),
    HoiClass("laptop", graspable=True),
    HoiClass("phone", graspable=True),
    HoiClass("keyboard", graspable=True),
    HoiClass("mouse", graspable=True),
    HoiClass("remote", graspable=True),
    HoiClass("camera", graspable=True),
    HoiClass("bag", graspable=True),
    HoiClass("shoe", graspable=True),
    HoiClass("ball", graspable=True),
    HoiClass("tool", graspable=True),
    HoiClass("utensil", graspable=True),
    HoiClass("monitor", graspable=False),
    HoiClass("chair", graspable=False, support=True),
    HoiClass("table", graspable=False, support=True),
    HoiClass("sofa", graspable=False, support=True),
    HoiClass("bin", graspable=False),
    # class unknown: found in depth as what a hand holds (objects/held_proposals.py)
    HoiClass("held_object", graspable=True),
)}

# detector class name (lower case) -> vocabulary name
DETECTOR_TO_HOI: dict[str, str] = {
    # Open Images V4 (object_detection_oidv4_labelmap.txt)
    "person": "person", "mug": "cup", "coffee cup": "cup", "bottle": "bottle", "box": "box", "book": "book",
    "laptop": "laptop", "computer mouse": "mouse", "computer monitor": "monitor", "camera": "camera",
    "chair": "chair", "table": "table", "desk": "table", "footwear": "shoe", "boot": "shoe", "high heels": "shoe",
    # COCO (coco.names)
    "cup": "cup", "wine glass": "cup", "bowl": "bowl", "cell phone": "phone", "keyboard": "keyboard",
    "mouse": "mouse", "remote": "remote", "tv": "monitor", "tvmonitor": "monitor", "backpack": "bag",
    "handbag": "bag", "suitcase": "bag", "sports ball": "ball", "scissors": "tool", "knife": "utensil",
    "fork": "utensil", "spoon": "utensil", "dining table": "table", "diningtable": "table", "couch": "sofa",
    "sofa": "sofa", "teddy bear": "ball", "frisbee": "ball", "umbrella": "tool", "toothbrush": "utensil",
    "vase": "bottle", "bench": "chair",
    # ground truth names of the synthetic scene
    "carried_box": "box", "bin": "bin",
}


def to_hoi(detector_label: str) -> str | None:
    """Vocabulary name of a detector class, or None when it is not an HOI object."""
    return DETECTOR_TO_HOI.get(detector_label.strip().lower())


def class_key(name: str) -> str:
    """Vocabulary name of any class name (a detector's, the ground truth's "Box"), else it lower-cased."""
    return to_hoi(name) or name.strip().lower()


def same_object_class(predicted: str, truth: str) -> bool:
    """Whether a predicted object class can be the ground truth's: the same vocabulary name, or a
    class-agnostic ``held_object`` (objects/held_proposals.py) against anything graspable."""
    p, t = class_key(predicted), class_key(truth)
    if p == t:
        return True
    cls = VOCABULARY.get(t)
    return p == "held_object" and cls is not None and cls.graspable
