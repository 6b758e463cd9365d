"""Stage 1: train the motion auto-encoder to rebuild a driving frame from a source frame of the same video.

Loss (float-motion-ae): L1 + LPIPS + L_comp-lp on eye/mouth crops (+ optional non-saturating adversarial
term with a StyleGAN2 discriminator and lazy R1). Validation scores held-out pairs: PSNR of the
reconstruction, PSNR of just copying the source frame (the trivial solution a small model can sit on), and
LPIPS when the VGG weights are available. The optional plateau guard restarts a run stuck on that copy.

Pairs come from ``float_data.AutoEncoderPairs`` in a step-indexed order (every frame drives once per epoch),
or with ``data.pair_sampling: video`` are drawn per video from the run's generator (:mod:`float_train.frames`,
the demo bundle's recipe).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from float_data import AutoEncoderPairs, PairSampling, PreparedDataset
from float_motion_ae import MotionAutoEncoder, default_renderer
from float_motion_ae.training import (
    Discriminator,
    MotionAELoss,
    PerceptualLoss,
    augment_pair,
    component_boxes_from_landmarks,
    discriminator_loss,
    r1_penalty,
)
from float_train.config import AEStageConfig, ConfigError, GuardConfig
from float_train.ema import ParameterEMA
from float_train.frames import VideoFrames, load_frames
from float_train.loop import Trainer, TrainResult, derive_seed
from float_train.metrics import psnr
from float_train.models import load_motion_ae, write_final_motion_ae
from float_train.stream import ExampleStream, decode_pair, pair_examples

__all__ = ["AETrainer", "PooledPairs"]


# The validation pairs' draw, the same whatever train.seed, so that seeds are scored on the same pairs (and
# the guard's min_gain_db means the same for each). 1 is what train.seed 0 drew before it was fixed.
VALIDATION_SEED = 1


class PooledPairs(ConcatDataset):
    """Several prepared datasets' stage-1 pairs as one dataset (torch's concatenation) whose ``set_epoch``
    reaches every part, so the source-frame draws follow the epoch as they do for one dataset."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)  # type: ignore[attr-defined]


def _nonempty_or_error(prepared: PreparedDataset) -> None:
    # Checked first: an empty dataset has no crop size, which the size check would report as a mismatch.
    if not prepared.entries:
        raise ConfigError(
            f"{prepared.root} holds no prepared videos (its manifest is empty): run `float-data prepare` on "
            "a folder of talking-face videos, or check that data.root points at its output"
        )


def _split_or_error(prepared: PreparedDataset, split: str, field: str) -> None:
    if not prepared.videos_in(split):
        raise ConfigError(
            f"{field}: split {split!r} of {prepared.root} has no videos; prepare the dataset with a "
            f"non-zero --val-fraction, pick another split, or set train.val_every: 0"
        )


