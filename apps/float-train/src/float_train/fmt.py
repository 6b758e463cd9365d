"""Stage 2: train the flow-matching transformer (and the audio projection) on cached motion latents.

Once per run, the frozen auto-encoder encodes every frame of the training and validation clips to motion
latents, the audio encoder turns each clip's speech into raw 25 fps features, and the emotion predictor
gives one 7-d vector per clip; ``float_data.build_motion_cache`` stores them under
``RUN_DIR/cache/<fingerprint>`` (the fingerprint covers the auto-encoder weights, the audio encoder and the
emotion source, so changing any of them builds a new cache). With ``emotion: {source: labels}`` the
clip emotion is the dataset's own label (the manifest's, from RAVDESS file names or a labels file) instead of
a prediction, and the cache holds no emotion. A separate validation dataset
(``data.val_root``) is cached under ``RUN_DIR/cache/<fingerprint>-val``, as its video ids may repeat the
training ones. Training then reads 10 + 50 frame windows (``float_data.MotionWindows`` on a grid, or drawn at
random from the clips held in memory with ``data.window_sampling: random``, :mod:`float_train.clips`) and
minimises L_OT + lambda L_vel with condition dropout, as the paper.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors import safe_open
from torch.utils.data import Dataset

from float_audio import AudioProjection, file_sha256
from float_data import MotionWindows, PreparedDataset, build_motion_cache, decode_image, to_model_tensor
from float_flow import FlowMatchingTransformer, SamplerConfig, generate
from float_motion_ae import MotionAutoEncoder
from float_pipeline import VideoWriter, build_audio_encoder
from float_train.clips import ClipTensors, load_clips
from float_train.config import ConfigError, EmotionLabels, FMTStageConfig
from float_train.ema import ParameterEMA
from float_train.loop import Trainer, derive_seed
from float_train.models import FlowTrainModule, load_motion_ae, save_pretrained_atomic
from float_train.stream import ExampleStream, window_examples

__all__ = ["FMTTrainer", "cache_fingerprint"]

AE_COPY = "motion_ae"
"""Folder in RUN_DIR holding the frozen auto-encoder this run was trained against (export reads it)."""


def cache_fingerprint(
    ae_weights: Path, audio_fingerprint: str, emotion: dict[str, Any], batch_size: int = 16
) -> str:
    """16 hex digits identifying what the cached tensors were computed with (``batch_size``: frames per
    encoder call, which can change the float rounding; the default 16 keeps the fingerprints of caches
    written before it was a setting)."""
    what: dict[str, Any] = {"ae": file_sha256(ae_weights), "audio": audio_fingerprint, "emotion": emotion}
    if batch_size != 16:
        what["batch_size"] = batch_size
    payload = json.dumps(what, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _check_labels(prepared: PreparedDataset, split: str) -> None:
    """``emotion: {source: labels}`` needs a label on every video of ``split`` (checked before caching)."""
    missing = [e.video_id for e in prepared.videos_in(split) if e.emotion is None]
    if missing:
        raise ConfigError(
            f"emotion: {{source: labels}}: {len(missing)} videos of split {split!r} of {prepared.root} have "
            f"no emotion label (e.g. {missing[0]}); prepare with `float-data prepare --labels ravdess` or "
            "--labels-file, or use an emotion predictor"
        )


def _check_crop_size(prepared: PreparedDataset, field: str, size: int) -> None:
    """Refuse an empty dataset, or one whose crops are not the auto-encoder's resolution (``size`` px)."""
    if not prepared.entries:  # checked first: no crops is not a crop-size mismatch
        raise ConfigError(
            f"{field}: {prepared.root} holds no prepared videos (its manifest is empty): run `float-data "
            "prepare` on a folder of talking-face videos, or point the field at its output"
        )
    sizes = {e.crop_size for e in prepared.entries}
    if sizes != {size}:
        raise ConfigError(
            f"{field}: {prepared.root} holds {sorted(sizes)} px crops but the auto-encoder renders "
            f"{size} px; prepare the data with --crop-size {size}"
        )


