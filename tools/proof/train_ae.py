"""Stage 1 of the demo recipe: the motion auto-encoder, with a restart guard against the copy-source plateau.

A small LIA-style auto-encoder can sit for a seed-dependent number of steps on "render the source frame
unchanged" (zero flow, the mask passing the source features through). The guard measures, at
``guard.at_step``, the validation PSNR gain of the reconstruction over that copy; below ``min_gain_db`` it
re-initialises the model and optimizer with seed + 1 and starts again (at most ``max_restarts`` times).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from float_motion_ae import MotionAutoEncoder, default_renderer
from float_motion_ae.training import augment_pair, coefficient_scale, mouth_band_mask, rescale_latents
from proof.data import VideoFrames, concat_splits, load_split, to_model
from proof.measure import psnr
from proof.recipe import AERecipe, OptimSection
from proof.stop import GracefulStop


def lr_at(step: int, total: int, optim: OptimSection) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr * decay_to`` at the last step."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    progress = (step - optim.warmup_steps) / max(1, total - optim.warmup_steps)
    return optim.lr * (optim.decay_to + (1 - optim.decay_to) * 0.5 * (1 + math.cos(math.pi * progress)))


def sample_pairs(
    data: VideoFrames, count: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices ``[count]`` of (source, driving) frames, both from the same random video."""
    videos = torch.randint(len(data), (count,), generator=generator)
    sources, drivings = [], []
    for v in videos.tolist():
        first, n = data.ranges[v]
        pick = torch.randint(n, (2,), generator=generator)
        sources.append(first + int(pick[0]))
        drivings.append(first + int(pick[1]))
    return torch.tensor(sources), torch.tensor(drivings)


