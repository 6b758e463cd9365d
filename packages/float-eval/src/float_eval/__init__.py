"""float-eval: the seven talking-head metrics of FLOAT's Table 1 on any method's videos.

FID (pytorch-fid Inception), FVD (StyleGAN-V I3D), CSIM (ArcFace), E-FID / P-FID (Deep3DFaceRecon 3DMM
coefficients), LSE-D / LSE-C (SyncNet v2 on S3FD face tracks), streaming float64 statistics, a weights
manifest and a CLI.
"""

from .align import ARCFACE_TEMPLATE, norm_crop, similarity_transform, warp_affine
from .csim import CSIM, ArcFaceONNX, CSIMResult, aligned_faces
from .faces import SCRFD, Face, FaceDetector, decode_scrfd, nms
from .fid import FID, FID_WEIGHTS, build_fid_inception, fid_inception_state_keys
from .frechet import FeatureStats, FrechetMetric, frechet_distance
from .fvd import FVD, FVD_WEIGHTS, ClipSampling, clip_starts, load_i3d
from .lse import LSEResult, lse_from_distances, mfcc, offset_distances, sync_embeddings, syncnet_lse
from .report import PAPER_TABLE1, Report, VideoResult, markdown_table
from .run import ALL_METRICS, Components, EvalConfig, check_metric_names, evaluate, required_weights
from .s3fd import S3FD, S3FDNet, decode_s3fd, load_s3fd, s3fd_priors
from .syncnet import SyncNet, load_syncnet
from .threedmm import (
    ANGLE_SLICE,
    EXP_SLICE,
    TRANS_SLICE,
    CoefficientFID,
    ReconNet,
    align_for_recon,
    load_lm3d,
    load_recon_net,
    pos_fit,
    pose_coefficients,
)
from .tracks import box_iou, face_tracks, iou_tracks, syncnet_crops
from .video import Video, list_videos, read_audio, read_video, resample_fps
from .weights import (
    MANIFEST,
    WEIGHTS_ENV,
    WeightFile,
    WeightsError,
    check_weights,
    file_sha256,
    resolve_weight,
    weights_dir,
)

__all__ = [
    "ALL_METRICS",
    "ANGLE_SLICE",
    "ARCFACE_TEMPLATE",
    "CSIM",
    "EXP_SLICE",
    "FID",
    "FID_WEIGHTS",
    "FVD",
    "FVD_WEIGHTS",
    "MANIFEST",
    "PAPER_TABLE1",
    "S3FD",
    "SCRFD",
    "TRANS_SLICE",
    "WEIGHTS_ENV",
    "ArcFaceONNX",
    "CSIMResult",
    "ClipSampling",
    "CoefficientFID",
    "Components",
    "EvalConfig",
    "Face",
    "FaceDetector",
    "FeatureStats",
    "FrechetMetric",
    "LSEResult",
    "ReconNet",
    "Report",
    "S3FDNet",
    "SyncNet",
    "Video",
    "VideoResult",
    "WeightFile",
    "WeightsError",
    "align_for_recon",
    "aligned_faces",
    "box_iou",
    "build_fid_inception",
    "check_metric_names",
    "check_weights",
    "clip_starts",
    "decode_s3fd",
    "decode_scrfd",
    "evaluate",
    "face_tracks",
    "fid_inception_state_keys",
    "file_sha256",
    "frechet_distance",
    "iou_tracks",
    "list_videos",
    "load_i3d",
    "load_lm3d",
    "load_recon_net",
    "load_s3fd",
    "load_syncnet",
    "lse_from_distances",
    "markdown_table",
    "mfcc",
    "nms",
    "norm_crop",
    "offset_distances",
    "pos_fit",
    "pose_coefficients",
    "read_audio",
    "read_video",
    "required_weights",
    "resample_fps",
    "resolve_weight",
    "s3fd_priors",
    "similarity_transform",
    "sync_embeddings",
    "syncnet_crops",
    "syncnet_lse",
    "warp_affine",
    "weights_dir",
]
