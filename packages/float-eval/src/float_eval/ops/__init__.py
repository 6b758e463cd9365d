"""The maths and preprocessing of the metrics, without networks or weights (tested against the references)."""

from .align import ARCFACE_TEMPLATE, align_for_recon, norm_crop, pos_fit, similarity_transform, warp_affine
from .clips import ClipSampling, clip_starts
from .detection import decode_s3fd, decode_scrfd, nms, s3fd_priors, scrfd_input
from .frechet import FeatureStats, frechet_distance
from .sync import (
    LSEResult,
    audio_to_int16,
    lse_from_distances,
    mfcc,
    offset_distances,
    sync_embeddings,
    syncnet_lse,
    syncnet_lse_stream,
)
from .tracks import box_iou, crop_frames, crop_geometry, face_tracks, iou_tracks, syncnet_crops

__all__ = [
    "ARCFACE_TEMPLATE",
    "ClipSampling",
    "FeatureStats",
    "LSEResult",
    "align_for_recon",
    "audio_to_int16",
    "box_iou",
    "clip_starts",
    "crop_frames",
    "crop_geometry",
    "decode_s3fd",
    "decode_scrfd",
    "face_tracks",
    "frechet_distance",
    "iou_tracks",
    "lse_from_distances",
    "mfcc",
    "nms",
    "norm_crop",
    "offset_distances",
    "pos_fit",
    "s3fd_priors",
    "scrfd_input",
    "similarity_transform",
    "sync_embeddings",
    "syncnet_crops",
    "syncnet_lse",
    "syncnet_lse_stream",
    "warp_affine",
]
