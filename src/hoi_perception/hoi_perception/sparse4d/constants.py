"""Sparse4D constants: tensor sizes, box/anchor layouts, class tables.

Sources (read for facts, not copied):
* TAO Sparse4D model card (/work/shared/seeds/001_*): tensor names and shapes,
  instance bank (900 anchors, 600 temporal instances, confidence decay 0.8,
  default_time_interval 0.033333), 960x540 input, 7 classes of v2.2.
* github:HorizonRobotics/Sparse4D projects/mmdet3d_plugin/models/detection3d/
  decoder.py and the box encoding constants X, Y, Z, W, L, H, SIN_YAW, COS_YAW,
  VX, VY, VZ (anchors hold log sizes and sin/cos of yaw; the decoder exponentiates
  the sizes and takes atan2(sin, cos)).
* AI City Challenge 2025 track 1 page (aicitychallenge.org/2025-track1): class ids
  of the submission format (Person 0, Forklift 1, NovaCarter 2, Transporter 3,
  FourierGR1T2 4, AgilityDigit 5); PalletTruck 6 as used for the 2026 edition and
  the card's v2.2 class list.
"""

from __future__ import annotations

# Anchor encoding (11 values), index names as in HorizonRobotics/Sparse4D.
X, Y, Z, W, L, H, SIN_YAW, COS_YAW, VX, VY, VZ = range(11)
ANCHOR_DIM = 11
# Decoded box layout of the model output boxes_3d: x, y, z, w, l, h, yaw, vx, vy, vz.
BOX_DIM = 10
BOX_YAW = 6

NUM_ANCHOR = 900
NUM_TEMP_INSTANCES = 600
EMBED_DIMS = 256
CONFIDENCE_DECAY = 0.8
DEFAULT_TIME_INTERVAL_S = 0.033333
# Sparse4D InstanceBank default max_time_interval (seconds): beyond it the cached
# instances are masked out (instance_bank.py, also DeepStream ds-sparse4d instance_bank.h).
MAX_TIME_INTERVAL_S = 2.0
INPUT_W, INPUT_H = 960, 540
# Minimum confidence for a new instance id: TAO's head passes the decoder's score_threshold to
# InstanceBank.get_instance_id (nvidia_tao_pytorch/cv/sparse4d/model/sparse4d_head.py; experiment_spec.yaml
# head.decoder.score_threshold 0.05, num_output 300).
NEW_ID_THRESHOLD = 0.05
DECODER_NUM_OUTPUT = 300
# TAO dataset tracking_threshold (Omniverse3DDetTrackDataset): outputs with
# cls_scores below it are not reported as tracks.
TRACKING_THRESHOLD = 0.2

# Normalisation of the TAO Sparse4D image pipeline, per *network input channel* (channel 0 first).
# NVIDIA/tao_pytorch_backend nvidia_tao_pytorch/cv/sparse4d/experiment_specs/experiment_spec.yaml
# dataset.normalize: mean [123.675, 116.28, 103.53], std [58.395, 57.12, 57.375], to_rgb: true.
IMAGE_MEAN = (123.675, 116.28, 103.53)
IMAGE_STD = (58.395, 57.12, 57.375)
# Channel order the network is fed. TAO's LoadMultiViewImageFromFiles (dataloader/transforms.py) opens
# the files with PIL ``.convert('RGB')``; NormalizeMultiviewImage -> normalize_image (dataloader/augment.py)
# then runs ``cv2.cvtColor(img, cv2.COLOR_BGR2RGB)`` on that RGB array when to_rgb is true, which swaps
# it to B, G, R. The network was trained on B, G, R with mean[0]=123.675 applied to blue.
CHANNEL_ORDER = "BGR"
CHANNEL_ORDERS = ("RGB", "BGR")

# Class names of the card, in label order (labels_3d indexes this tuple).
CLASS_NAMES: tuple[str, ...] = (
    "Person",
    "Fourier_GR1_T2_Humanoid",
    "Agility_Digit_Humanoid",
    "Nova_Carter",
    "Transporter",
    "Forklift",
    "Pallet_Truck",
)

# AI City / MTMC_Tracking_2025 object type names and submission class ids.
AIC_CLASS_IDS: dict[str, int] = {
    "Person": 0,
    "Forklift": 1,
    "NovaCarter": 2,
    "Transporter": 3,
    "FourierGR1T2": 4,
    "AgilityDigit": 5,
    "PalletTruck": 6,
}
AIC_CLASS_NAMES: dict[int, str] = {v: k for k, v in AIC_CLASS_IDS.items()}

CARD_TO_AIC: dict[str, str] = {
    "Person": "Person",
    "Fourier_GR1_T2_Humanoid": "FourierGR1T2",
    "Agility_Digit_Humanoid": "AgilityDigit",
    "Nova_Carter": "NovaCarter",
    "Transporter": "Transporter",
    "Forklift": "Forklift",
    "Pallet_Truck": "PalletTruck",
}
AIC_TO_CARD: dict[str, str] = {v: k for k, v in CARD_TO_AIC.items()}


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


# Every spelling seen (card, AI City, OVPKL lower-case like 'gr1_t2') -> card name.
_ALIASES: dict[str, str] = {}
for _card, _aic in CARD_TO_AIC.items():
    _ALIASES[_norm(_card)] = _card
    _ALIASES[_norm(_aic)] = _card
_ALIASES.update(
    {
        "gr1t2": "Fourier_GR1_T2_Humanoid",
        "agilitydigit": "Agility_Digit_Humanoid",
        "digit": "Agility_Digit_Humanoid",
        "novacarter": "Nova_Carter",
        "pallettruck": "Pallet_Truck",
        "human": "Person",
        "pedestrian": "Person",
    }
)


def canonical_class_name(name: str) -> str | None:
    """Any known spelling of a class (card, AI City, OVPKL) -> the card's name, or None."""
    return _ALIASES.get(_norm(name))
