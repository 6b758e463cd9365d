"""The run's metric log (``RUN_DIR/metrics.jsonl``) and image metrics used by validation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from float_train.checkpoint import write_text_atomic

__all__ = ["MetricsLog", "psnr"]


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of ``[B, 3, H, W]`` images in [-1, 1] (peak-to-peak 2); prediction is clamped."""
    mse = (prediction.clamp(-1, 1).float() - target.float()).square().flatten(1).mean(1)
    return 10.0 * torch.log10(4.0 / mse.clamp_min(1e-12))


class MetricsLog:
    """Append-only JSON lines, one record per logged step or event, flushed at once (main process only).

    Every record has ``attempt`` (plateau-guard restarts) and ``step``. When a run resumes from the
    checkpoint of (attempt, step), records written after it by the killed process are dropped first, so
    the file always reads like one uninterrupted run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def truncate_after(self, attempt: int, step: int) -> None:
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if (record.get("attempt", 0), record.get("step", 0)) <= (attempt, step):
                kept.append(line)
        write_text_atomic(self.path, "".join(f"{line}\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(clean) + "\n")
            handle.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
