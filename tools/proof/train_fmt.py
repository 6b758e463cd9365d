"""Stage 2 of the demo recipe: the flow-matching transformer and the audio projection over log-mel features.

The frozen stage-1 encoder turns every training frame into a motion latent once; the weight-free log-mel
encoder turns every clip's audio into ``[T, n_mels]`` features once. Training then draws random windows
(``L'`` context + ``L`` current frames) of those tensors and trains ``AudioProjection`` and the transformer
jointly with FLOAT's loss (L1 on the velocity and on its frame differences, condition dropout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from float_audio import AudioProjection, LogMelFrameEncoder
from float_emotion import NEUTRAL_INDEX, NUM_EMOTIONS
from float_flow import FlowMatchingTransformer, WindowConditions, flow_matching_loss
from float_motion_ae import MotionAutoEncoder
from proof.data import VideoFrames, load_split, to_model
from proof.recipe import FMTRecipe
from proof.stop import GracefulStop
from proof.train_ae import lr_at


@dataclass
class ClipTensors:
    """Per clip: ``motion`` [T, d] latents of the frozen encoder, ``audio`` [T, n_mels] raw log-mel."""

    motion: list[torch.Tensor]
    audio: list[torch.Tensor]


@torch.no_grad()
def encode_clips(data: VideoFrames, motion_ae: MotionAutoEncoder, encoder: LogMelFrameEncoder) -> ClipTensors:
    """Motion latents and raw audio features of every clip (progress bar on stderr)."""
    motions, audios = [], []
    for (first, n), wav in tqdm(
        list(zip(data.ranges, data.audio, strict=True)), desc="encoding clips", unit="clip"
    ):
        frames = data.frames[first : first + n]
        motions.append(
            torch.cat([motion_ae.encode_motion(to_model(frames[s : s + 64])) for s in range(0, n, 64)])
        )
        audios.append(encoder.encode(wav[None], n)[0])
    return ClipTensors(motions, audios)


def neutral(batch: int) -> torch.Tensor:
    """``[B, 7]`` one-hot neutral emotion (the demo corpus is read in a neutral voice)."""
    emotion = torch.zeros(batch, NUM_EMOTIONS)
    emotion[:, NEUTRAL_INDEX] = 1.0
    return emotion


def sample_windows(
    clips: ClipTensors, batch: int, context: int, length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random windows: motion ``[B, P + L, d]``, raw audio ``[B, P + L, n_mels]``, source motion ``[B, d]``
    (a random frame of the same clip, as any portrait can be the source at inference)."""
    size = context + length
    usable = [i for i, m in enumerate(clips.motion) if m.shape[0] >= size]
    if not usable:
        raise ValueError(f"no clip has the {size} frames one training window needs")
    motion, audio, source = [], [], []
    for _ in range(batch):
        i = usable[int(torch.randint(len(usable), (1,), generator=generator))]
        n = clips.motion[i].shape[0]
        start = int(torch.randint(n - size + 1, (1,), generator=generator))
        motion.append(clips.motion[i][start : start + size])
        audio.append(clips.audio[i][start : start + size])
        source.append(clips.motion[i][int(torch.randint(n, (1,), generator=generator))])
    return torch.stack(motion), torch.stack(audio), torch.stack(source)


def window_loss(
    flow: FlowMatchingTransformer,
    projection: AudioProjection,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    recipe: FMTRecipe,
    generator: torch.Generator,
) -> torch.Tensor:
    """FLOAT's flow-matching loss of one batch of windows (the projection is trained through it)."""
    motion, raw_audio, source = batch
    context = flow.config.num_prev_frames
    audio = projection(raw_audio)
    cond = WindowConditions(
        source=source,
        audio=audio[:, context:],
        emotion=neutral(motion.shape[0]),
        prev_motion=motion[:, :context],
        prev_audio=audio[:, :context],
    )
    return flow_matching_loss(flow, motion[:, context:], cond, config=recipe.loss, generator=generator).total


