"""Stage 2 data: windows of L' + L = 60 consecutive frames of motion latents with aligned audio features,
emotion and optional head pose, read from per-video caches.

The caches are computed by callables the caller passes in (the motion auto-encoder's encoder, the audio
encoder, an emotion predictor, a pose estimator), so this package never imports them. One
``<video_id>.safetensors`` per video holds ``motion`` [T, D], ``audio`` [T, A], ``emotion`` [7] (when a
predictor was given) and optionally ``pose`` [T, P], all float32, T = the video's frame count at 25 fps.

The clip emotion of a window comes from the predictor (``emotion="predicted"``, the cached vector) or from
the dataset's own labels (``emotion="labels"``: the manifest's 7-vector, see :mod:`float_data.labels`),
so a labelled dataset (RAVDESS, or a labels file) trains without an emotion predictor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import Dataset, IterableDataset, get_worker_info
from tqdm.auto import tqdm

from float_data.crop import to_model_tensor
from float_data.prepared import PreparedDataset, decode_image

MotionEncoder = Callable[[torch.Tensor], torch.Tensor]  # [B, 3, S, S] in [-1, 1] -> [B, D]
AudioEncoder = Callable[[torch.Tensor, int], torch.Tensor]  # ([N] 16 kHz, T) -> [T, A]
EmotionPredictor = Callable[[torch.Tensor], torch.Tensor]  # [N] 16 kHz -> [7], sums to 1
PoseEstimator = Callable[[torch.Tensor], torch.Tensor]  # [B, 3, S, S] -> [B, P]
EmotionSource = Literal["predicted", "labels"]


def _check(name: str, value: torch.Tensor, shape: tuple[int | None, ...], video_id: str) -> torch.Tensor:
    if (
        not isinstance(value, torch.Tensor)
        or value.ndim != len(shape)
        or any(want is not None and got != want for got, want in zip(value.shape, shape, strict=True))
    ):
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name} for video {video_id} must have shape {shape} (None = any), got {got}")
    return value.detach().to("cpu", torch.float32).contiguous()


@torch.no_grad()
def build_motion_cache(
    prepared: PreparedDataset,
    cache_dir: str | Path,
    encode_motion: MotionEncoder,
    encode_audio: AudioEncoder,
    predict_emotion: EmotionPredictor | None,
    estimate_pose: PoseEstimator | None = None,
    split: str | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> list[Path]:
    """Write one cache file per video of ``split`` (all when None); videos already cached are skipped.

    ``encode_motion`` gets crops [B, 3, S, S] in [-1, 1] and returns [B, D]; ``encode_audio`` gets the
    video's aligned 16 kHz waveform [N] and its frame count T and returns [T, A]; ``predict_emotion`` gets the
    waveform and returns [7] (None: no predicted emotion is cached; windows then take the dataset's labels);
    ``estimate_pose`` (optional) gets crops and returns [B, P].
    A cache is valid while the source video's sha256 (stored in its metadata) is unchanged.
    ``progress`` shows a bar over the videos (stderr).
    """
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    videos = prepared.videos_in(split)
    for entry in tqdm(videos, desc=f"caching {prepared.root.name}", unit="video", disable=not progress):
        target = cache / f"{entry.video_id}.safetensors"
        if target.is_file():
            with safe_open(str(target), framework="pt") as handle:
                if (handle.metadata() or {}).get("sha256") == entry.sha256:
                    written.append(target)
                    continue
        root = prepared.root / "data"
        frames_table = pq.read_table(
            root / "frames" / entry.split / f"{entry.video_id}.parquet", columns=["image"]
        )
        images = frames_table.column("image").to_pylist()
        motions, poses = [], []
        for start in range(0, len(images), batch_size):
            batch = to_model_tensor(np.stack([decode_image(v) for v in images[start : start + batch_size]]))
            motions.append(
                _check("encode_motion output", encode_motion(batch), (batch.shape[0], None), entry.video_id)
            )
            if estimate_pose is not None:
                poses.append(
                    _check(
                        "estimate_pose output", estimate_pose(batch), (batch.shape[0], None), entry.video_id
                    )
                )
        video_row = pq.read_table(root / "videos" / entry.split / f"{entry.video_id}.parquet").to_pylist()[0]
        wav = torch.tensor(video_row["audio"], dtype=torch.float32)
        tensors = {
            "motion": torch.cat(motions),
            "audio": _check(
                "encode_audio output",
                encode_audio(wav, entry.n_frames),
                (entry.n_frames, None),
                entry.video_id,
            ),
        }
        if predict_emotion is not None:
            tensors["emotion"] = _check("predict_emotion output", predict_emotion(wav), (7,), entry.video_id)
        if poses:
            tensors["pose"] = torch.cat(poses)
        tmp = target.with_name(target.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"video_id": entry.video_id, "sha256": entry.sha256})
        tmp.replace(target)
        written.append(target)
    return written


def _load(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open is no dict)


def _labels(prepared: PreparedDataset, split: str, source: EmotionSource) -> dict[str, torch.Tensor] | None:
    """video id -> its dataset label [7] for ``source="labels"`` (every video of ``split`` needs one)."""
    if source == "predicted":
        return None
    if source != "labels":
        raise ValueError(f"emotion must be 'predicted' or 'labels', got {source!r}")
    entries = prepared.videos_in(split)
    missing = [e.video_id for e in entries if e.emotion is None]
    if missing:
        raise ValueError(
            f"{len(missing)} videos of split {split!r} have no emotion label (e.g. {missing[0]}): prepare "
            "the data with --labels ravdess or --labels-file, or use emotion='predicted'"
        )
    return {e.video_id: torch.tensor(e.emotion, dtype=torch.float32) for e in entries}


def _window(
    tensors: dict[str, torch.Tensor], video_id: str, start: int, size: int, label: torch.Tensor | None
) -> dict:
    if label is None and "emotion" not in tensors:
        raise ValueError(
            f"the cache of {video_id} has no predicted emotion (built with predict_emotion=None): "
            "use emotion='labels' or rebuild it with a predictor"
        )
    item: dict = {
        "motion": tensors["motion"][start : start + size],
        "audio": tensors["audio"][start : start + size],
        "emotion": tensors["emotion"] if label is None else label,
        "video_id": video_id,
        "start": start,
    }
    if "pose" in tensors:
        item["pose"] = tensors["pose"][start : start + size]
    return item


class MotionWindows(Dataset):
    """Random-access windows of ``context + length`` (10 + 50 = 60) consecutive frames from the caches.

    Windows start every ``stride`` frames (default ``length``) in each video of ``split``; a video shorter
    than one window gives none. Item: ``motion`` [60, D], ``audio`` [60, A], ``emotion`` [7], ``pose``
    [60, P] when cached, ``video_id``, ``start`` (frame index). ``emotion``: ``predicted`` (the cached
    predictor output) or ``labels`` (the dataset's label of each video, from the manifest; every video of
    ``split`` must have one). ``max_cached_videos`` caps the cache files held in memory.
    """

    def __init__(
        self,
        prepared: PreparedDataset,
        cache_dir: str | Path,
        split: str = "train",
        context: int = 10,
        length: int = 50,
        stride: int | None = None,
        max_cached_videos: int = 8,
        emotion: EmotionSource = "predicted",
    ) -> None:
        self.labels = _labels(prepared, split, emotion)
        self.size = context + length
        self.stride = stride or length
        self.cache_dir = Path(cache_dir)
        self.index: list[tuple[str, int]] = []
        for entry in prepared.videos_in(split):
            path = self.cache_dir / f"{entry.video_id}.safetensors"
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: run build_motion_cache(...) for split {split!r} first"
                )
            self.index += [(entry.video_id, s) for s in range(0, entry.n_frames - self.size + 1, self.stride)]
        self._memory: dict[str, dict[str, torch.Tensor]] = {}
        self.max_cached_videos = max_cached_videos

    def __len__(self) -> int:
        return len(self.index)

    def _tensors(self, video_id: str) -> dict[str, torch.Tensor]:
        if video_id not in self._memory:
            if len(self._memory) >= self.max_cached_videos:
                self._memory.pop(next(iter(self._memory)))
            self._memory[video_id] = _load(self.cache_dir / f"{video_id}.safetensors")
        return self._memory[video_id]

    def __getitem__(self, index: int) -> dict:
        video_id, start = self.index[index]
        label = None if self.labels is None else self.labels[video_id]
        return _window(self._tensors(video_id), video_id, start, self.size, label)


class MotionWindowStream(IterableDataset):
    """Streaming windows: one cached video at a time, videos and window starts shuffled by (seed, epoch).

    With ``random_offset`` each video's window grid is shifted by a random 0..stride-1 frames per epoch.
    ``emotion`` as in :class:`MotionWindows`.
    """

    def __init__(
        self,
        prepared: PreparedDataset,
        cache_dir: str | Path,
        split: str = "train",
        context: int = 10,
        length: int = 50,
        stride: int | None = None,
        seed: int = 0,
        random_offset: bool = True,
        emotion: EmotionSource = "predicted",
    ) -> None:
        self.labels = _labels(prepared, split, emotion)
        self.entries = prepared.videos_in(split)
        self.cache_dir = Path(cache_dir)
        self.size, self.stride = context + length, stride or length
        self.seed, self.epoch, self.random_offset = seed, 0, random_offset

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.entries))
        worker = get_worker_info()
        if worker is not None:
            order = order[worker.id :: worker.num_workers]
        for v in order:
            entry = self.entries[int(v)]
            last = entry.n_frames - self.size
            if last < 0:
                continue
            offset = int(rng.integers(0, min(self.stride, last + 1))) if self.random_offset else 0
            starts = np.arange(offset, last + 1, self.stride)
            tensors = _load(self.cache_dir / f"{entry.video_id}.safetensors")
            label = None if self.labels is None else self.labels[entry.video_id]
            for s in rng.permutation(starts):
                yield _window(tensors, entry.video_id, int(s), self.size, label)
