"""SMPL body model in numpy (loader, LBS, joints, keypoints) and the joint fit."""

from hoi_perception.smpl.model import NUM_BETAS, NUM_JOINTS, SmplFileError, SmplModel, load_smpl

__all__ = ["NUM_BETAS", "NUM_JOINTS", "SmplFileError", "SmplModel", "load_smpl"]