def validation_pairs(data: VideoFrames, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed pairs as in inference: the source is frame 0 of a video, the driving frame a seeded other one."""
    generator = torch.Generator().manual_seed(1234)
    sources, drivings = [], []
    for i in range(count):
        first, n = data.ranges[i % len(data)]
        sources.append(first)
        drivings.append(first + int(torch.randint(1, n, (1,), generator=generator)))
    return torch.tensor(sources), torch.tensor(drivings)


@torch.no_grad()
def evaluate(model: MotionAutoEncoder, data: VideoFrames, pairs: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Mean PSNR (dB, images in [0, 1]) of the reconstruction and of copying the source, over the pairs."""
    model.eval()
    device = next(model.parameters()).device
    recon, copy = [], []
    for start in range(0, len(pairs[0]), 32):
        src = to_model(data.frames[pairs[0][start : start + 32]]).to(device)
        drv = to_model(data.frames[pairs[1][start : start + 32]]).to(device)
        out = model.reconstruct(src, drv).clamp(-1, 1)
        recon.append(psnr(out, drv).cpu())
        copy.append(psnr(src, drv).cpu())
    model.train()
    r, c = torch.cat(recon).mean().item(), torch.cat(copy).mean().item()
    return {"psnr": r, "copy_psnr": c, "gain_db": r - c}


def _device(recipe: AERecipe) -> torch.device:
    wanted = recipe.train.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but torch sees no CUDA device: use 'cpu' or 'auto'")
    return torch.device(wanted)


def _build(
    recipe: AERecipe, seed: int, device: torch.device
) -> tuple[MotionAutoEncoder, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = MotionAutoEncoder(**recipe.model.model_dump())
    # One dense conv per layer: much faster for training on CPU.
    model.set_renderer(default_renderer(batch="activations"))
    if recipe.init_from is not None:
        # A second phase (e.g. a lower learning rate) continues from an earlier run's weights.
        folder = recipe.init_from
        folder = folder / "motion_ae" if (folder / "motion_ae").is_dir() else folder
        model.copy_weights_from(MotionAutoEncoder.from_pretrained(str(folder)), f"init_from {folder}")
    elif recipe.zero_flow_init:
        model.zero_flow_heads()  # identity warp at step 0 instead of a random one to undo first
    if recipe.trainable == "decoder":
        model.freeze_motion()  # motion latents stay those of init_from
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.Adam(trainable, lr=recipe.optim.lr, betas=recipe.optim.betas)
    return model, optim


def train_ae(recipe: AERecipe, run_dir: Path, log: Callable[[str], None] = print) -> dict:
    """Train stage 1; writes ``run_dir/motion_ae`` (save_pretrained), ``metrics.jsonl``, ``summary.json``."""
    torch.set_num_threads(recipe.train.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    device = _device(recipe)
    roots = [recipe.data.root, *recipe.data.extra_roots]
    train = concat_splits([load_split(root, recipe.data.train_split) for root in roots])
    val = load_split(recipe.data.val_root, recipe.data.val_split)
    if train.frames.shape[1] != recipe.model.size:
        raise ValueError(
            f"{recipe.data.root} holds {train.frames.shape[1]} px crops but model.size is "
            f"{recipe.model.size}: "
            f"prepare it with `float-data prepare ... --crop-size {recipe.model.size}`"
        )
    val_pairs = validation_pairs(val, recipe.val_pairs)
    weight = (1.0 + recipe.loss.mouth_l1 * mouth_band_mask(recipe.model.size)).to(device)
    frames = train.frames.to(device)  # uint8: 26k frames of 64 px are 320 MB
    metrics = (run_dir / "metrics.jsonl").open("w")
    seed, restarts, step = recipe.train.seed, [], 0
    model, optim = _build(recipe, seed, device)
    generator = torch.Generator().manual_seed(seed)
    # bf16 autocast: oneDNN's bf16 convs on CPUs with AVX-512 BF16 / AMX (or CUDA); master weights stay fp32.
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=recipe.train.mixed_precision == "bf16"
    )
    bar = tqdm(total=recipe.train.steps, desc="stage 1 (auto-encoder)", unit="step")
    last = {}
    stop = GracefulStop()
    while step < recipe.train.steps and not stop.requested:
        for group in optim.param_groups:
            group["lr"] = lr_at(step, recipe.train.steps, recipe.optim)
        src_idx, drv_idx = sample_pairs(train, recipe.train.batch_size, generator)
        src, drv = to_model(frames[src_idx.to(device)]), to_model(frames[drv_idx.to(device)])
        if recipe.augment is not None:
            src, drv = augment_pair(src, drv, recipe.augment, generator)
        with autocast:
            out = model.reconstruct(src, drv)
        loss = recipe.loss.l1 * ((out.float() - drv).abs() * weight).mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.optim.grad_clip)
        optim.step()
        step += 1
        bar.update(1)
        if step % recipe.train.log_every == 0:
            record = {"step": step, "seed": seed, "loss": loss.item(), "seconds": time.time() - started}
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        guard = recipe.guard
        at_guard = guard is not None and step == guard.at_step
        final = step == recipe.train.steps or stop.requested
        if step % recipe.train.val_every == 0 or at_guard or final:
            last = evaluate(model, val, val_pairs) | {
                "step": step,
                "seed": seed,
                "seconds": time.time() - started,
            }
            metrics.write(json.dumps(last) + "\n")
            metrics.flush()
            log(
                f"step {step} seed {seed}: val PSNR {last['psnr']:.2f} dB (copy {last['copy_psnr']:.2f}, "
                f"gain {last['gain_db']:+.2f})"
            )
            if (
                at_guard
                and guard is not None
                and last["gain_db"] < guard.min_gain_db
                and len(restarts) < guard.max_restarts
            ):
                restarts.append({"seed": seed, "step": step, "gain_db": last["gain_db"]})
                seed += 1
                log(
                    f"guard: gain {last['gain_db']:.2f} dB < {guard.min_gain_db} dB at step {step}: "
                    f"restart with seed {seed}"
                )
                model, optim = _build(recipe, seed, device)
                generator = torch.Generator().manual_seed(seed)
                step = 0
                bar.reset()
    bar.close()
    metrics.close()
    stop.restore()
    model.cpu().eval()
    model.set_renderer(default_renderer())
    factor = 1.0
    if recipe.coeff_std is not None:
        sample = to_model(train.frames[:: max(1, len(train.frames) // 2048)])
        factor = recipe.coeff_std / coefficient_scale(model, sample)
        rescale_latents(model, factor)
        log(f"latents rescaled by {factor:.3f} (motion coefficient std -> {recipe.coeff_std})")
    model.save_pretrained(run_dir / "motion_ae")
    summary = {
        "final": last,
        "restarts": restarts,
        "seed": seed,
        "latent_scale": factor,
        "stopped_early_at": step if stop.requested else None,
        "wall_seconds": time.time() - started,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