class AETrainer(Trainer):
    """``float-train ae``: see the module docstring."""

    stage = "ae"
    # dec.to_rgb1 and the noise weights exist only to map the official checkpoint; they get no gradient.
    find_unused_parameters = True
    config: AEStageConfig

    def _open(self, root: Path) -> PreparedDataset:
        prepared = PreparedDataset(root)
        _nonempty_or_error(prepared)
        sizes = {e.crop_size for e in prepared.entries}
        size = self.config.model.size
        if sizes != {size}:
            raise ConfigError(
                f"model.size: the auto-encoder renders {size} px but {root} holds {sorted(sizes)} px "
                f"crops; set model.size to the crop size or prepare with --crop-size {size}"
            )
        return prepared

    def prepare_data(self) -> None:
        cfg = self.config
        self.prepared = self._open(cfg.data.root)
        sampling = PairSampling(cfg.data.min_gap, cfg.data.max_gap)
        by_video = cfg.data.pair_sampling == "video"
        sets = []
        for k, root in enumerate([cfg.data.root, *cfg.data.extra_roots]):
            prepared = self.prepared if k == 0 else self._open(root)
            _split_or_error(prepared, cfg.data.train_split, "data.train_split")
            sets.append(prepared)
        self.pairs: Dataset | None = None
        self.videos: VideoFrames | None = None
        if by_video:
            self.videos = self._load_frames(sets, cfg.data.train_split, "data.train_split")
        elif cfg.data.streaming:
            self.stream = self._pair_stream(sets)
        else:
            # root keeps seed (runs without extra_roots draw as before); each extra set its own stream
            parts = [
                AutoEncoderPairs(
                    prepared,
                    cfg.data.train_split,
                    sampling,
                    seed=cfg.train.seed if k == 0 else derive_seed(cfg.train.seed, k, 3),
                )
                for k, prepared in enumerate(sets)
            ]
            self.pairs = parts[0] if len(parts) == 1 else PooledPairs(parts)
        self.val_pairs_data: AutoEncoderPairs | None = None
        self.val_videos: VideoFrames | None = None
        if cfg.train.val_every or cfg.guard is not None:
            val_set = self.prepared if cfg.data.val_root is None else self._open(cfg.data.val_root)
            _split_or_error(val_set, cfg.data.val_split, "data.val_split")
            split = cfg.data.val_split
            if by_video:
                self.val_videos = self._load_frames([val_set], split, "data.val_split")
            else:
                self.val_pairs_data = AutoEncoderPairs(val_set, split, sampling, seed=VALIDATION_SEED)
        self.perceptual: PerceptualLoss | None = None
        needs_lpips = cfg.loss.perceptual > 0 or cfg.loss.component > 0
        try:
            self.perceptual = PerceptualLoss(cfg.lpips_vgg)
        except FileNotFoundError as error:
            if needs_lpips:
                raise ConfigError(
                    f"loss.perceptual / loss.component > 0 need LPIPS: {error} (set lpips_vgg: PATH, or "
                    "loss.perceptual: 0 and loss.component: 0 to train with L1 only)"
                ) from None
        if self.perceptual is not None:
            self.perceptual.to(self.device)
        if self.guard_state is None:
            self.guard_state = {"restarts": 0, "history": []}

    guard_state: dict[str, Any] | None = None

    def _load_frames(self, sets: list[PreparedDataset], split: str, field: str) -> VideoFrames:
        try:
            return load_frames(sets, split, progress=self.show_progress and self.is_main)
        except ValueError as error:
            raise ConfigError(f"{field}: {error}; pair_sampling 'video' needs two frames per video") from None

    def _pair_stream(self, sets: list[PreparedDataset]) -> ExampleStream:
        """data.streaming: the pairs of every training shard (root's from data.shards_url when given)."""
        import datasets

        cfg, data, acc = self.config, self.config.data, self.accelerator
        split = data.train_split
        paths: list[str] = []
        for k, prepared in enumerate(sets):
            base = data.shards_url.rstrip("/") if k == 0 and data.shards_url else str(prepared.root)
            paths += [f"{base}/data/frames/{split}/{e.video_id}.parquet" for e in prepared.videos_in(split)]
        options = dict(data.storage_options)

        def epoch(number: int) -> datasets.IterableDataset:
            kwargs = {"paths": paths, "seed": cfg.train.seed, "epoch": number, "min_gap": data.min_gap}
            kwargs |= {"max_gap": data.max_gap, "storage_options": options}
            return datasets.IterableDataset.from_generator(pair_examples, gen_kwargs=kwargs)

        seed = cfg.train.seed if data.stream_seed is None else data.stream_seed
        return ExampleStream(epoch, data.shuffle_buffer, seed, acc.process_index, acc.num_processes)

    def train_dataset(self) -> Dataset:
        assert self.pairs is not None, "pair_sampling 'video' and streaming draw their batches in batches()"
        return self.pairs

    def batches(self, start: int) -> Iterable[dict[str, Any]]:
        if self.stream is not None:
            return self.stream_batches(start, decode_pair)
        if self.videos is None:
            return super().batches(start)
        return self._video_batches(start)

    def _video_batches(self, start: int) -> Iterator[dict[str, Any]]:
        """pair_sampling 'video': each step's pairs drawn from the generator its augmentation then uses."""
        videos, size = self.videos, self.config.train.batch_size
        assert videos is not None
        accum = self.config.train.grad_accum_steps  # micro-batches per step
        for _ in range(start * accum, self.config.train.steps * accum):
            sources, drivings = videos.draw_pairs(size, self.generators[self._augment_stream])
            yield {
                "source": videos.images(sources),
                "driving": videos.images(drivings),
                "driving_landmarks": torch.zeros(size, 0, 2),  # no landmarks: fixed component boxes
            }

    @property
    def _augment_stream(self) -> str:
        return "pairs" if self.config.data.pair_sampling == "video" else "augment"

    def build(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.train.seed + self.attempt)  # the guard restarts with seed + 1, + 2, ...
        model = MotionAutoEncoder(**cfg.model.model_dump())
        if cfg.init_from is not None:
            start, origin = load_motion_ae(cfg.init_from)
            try:
                model.copy_weights_from(start, origin)
            except ValueError as error:
                raise ConfigError(f"init_from: {error} (set model to it)") from None
        elif cfg.zero_flow_init:
            model.zero_flow_heads()
        if cfg.trainable == "decoder":
            model.freeze_motion()  # the motion latents stay those of init_from
        model.set_renderer(default_renderer(batch=cfg.batch_strategy))
        self.modules = {"model": model}
        self.train_module = model
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizers = {"main": self.make_optimizer(trainable, cfg.optim)}
        # CPU draws (the same on any device), one stream per process and attempt, checkpointed with the run
        rank = self.accelerator.process_index
        if cfg.data.pair_sampling == "video" and rank == 0:
            seed = cfg.train.seed + self.attempt  # the demo recipe's stream: pairs, then their augmentation
        else:
            seed = derive_seed(cfg.train.seed, self.attempt, rank, 2)
        self.generators = {self._augment_stream: torch.Generator().manual_seed(seed)}
        self.schedulers = {
            "main": self.make_scheduler(
                self.optimizers["main"], cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.decay_to
            )
        }
        self.loss_fn = MotionAELoss(cfg.loss, self.perceptual if self._lpips_used() else None)
        self.discriminator: nn.Module | None = None
        if cfg.loss.adversarial > 0:
            adv = cfg.adversarial
            disc = Discriminator(
                size=cfg.model.size,
                channel_base=adv.channel_base or cfg.model.channel_base,
                channel_max=adv.channel_max or cfg.model.channel_max,
            )
            self.modules["discriminator"] = disc
            self.discriminator = disc
            self.optimizers["disc"] = torch.optim.Adam(disc.parameters(), lr=adv.lr, betas=tuple(adv.betas))
            self.schedulers["disc"] = self.make_scheduler(self.optimizers["disc"], 0)
        self.ema = ParameterEMA(model, cfg.train.ema_decay) if cfg.train.ema_decay else None
        self.disc_steps = 0

    def run(self) -> TrainResult:
        """Train (see :class:`Trainer`); with ``coeff_std`` also write the rescaled final model to
        ``RUN_DIR/motion_ae`` (stage 2 reads it from there)."""
        result = super().run()
        if self.config.coeff_std is not None and self.is_main:
            sample = self._scale_sample()
            factor = write_final_motion_ae(self.run_dir, self.config.coeff_std, sample)
            print(
                f"latents rescaled by {factor:.4g} (mean motion coefficient std -> {self.config.coeff_std})"
            )
        self.accelerator.wait_for_everyone()
        return result

    def _scale_sample(self, count: int = 512) -> torch.Tensor:
        """Driving frames ``[N, 3, S, S]`` spread over the training pairs, where the scale is measured
        (pair_sampling 'video': about 2048 frames spread over the training frames, as the demo recipe)."""
        if self.videos is not None:
            return self.videos.spread(2048)
        if self.stream is not None:  # the first pairs of the main process's first epoch
            first = itertools.islice(iter(self.stream.epoch(0)), count)
            return torch.stack([decode_pair(e)["driving"] for e in first])
        data = self.pairs
        assert data is not None
        indices = np.linspace(0, len(data) - 1, min(count, len(data))).round().astype(int)  # type: ignore[arg-type]
        return torch.stack([data[int(i)]["driving"] for i in indices])

    def _lpips_used(self) -> bool:
        return self.config.loss.perceptual > 0 or self.config.loss.component > 0

    def _wrap(self) -> None:
        acc = self.accelerator
        self.train_module, self.optimizers["main"] = acc.prepare(self.train_module, self.optimizers["main"])
        if self.discriminator is not None:
            self.discriminator, self.optimizers["disc"] = acc.prepare(
                self.discriminator, self.optimizers["disc"]
            )
            self.modules["discriminator"] = self.discriminator
        self.modules["model"] = self.train_module

    def extra_state(self) -> dict[str, Any]:
        return {"guard": self.guard_state, "disc_steps": self.disc_steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.guard_state = state.get("guard")
        self._resumed_disc_steps = int(state.get("disc_steps", 0))

    def load_weights(self, checkpoint: Any) -> None:
        super().load_weights(checkpoint)
        self.disc_steps = getattr(self, "_resumed_disc_steps", 0)

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        acc = self.accelerator
        source = batch["source"].to(self.device, non_blocking=True)
        driving = batch["driving"].to(self.device, non_blocking=True)
        if self.config.augment is not None:
            generator = self.generators[self._augment_stream]
            source, driving = augment_pair(source, driving, self.config.augment, generator)
        boxes = None
        landmarks = batch["driving_landmarks"]
        if landmarks.ndim == 3 and landmarks.shape[1] == 68:
            boxes = component_boxes_from_landmarks(landmarks.to(self.device))
        assert self.train_module is not None
        recon = self.train_module(source, driving)
        fake_logits = self.discriminator(recon) if self.discriminator is not None else None
        terms = self.loss_fn(recon.float(), driving, boxes=boxes, fake_logits=fake_logits)
        self.finish_step(terms.total, "main")
        logs = {
            "loss": terms.total.detach(),
            "l1": terms.l1.detach(),
            "perceptual": terms.perceptual.detach(),
            "component": terms.component.detach(),
            "adversarial": terms.adversarial.detach(),
        }
        if self.discriminator is not None:
            logs.update(self._discriminator_step(driving, recon.detach()))
        values = acc.reduce(torch.stack([v.float() for v in logs.values()]), reduction="mean")
        return {k: float(v) for k, v in zip(logs, values.tolist(), strict=True)}

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.discriminator is not None
        optimizer = self.optimizers["disc"]
        optimizer.zero_grad(set_to_none=True)  # drop the grads the generator's loss left on D
        d_loss = discriminator_loss(self.discriminator(real), self.discriminator(fake))
        self.accelerator.backward(d_loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self.disc_steps += 1
        r1 = torch.zeros((), device=real.device)
        every = self.config.adversarial.r1_every
        if self.disc_steps % every == 0:
            real_r1 = real.detach().requires_grad_(True)
            r1 = r1_penalty(self.discriminator(real_r1), real_r1)
            # lazy regularisation: a k times larger penalty every k steps
            self.accelerator.backward(r1 * (self.config.loss.r1_gamma / 2) * every)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        self.schedulers["disc"].step()
        return {"disc_loss": d_loss.detach(), "r1": r1.detach()}

    # ------------------------------------------------------------------------------------ validation
    def _validation_batches(self) -> list[dict[str, Any]]:
        size = self.config.train.batch_size
        if self.val_videos is not None:
            sources, drivings = self.val_videos.validation_pairs(self.config.val_pairs)
            return [
                {
                    "source": self.val_videos.images(sources[i : i + size]),
                    "driving": self.val_videos.images(drivings[i : i + size]),
                }
                for i in range(0, len(sources), size)
            ]
        data = self.val_pairs_data
        assert data is not None
        count = min(self.config.val_pairs, len(data))
        # evenly spread over the split, same pairs at every validation
        indices = np.linspace(0, len(data) - 1, count).round().astype(int).tolist()
        data.set_epoch(0)
        items = [data[i] for i in indices]
        return [
            {
                "source": torch.stack([it["source"] for it in items[i : i + size]]),
                "driving": torch.stack([it["driving"] for it in items[i : i + size]]),
            }
            for i in range(0, len(items), size)
        ]

    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        assert self.train_module is not None
        model = self.accelerator.unwrap_model(self.train_module)
        was_training = model.training
        model.eval()
        scores: dict[str, list[torch.Tensor]] = {"psnr": [], "copy": [], "lpips": []}
        for batch in self._validation_batches():
            source, driving = batch["source"].to(self.device), batch["driving"].to(self.device)
            recon = model(source, driving).float().clamp(-1, 1)
            scores["psnr"].append(psnr(recon, driving))
            scores["copy"].append(psnr(source, driving))
            if self.perceptual is not None:
                scores["lpips"].append(self.perceptual(recon, driving)[None])
        model.train(was_training)
        record: dict[str, Any] = {
            "val_pairs": int(sum(t.numel() for t in scores["psnr"])),
            "val_psnr": float(torch.cat(scores["psnr"]).mean()),
            "val_copy_psnr": float(torch.cat(scores["copy"]).mean()),
        }
        record["val_psnr_gain"] = record["val_psnr"] - record["val_copy_psnr"]
        if scores["lpips"]:
            record["val_lpips"] = float(torch.cat(scores["lpips"]).mean())
        return record

    def wants_validation(self) -> bool:
        return self.config.guard is not None and self.step == self._guard_check_step()

    def _guard_check_step(self, deferrals: int | None = None) -> int:
        """The step of the guard's next check: ``at_step``, moved ``val_every`` later per deferral."""
        assert self.config.guard is not None
        if deferrals is None:
            deferrals = int((self.guard_state or {}).get("deferrals", 0))
        train = self.config.train
        return min(self.config.guard.at_step + deferrals * train.val_every, train.steps)

    def after_validation(self, record: dict[str, Any]) -> bool:
        guard = self.config.guard
        if guard is None or self.guard_state is None:
            return False
        state = self.guard_state
        gain = float(record["val_psnr_gain"])
        previous = state.get("previous_gain")
        state["previous_gain"] = gain  # every validation of this attempt feeds the next rise
        if self.step != self._guard_check_step():
            return False
        deferrals = int(state.get("deferrals", 0))
        action = guard_action(gain, previous, guard, state["restarts"], deferrals)
        event = {
            "attempt": self.attempt,
            "step": self.step,
            "event": "guard",
            "gain_db": gain,
            "min_gain_db": guard.min_gain_db,
            "action": action,
        }
        if previous is not None and guard.defer_if_rising_db is not None:
            event["rise_db"] = gain - previous
        state["history"].append(event)
        if self.is_main:
            self.metrics.write(event)
            if action == "restart":
                print(
                    f"plateau guard: reconstruction beats copying the source by {gain:.2f} dB < "
                    f"{guard.min_gain_db} dB at step {self.step}; restarting with seed + {self.attempt + 1}"
                )
            elif action == "defer":
                print(
                    f"plateau guard: {gain:.2f} dB < {guard.min_gain_db} dB at step {self.step} but rising "
                    f"({gain - previous:+.2f} dB since the last validation); checking again at step "
                    f"{self._guard_check_step(deferrals + 1)}"
                )
        if action == "defer":
            state["deferrals"] = deferrals + 1
        elif action == "restart":
            state["restarts"] += 1
            # the new attempt starts its own trend and its own deferrals from at_step
            state.update(previous_gain=None, deferrals=0)
        return action == "restart"


def guard_action(
    gain: float, previous_gain: float | None, guard: GuardConfig, restarts: int, deferrals: int
) -> str:
    """The plateau guard's decision at its check: ``"pass"``, ``"defer"``, ``"restart"`` or ``"gave_up"``.

    ``gain``: validation PSNR gain over copying the source now, dB; ``previous_gain``: the same at the
    attempt's previous validation (None when there was none). A run under ``min_gain_db`` whose gain rose by
    at least ``defer_if_rising_db`` since then is deferred (at most ``max_deferrals`` times), not restarted.
    """
    if gain >= guard.min_gain_db:
        return "pass"
    rising = (
        guard.defer_if_rising_db is not None
        and previous_gain is not None
        and gain - previous_gain >= guard.defer_if_rising_db
    )
    if rising and deferrals < guard.max_deferrals:
        return "defer"
    return "restart" if restarts < guard.max_restarts else "gave_up"
