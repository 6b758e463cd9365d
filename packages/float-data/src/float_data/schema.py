"""The two tables of a prepared dataset, as Hugging Face ``datasets`` features (stored as Parquet shards).

``frames``: one row per 25 fps frame: ``image`` (the crop, PNG/JPEG, ``crop_size`` square), ``crop_box``
(cx, cy, half) and ``face_box`` (x0, y0, x1, y1) in source pixels for paste-back, ``landmarks`` (136 floats =
68 x (x, y) in crop pixels, empty without a landmark model), ``mouth_aperture`` (None without landmarks).
``videos``: one row per video with its 16 kHz mono ``audio`` cut to the frames (float32, 640 samples/frame)
and its dataset ``emotion`` label (7 probabilities in :data:`float_data.labels.EMOTIONS` order, None when the
dataset gives none).
"""

from __future__ import annotations

from datasets import Features, Image, List, Value

FRAMES_FEATURES = Features(
    {
        "video_id": Value("string"),
        "frame_index": Value("int32"),
        "image": Image(),
        "crop_box": List(Value("float32"), length=3),
        "face_box": List(Value("float32"), length=4),
        "landmarks": List(Value("float32")),
        "mouth_aperture": Value("float32"),
    }
)

VIDEOS_FEATURES = Features(
    {
        "video_id": Value("string"),
        "speaker_id": Value("string"),
        "split": Value("string"),
        "n_frames": Value("int32"),
        "fps": Value("float32"),
        "sample_rate": Value("int32"),
        "audio": List(Value("float32")),
        "emotion": List(Value("float32"), length=7),
    }
)

TABLES = ("frames", "videos")
