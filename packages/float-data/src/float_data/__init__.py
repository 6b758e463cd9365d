"""float-data: raw talking-head videos -> 25 fps / 16 kHz face-cropped datasets for both FLOAT stages.

Public API (shapes in each docstring): decoding (:func:`iter_video_frames`, :func:`read_video`,
:func:`read_audio`, :func:`align_audio`, :func:`probe_video`), faces (:class:`FaceDetector` and three
detectors, :func:`detect_faces`, :func:`stable_face_box`, :func:`crop_box_from_face`, :func:`crop_face`,
:func:`paste_back`, :func:`crop_track`, :func:`follow_face`, :func:`interpolate_boxes`), landmarks
(:func:`mouth_aperture`, :func:`component_boxes`), preparation (:class:`PrepareConfig`,
:func:`prepare_dataset`, :class:`PreparedDataset`; across machines :class:`ShardSpec`, :func:`shard_of`,
:func:`merge_shards`), emotion labels (:data:`EMOTIONS`, :func:`parse_ravdess_name`,
:func:`read_labels_file`) and training views (:class:`AutoEncoderPairs`, :class:`AutoEncoderPairStream`,
:func:`build_motion_cache`, :class:`MotionWindows`, :class:`MotionWindowStream`); the prepared tables'
``datasets`` schemas (:data:`FRAMES_FEATURES`, :data:`VIDEOS_FEATURES`) for writing one by other means.

The dataset names (preparation, merging, prepared datasets, training views) need the ``datasets`` extra
(``pip install 'float-data[datasets]'``: Hugging Face datasets, pyarrow, dlib's landmark model). They are
imported on first use, so decoding and cropping one portrait never load that stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from float_data.config import PrepareConfig
from float_data.crop import CropBox, crop_box_from_face, crop_face, paste_back, to_model_tensor
from float_data.detectors import (
    DlibDetector,
    FaceAlignmentDetector,
    FaceDetection,
    FaceDetector,
    detect_faces,
    make_detector,
)
from float_data.errors import FailureReason, VideoError
from float_data.labels import EMOTIONS, RavdessName, parse_ravdess_name, read_labels_file
from float_data.landmarks import component_boxes, mouth_aperture
from float_data.manifest import Failure, ManifestEntry, read_failures, read_manifest
from float_data.shards import ShardSpec, shard_of
from float_data.stable_box import stable_face_box
from float_data.track import crop_track, follow_face, interpolate_boxes, smooth_boxes
from float_data.video import (
    AudioTrack,
    VideoInfo,
    align_audio,
    iter_video_frames,
    probe_video,
    read_audio,
    read_video,
    resample_indices,
)

if TYPE_CHECKING:  # the lazy names below, for type checkers and IDEs
    from float_data.merge import MergeReport, merge_shards
    from float_data.motion import MotionWindows, MotionWindowStream, build_motion_cache
    from float_data.pairs import AutoEncoderPairs, AutoEncoderPairStream, PairSampling
    from float_data.prepare import PrepareReport, prepare_dataset, scan_videos
    from float_data.prepared import PreparedDataset, decode_image
    from float_data.schema import FRAMES_FEATURES, VIDEOS_FEATURES

# Names whose modules import the dataset stack (datasets, pyarrow): loaded by ``__getattr__`` on first use.
_DATASET_NAMES = {
    "MergeReport": "float_data.merge",
    "merge_shards": "float_data.merge",
    "MotionWindows": "float_data.motion",
    "MotionWindowStream": "float_data.motion",
    "build_motion_cache": "float_data.motion",
    "AutoEncoderPairs": "float_data.pairs",
    "AutoEncoderPairStream": "float_data.pairs",
    "PairSampling": "float_data.pairs",
    "PrepareReport": "float_data.prepare",
    "prepare_dataset": "float_data.prepare",
    "scan_videos": "float_data.prepare",
    "PreparedDataset": "float_data.prepared",
    "decode_image": "float_data.prepared",
    "FRAMES_FEATURES": "float_data.schema",
    "VIDEOS_FEATURES": "float_data.schema",
}
_DATASET_STACK = {"datasets", "pyarrow"}


def __getattr__(name: str) -> Any:
    module = _DATASET_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'float_data' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _DATASET_STACK:
            raise
        raise ModuleNotFoundError(
            f"float_data.{name} builds or reads datasets and needs the 'datasets' extra: "
            f"`pip install 'float-data[datasets]'` ({error.name} is missing)",
            name=error.name,
        ) from error
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_DATASET_NAMES))


__all__ = [
    "EMOTIONS",
    "FRAMES_FEATURES",
    "VIDEOS_FEATURES",
    "AudioTrack",
    "AutoEncoderPairStream",
    "AutoEncoderPairs",
    "CropBox",
    "DlibDetector",
    "FaceAlignmentDetector",
    "FaceDetection",
    "FaceDetector",
    "Failure",
    "FailureReason",
    "ManifestEntry",
    "MergeReport",
    "MotionWindowStream",
    "MotionWindows",
    "PairSampling",
    "PrepareConfig",
    "PrepareReport",
    "PreparedDataset",
    "RavdessName",
    "ShardSpec",
    "VideoError",
    "VideoInfo",
    "align_audio",
    "build_motion_cache",
    "component_boxes",
    "crop_box_from_face",
    "crop_face",
    "crop_track",
    "decode_image",
    "detect_faces",
    "follow_face",
    "interpolate_boxes",
    "iter_video_frames",
    "make_detector",
    "merge_shards",
    "mouth_aperture",
    "parse_ravdess_name",
    "paste_back",
    "prepare_dataset",
    "probe_video",
    "read_audio",
    "read_failures",
    "read_labels_file",
    "read_manifest",
    "read_video",
    "resample_indices",
    "scan_videos",
    "shard_of",
    "smooth_boxes",
    "stable_face_box",
    "to_model_tensor",
]
