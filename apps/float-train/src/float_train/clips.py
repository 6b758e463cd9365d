"""Stage 2 with ``data.window_sampling: random``: the cached clips held in memory, windows drawn at random.

The demo bundle's recipe draws each training window as: a clip uniformly among those at least one window
long, a start uniformly, and the source (reference) motion as a uniform frame of the whole clip (any frame
can be the portrait at inference; ``data.source_frame: first`` takes the clip's first frame instead), from
the generator that then draws the loss's t, noise and condition dropout. The cached tensors of the demo
corpus are a few MB, so they are read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors import safe_open

from float_data import PreparedDataset

__all__ = ["ClipTensors", "load_clips"]


@dataclass
class ClipTensors:
    """Per clip: ``motion`` [T, d] latents, ``audio`` [T, A] raw audio features, ``emotion`` [7]."""

    motion: list[torch.Tensor]
    audio: list[torch.Tensor]
    emotion: list[torch.Tensor]

    def draw_windows(
        self,
        count: int,
        size: int,
        generator: torch.Generator,
        source_frame: Literal["any", "first"] = "any",
    ) -> dict[str, torch.Tensor]:
        """``count`` random windows of ``size`` frames: ``motion`` [B, size, d], ``audio`` [B, size, A],
        ``emotion`` [B, 7] and ``source`` [B, d]: a uniform frame of the window's whole clip
        (``source_frame`` 'any') or the clip's first frame ('first'; one draw fewer per window).

        Raises:
            ValueError: no clip has ``size`` frames.
        """
        usable = [i for i, m in enumerate(self.motion) if m.shape[0] >= size]
        if not usable:
            raise ValueError(f"no clip has the {size} frames one training window needs")
        device = generator.device
        motion, audio, emotion, source = [], [], [], []
        for _ in range(count):
            i = usable[int(torch.randint(len(usable), (1,), generator=generator, device=device))]
            n = self.motion[i].shape[0]
            start = int(torch.randint(n - size + 1, (1,), generator=generator, device=device))
            motion.append(self.motion[i][start : start + size])
            audio.append(self.audio[i][start : start + size])
            emotion.append(self.emotion[i])
            if source_frame == "first":
                source.append(self.motion[i][0])
            else:
                source.append(self.motion[i][int(torch.randint(n, (1,), generator=generator, device=device))])
        return {
            "motion": torch.stack(motion),
            "audio": torch.stack(audio),
            "emotion": torch.stack(emotion),
            "source": torch.stack(source),
        }


def load_clips(prepared: PreparedDataset, cache_dir: Path, split: str, labels: bool = False) -> ClipTensors:
    """The cached tensors (``float_data.build_motion_cache``) of every video of ``split`` (video id order);
    ``labels``: the emotion is each video's manifest label instead of the cached prediction."""
    clips = ClipTensors([], [], [])
    for entry in prepared.videos_in(split):
        with safe_open(str(cache_dir / f"{entry.video_id}.safetensors"), framework="pt") as handle:
            clips.motion.append(handle.get_tensor("motion"))
            clips.audio.append(handle.get_tensor("audio"))
            if labels:
                assert entry.emotion is not None, "FMTTrainer checks every video has a label"
                clips.emotion.append(torch.tensor(entry.emotion, dtype=torch.float32))
            else:
                clips.emotion.append(handle.get_tensor("emotion"))
    return clips
