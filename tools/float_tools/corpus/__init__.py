"""Offline talking-face corpus builder: real portraits + espeak-ng speech + speech-driven motion.

Run ``python -m float_tools.corpus.build --help`` (the command line lives in ``float_tools.corpus.build``,
not re-exported here so
that ``-m float_tools.corpus.build`` runs cleanly); the pieces below are importable for tests and other tools.
"""

from float_tools.corpus.augment import AugmentParams, augment_portrait
from float_tools.corpus.builder import ClipRecord, build_corpus, render_clip
from float_tools.corpus.config import (
    FPS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    AugmentConfig,
    CorpusConfig,
    FaceLayout,
)
from float_tools.corpus.mux import write_mp4
from float_tools.corpus.plan import DEFAULT_SENTENCES, SENTENCES_DIR, ClipPlan, plan_clip, read_sentences
from float_tools.corpus.portrait import (
    ASTRONAUT_LAYOUT,
    CARPHONE_LAYOUT,
    Portrait,
    carphone_path,
    crop_portrait,
    detect_layout,
    load_portrait,
)
from float_tools.corpus.render import FaceRenderer, FrameLandmarks
from float_tools.corpus.speech import check_voice, pad_to_frames, synthesize, trim_silence
from float_tools.corpus.tracks import (
    PoseTrack,
    blink_track,
    frame_band_level_db,
    mouth_opening_track,
    pose_track,
)

HELDOUT_SENTENCES = SENTENCES_DIR / "heldout_en.txt"
"""Packaged sentences disjoint from ``DEFAULT_SENTENCES``, for held-out lip-sync checks."""

__all__ = [
    "ASTRONAUT_LAYOUT",
    "CARPHONE_LAYOUT",
    "DEFAULT_SENTENCES",
    "FPS",
    "HELDOUT_SENTENCES",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "AugmentConfig",
    "AugmentParams",
    "ClipPlan",
    "ClipRecord",
    "CorpusConfig",
    "FaceLayout",
    "FaceRenderer",
    "FrameLandmarks",
    "Portrait",
    "PoseTrack",
    "augment_portrait",
    "blink_track",
    "build_corpus",
    "carphone_path",
    "check_voice",
    "crop_portrait",
    "detect_layout",
    "frame_band_level_db",
    "load_portrait",
    "mouth_opening_track",
    "pad_to_frames",
    "plan_clip",
    "pose_track",
    "read_sentences",
    "render_clip",
    "synthesize",
    "trim_silence",
    "write_mp4",
]