def train_fmt(
    recipe: FMTRecipe, motion_ae_dir: Path, run_dir: Path, log: Callable[[str], None] = print
) -> dict:
    """Train stage 2; writes ``run_dir/flow``, ``run_dir/audio_projection``, ``metrics.jsonl``,
    ``summary.json`` and ``fmt_recipe.json`` (what the export needs: audio spec and sampling defaults)."""
    torch.set_num_threads(recipe.train.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    ae_dir = motion_ae_dir / "motion_ae" if (motion_ae_dir / "motion_ae").is_dir() else motion_ae_dir
    motion_ae = MotionAutoEncoder.from_pretrained(str(ae_dir)).eval().requires_grad_(False)
    if recipe.model.dim_motion != motion_ae.config.latent_dim:
        raise ValueError(
            f"model.dim_motion ({recipe.model.dim_motion}) must equal the auto-encoder's latent_dim "
            f"({motion_ae.config.latent_dim}) in {ae_dir}"
        )
    encoder = LogMelFrameEncoder(recipe.audio.settings)
    train = encode_clips(load_split(recipe.data.root, recipe.data.train_split), motion_ae, encoder)
    val = encode_clips(load_split(recipe.data.val_root, recipe.data.val_split), motion_ae, encoder)
    all_motion = torch.cat(train.motion)
    log(
        f"motion latents: {all_motion.shape[0]} frames, mean |x| {all_motion.abs().mean():.4f}, "
        f"per-dim std (mean) {all_motion.std(0).mean():.4f}"
    )
    torch.manual_seed(recipe.train.seed)
    flow = FlowMatchingTransformer(**recipe.model.model_dump())
    projection = AudioProjection(encoder.feature_dim, recipe.model.dim_audio)
    params = list(flow.parameters()) + list(projection.parameters())
    optim = torch.optim.Adam(params, lr=recipe.optim.lr, betas=recipe.optim.betas)
    context, length = recipe.model.num_prev_frames, recipe.model.num_frames
    generator = torch.Generator().manual_seed(recipe.train.seed)
    val_generator = torch.Generator().manual_seed(4321)
    val_batch = sample_windows(val, recipe.val_windows, context, length, val_generator)
    metrics = (run_dir / "metrics.jsonl").open("w")
    last: dict = {}
    stop = GracefulStop()
    for step in tqdm(range(1, recipe.train.steps + 1), desc="stage 2 (flow transformer)", unit="step"):
        for group in optim.param_groups:
            group["lr"] = lr_at(step - 1, recipe.train.steps, recipe.optim)
        loss = window_loss(
            flow,
            projection,
            sample_windows(train, recipe.train.batch_size, context, length, generator),
            recipe,
            generator,
        )
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, recipe.optim.grad_clip)
        optim.step()
        if step % recipe.train.log_every == 0:
            metrics.write(
                json.dumps({"step": step, "loss": loss.item(), "seconds": time.time() - started}) + "\n"
            )
            metrics.flush()
        if step % recipe.train.val_every == 0 or step == recipe.train.steps or stop.requested:
            with torch.no_grad():
                flow.eval()
                val_loss = window_loss(
                    flow, projection, val_batch, recipe, torch.Generator().manual_seed(0)
                ).item()
                flow.train()
            last = {"step": step, "val_loss": val_loss, "seconds": time.time() - started}
            metrics.write(json.dumps(last) + "\n")
            metrics.flush()
            log(f"step {step}: train loss {loss.item():.4f}, val loss {val_loss:.4f}")
        if stop.requested:
            break
    metrics.close()
    stop.restore()
    flow.eval()
    projection.eval()
    flow.save_pretrained(run_dir / "flow")
    projection.save_pretrained(run_dir / "audio_projection")
    (run_dir / "fmt_recipe.json").write_text(recipe.model_dump_json(indent=2) + "\n")
    summary = {"final": last, "wall_seconds": time.time() - started}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
