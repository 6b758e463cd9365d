"""The networks float-eval runs, each loadable from its manifest file with the reference's parameter names.

Every weight file name is a constant beside its loader (``FID_WEIGHTS``, ...); nothing here downloads.
"""

from .arcface import ARCFACE_WEIGHTS, ArcFaceONNX
from .faces import Face, FaceDetector
from .i3d import FVD_WEIGHTS, load_i3d
from .inception import FID_WEIGHTS, build_fid_inception, fid_inception_state_keys
from .recon import LM3D_FILE, RECON_WEIGHTS, ReconNet, load_lm3d, load_recon_net
from .s3fd import S3FD, S3FD_WEIGHTS, S3FDNet, load_s3fd
from .scrfd import SCRFD, SCRFD_WEIGHTS
from .syncnet import SYNCNET_WEIGHTS, SyncNet, load_syncnet

__all__ = [
    "ARCFACE_WEIGHTS",
    "FID_WEIGHTS",
    "FVD_WEIGHTS",
    "LM3D_FILE",
    "RECON_WEIGHTS",
    "S3FD",
    "S3FD_WEIGHTS",
    "SCRFD",
    "SCRFD_WEIGHTS",
    "SYNCNET_WEIGHTS",
    "ArcFaceONNX",
    "Face",
    "FaceDetector",
    "ReconNet",
    "S3FDNet",
    "SyncNet",
    "build_fid_inception",
    "fid_inception_state_keys",
    "load_i3d",
    "load_lm3d",
    "load_recon_net",
    "load_s3fd",
    "load_syncnet",
]