class FMTTrainer(Trainer):
    """``float-train fmt``: see the module docstring."""

    stage = "fmt"
    config: FMTStageConfig

    # ------------------------------------------------------------------------------------ data
    def prepare_data(self) -> None:
        cfg, acc = self.config, self.accelerator
        self.prepared = PreparedDataset(cfg.data.root)
        if cfg.model.dim_pose > 0:
            raise ConfigError(
                "model.dim_pose: float-train has no head-pose estimator to cache poses from; set it to 0"
            )
        copy = self.run_dir / AE_COPY
        if self.is_main and not (copy / "model.safetensors").is_file():
            ae, origin = load_motion_ae(cfg.motion_ae)
            save_pretrained_atomic(ae, copy)
            (self.run_dir / "motion_ae_source.txt").write_text(origin + "\n")
        acc.wait_for_everyone()
        ae = MotionAutoEncoder.from_pretrained(str(copy))
        if cfg.model.dim_motion != ae.config.latent_dim:
            raise ConfigError(
                f"model.dim_motion: the transformer's motion width is {cfg.model.dim_motion} but the "
                f"auto-encoder ({cfg.motion_ae}) has latent_dim {ae.config.latent_dim}; set "
                f"model.dim_motion: {ae.config.latent_dim}"
            )
        _check_crop_size(self.prepared, "data.root", ae.config.size)
        self.motion_ae = ae.to(self.device).eval().requires_grad_(False)
        self.audio_encoder = build_audio_encoder(cfg.audio).to(self.device)
        self.audio_encoder.eval()
        # with the dataset's labels the cache holds no emotion: windows read the manifest's label
        self.labels = isinstance(cfg.emotion, EmotionLabels)
        emotion = None if isinstance(cfg.emotion, EmotionLabels) else cfg.emotion.build()
        fingerprint = cache_fingerprint(
            copy / "model.safetensors",
            self.audio_encoder.fingerprint(),
            cfg.emotion.model_dump(mode="json"),
            cfg.cache_batch_size,
        )
        self.cache_dir = self.run_dir / "cache" / fingerprint
        # Validation reads data.val_root when given (its own cache: video ids may repeat across datasets).
        self.val_prepared = self.prepared
        self.val_cache_dir = self.cache_dir
        if cfg.data.val_root is not None:
            self.val_prepared = PreparedDataset(cfg.data.val_root)
            self.val_cache_dir = self.run_dir / "cache" / f"{fingerprint}-val"
            _check_crop_size(self.val_prepared, "data.val_root", ae.config.size)
        jobs = [(self.prepared, self.cache_dir, cfg.data.train_split)]
        if cfg.train.val_every:
            if not self.val_prepared.videos_in(cfg.data.val_split):
                raise ConfigError(
                    f"data.val_split: split {cfg.data.val_split!r} of {self.val_prepared.root} has no "
                    "videos; prepare with a non-zero --val-fraction, pick another split or data.val_root, "
                    "or set train.val_every: 0"
                )
            jobs.append((self.val_prepared, self.val_cache_dir, cfg.data.val_split))
        if self.labels:
            for prepared, _, split in jobs:
                _check_labels(prepared, split)
        if self.is_main:
            device = self.device

            def encode_motion(crops: torch.Tensor) -> torch.Tensor:
                return self.motion_ae.encode_motion(crops.to(device))

            def encode_audio(wav: torch.Tensor, frames: int) -> torch.Tensor:
                return self.audio_encoder.encode(wav[None].to(device), frames)[0]

            def predict_emotion(wav: torch.Tensor) -> torch.Tensor:
                assert emotion is not None
                return emotion.predict(wav)[0]

            for prepared, cache_dir, split in dict.fromkeys(jobs):
                build_motion_cache(
                    prepared,
                    cache_dir,
                    encode_motion,
                    encode_audio,
                    None if emotion is None else predict_emotion,
                    split=split,
                    batch_size=cfg.cache_batch_size,
                    progress=self.show_progress,
                )
        acc.wait_for_everyone()
        P, L = cfg.model.num_prev_frames, cfg.model.num_frames
        stride = cfg.data.window_stride
        source: Literal["labels", "predicted"] = "labels" if self.labels else "predicted"
        self.windows = MotionWindows(
            self.prepared, self.cache_dir, cfg.data.train_split, P, L, stride, emotion=source
        )
        if len(self.windows) == 0:
            raise ConfigError(
                f"no training windows: every clip of split {cfg.data.train_split!r} is shorter than "
                f"model.num_prev_frames + model.num_frames = {P + L} frames"
            )
        if cfg.data.streaming:
            self.stream = self._window_stream()
        self.clips: ClipTensors | None = None
        if cfg.data.window_sampling == "random":
            self.clips = load_clips(self.prepared, self.cache_dir, cfg.data.train_split, self.labels)
        self.val_windows: MotionWindows | None = None
        if cfg.train.val_every:
            self.val_windows = MotionWindows(
                self.val_prepared, self.val_cache_dir, cfg.data.val_split, P, L, stride, emotion=source
            )
        self.audio_dim = self.audio_encoder.feature_dim

    def _window_stream(self) -> ExampleStream:
        """data.streaming: the grid windows of the training clips, streamed from their cache files."""
        import datasets

        cfg, acc = self.config, self.accelerator
        size = cfg.model.num_prev_frames + cfg.model.num_frames
        stride = cfg.data.window_stride or cfg.model.num_frames  # MotionWindows' grid
        shards = [
            {
                "video_id": e.video_id,
                "path": str(self.cache_dir / f"{e.video_id}.safetensors"),
                "label": e.emotion if self.labels else None,
            }
            for e in self.prepared.videos_in(cfg.data.train_split)
        ]
        kwargs = {"shards": shards, "size": size, "stride": stride, "storage_options": {}}

        def epoch(number: int) -> datasets.IterableDataset:
            # the windows are the same every epoch; the shuffle, seeded per epoch, orders them differently
            return datasets.IterableDataset.from_generator(window_examples, gen_kwargs=kwargs)

        seed = cfg.train.seed if cfg.data.stream_seed is None else cfg.data.stream_seed
        return ExampleStream(epoch, cfg.data.shuffle_buffer, seed, acc.process_index, acc.num_processes)

    def train_dataset(self) -> Dataset:
        return self.windows

    def batches(self, start: int) -> Iterable[dict[str, Any]]:
        if self.stream is not None:
            return self.stream_batches(start, lambda window: window)
        if self.clips is None:
            return super().batches(start)
        return self._random_windows(start)

    def _random_windows(self, start: int) -> Iterator[dict[str, Any]]:
        """window_sampling 'random': each step's windows drawn from the generator its loss then uses."""
        clips, cfg = self.clips, self.config
        assert clips is not None
        size = cfg.model.num_prev_frames + cfg.model.num_frames
        accum = self.config.train.grad_accum_steps  # micro-batches per step
        for _ in range(start * accum, cfg.train.steps * accum):
            yield clips.draw_windows(
                cfg.train.batch_size, size, self.generators["loss"], cfg.data.source_frame
            )

    # ------------------------------------------------------------------------------------ models
    def build(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.train.seed + self.attempt)
        flow = FlowMatchingTransformer(**cfg.model.model_dump())
        projection = AudioProjection(in_dim=self.audio_dim, out_dim=cfg.model.dim_audio)
        module = FlowTrainModule(flow, projection)
        self.modules = {"flow": flow, "audio_projection": projection}
        self.train_module = module
        trainable = [p for p in module.parameters() if p.requires_grad]
        self.optimizers = {"main": self.make_optimizer(trainable, cfg.optim)}
        self.schedulers = {
            "main": self.make_scheduler(
                self.optimizers["main"], cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.decay_to
            )
        }
        self.ema = ParameterEMA(module, cfg.train.ema_decay) if cfg.train.ema_decay else None
        rank = self.accelerator.process_index
        if cfg.data.window_sampling == "random" and rank == 0:
            seed = cfg.train.seed + self.attempt  # the demo recipe's stream: windows, then their loss draws
        else:
            seed = derive_seed(cfg.train.seed, self.attempt, rank, 1)
        self.generators = {"loss": torch.Generator(device=self.device).manual_seed(seed)}

    def _inner(self) -> FlowTrainModule:
        assert self.train_module is not None
        return self.accelerator.unwrap_model(self.train_module)  # type: ignore[return-value]

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        assert self.train_module is not None
        motion = batch["motion"].to(self.device, non_blocking=True)
        audio = batch["audio"].to(self.device, non_blocking=True)
        emotion = batch["emotion"].to(self.device, non_blocking=True)
        source = batch["source"].to(self.device, non_blocking=True) if "source" in batch else None
        terms = self.train_module(
            motion, audio, emotion, self.config.loss, self.generators["loss"], source=source
        )
        norm = self.finish_step(terms.total, "main")
        values = torch.stack([terms.total.detach(), terms.ot.detach(), terms.vel.detach()]).float()
        values = self.accelerator.reduce(values, reduction="mean")
        logs = dict(zip(("loss", "ot", "vel"), values.tolist(), strict=True))
        if norm is not None:
            logs["grad_norm"] = norm
        return logs

    # ------------------------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        module = self._inner()
        was_training = module.training
        module.eval()
        record: dict[str, Any] = {}
        data = self.val_windows
        if data is not None and len(data) > 0:
            count = min(self.config.val_windows, len(data))
            indices = np.linspace(0, len(data) - 1, count).round().astype(int).tolist()
            # the same noise and times whatever train.seed: seeds are scored alike (train.seed 0's draw)
            generator = torch.Generator(device=self.device).manual_seed(derive_seed(0, 7))
            totals = torch.zeros(3, dtype=torch.float64)
            size = self.config.train.batch_size
            for start in range(0, count, size):
                items = [data[i] for i in indices[start : start + size]]
                terms = module(
                    torch.stack([it["motion"] for it in items]).to(self.device),
                    torch.stack([it["audio"] for it in items]).to(self.device),
                    torch.stack([it["emotion"] for it in items]).to(self.device),
                    self.config.loss,
                    generator,
                )
                weight = len(items)
                totals += torch.tensor([float(terms.total), float(terms.ot), float(terms.vel)]) * weight
            totals /= count
            record.update(
                {
                    "val_windows": count,
                    "val_loss": float(totals[0]),
                    "val_ot": float(totals[1]),
                    "val_vel": float(totals[2]),
                }
            )
        else:
            record["val_windows"] = 0
        if self.config.sample.frames > 0:
            record["sample"] = str(self._sample_clip(module))
        module.train(was_training)
        return record

    def _sample_clip(self, module: FlowTrainModule) -> Path:
        """Sample a short clip for the first validation video (its first frame as the portrait) -> mp4.

        Validation runs only with ``train.val_every`` > 0, and ``prepare_data`` then has cached a non-empty
        validation split."""
        cfg = self.config
        prepared, cache_dir = self.val_prepared, self.val_cache_dir
        entry = prepared.videos_in(cfg.data.val_split)[0]
        with safe_open(str(cache_dir / f"{entry.video_id}.safetensors"), framework="pt") as handle:
            audio_raw = handle.get_tensor("audio")
            if self.labels:  # checked in prepare_data: every video has one
                emotion = torch.tensor(entry.emotion, dtype=torch.float32)
            else:
                emotion = handle.get_tensor("emotion")
        frames = min(cfg.sample.frames, int(audio_raw.shape[0]))
        root = prepared.root / "data"
        table = pq.read_table(root / "frames" / entry.split / f"{entry.video_id}.parquet", columns=["image"])
        portrait = to_model_tensor(decode_image(table.column("image")[0].as_py())[None]).to(self.device)
        ae = self.motion_ae
        encoded = ae.encode(portrait)
        source = ae.motion(encoded.coeffs)
        audio = module.projection(audio_raw[:frames][None].to(self.device))
        motion = generate(
            module.flow,
            source,
            audio,
            emotion[None].to(self.device),
            seed=cfg.sample.seed,
            sampler=SamplerConfig(nfe=cfg.sample.nfe, method=cfg.sample.method),
            audio_scale=cfg.sample.audio_scale,
            emotion_scale=cfg.sample.emotion_scale,
        )[0]

        def images() -> Any:
            for start in range(0, frames, 16):
                chunk = ae.decode(encoded.identity, motion[start : start + 16], encoded.features)
                pixels = ((chunk.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
                yield from pixels.permute(0, 2, 3, 1).cpu().numpy()

        video_row = pq.read_table(root / "videos" / entry.split / f"{entry.video_id}.parquet").to_pylist()[0]
        wav = np.asarray(video_row["audio"], dtype=np.float32)
        out = self.run_dir / "samples" / f"step-{self.step:07d}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        speech = wav[: frames * 640]  # the sampled frames' speech: 640 samples at 16 kHz per 25 fps frame
        with VideoWriter(out, speech, size=(ae.config.size, ae.config.size)) as writer:
            for image in images():
                writer.write(image)
        return out
