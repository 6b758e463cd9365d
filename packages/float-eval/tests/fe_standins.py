"""Stand-ins with the call signatures of float-eval's networks (no weights), shared by the tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from float_eval import Components, EvalConfig, VideoPair
from float_eval.nets import Face
from float_eval.ops import ARCFACE_TEMPLATE


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """Frames [T, H, W, 3] uint8 -> an mpeg4 file at ``fps``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


class Detector:
    name = "stand-in"

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.mean() < 10:
            return []
        h, w = image.shape[:2]
        return [
            Face(np.array([4.0, 4.0, w - 4.0, h - 4.0]), 1.0, ARCFACE_TEMPLATE * np.array([w / 112, h / 112]))
        ]


class Sync(torch.nn.Module):
    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 2].mean(dim=(1, 2, 3))[:, None] / 255.0

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 0, 8:12].mean(dim=1) > 0).float()[:, None]


class I3D(torch.nn.Module):
    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ):
        return x.float().mean(dim=(3, 4)).flatten(1)[:, :6] / 255.0


class Pool(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [
            torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x.amax(dim=(2, 3)), x.amin(dim=(2, 3))], 1)[
                ..., None, None
            ]
        ]


def lm3d() -> np.ndarray:
    # 3D landmarks whose POS fit to the 32x32 frames' keypoints gives a ~224-pixel aligned frame.
    pts = ARCFACE_TEMPLATE * (32 / 112)
    pts = (pts - pts.mean(0)) / 14.0
    return np.c_[pts[:, 0], -pts[:, 1], np.linspace(-0.1, 0.1, 5)]


def components() -> Components:
    torch.manual_seed(0)
    recon = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 257))
    return Components(
        fid_network=Pool(),
        i3d=I3D(),
        syncnet=Sync(),
        arcface=lambda f: f.mean(dim=2).flatten(1),
        detector=Detector(),
        lse_detector=Detector(),
        recon_net=recon,
        lm3d=lm3d(),
        random_weights=True,
        fid_feature_dim=12,
        fvd_feature_dim=6,
    )


class FrameCount:
    """A metric without weights: generated frames per video (so the CLI runs without any weight file)."""

    name, higher_is_better, weights = "frame_count", True, ()

    def __init__(self, config: EvalConfig) -> None:
        self.reset()

    def update(self, pair: VideoPair) -> None:
        self.counts[pair.name] = pair.num_frames("generated")

    def compute(self) -> float | None:
        return float(np.mean(list(self.counts.values()))) if self.counts else None

    def reset(self) -> None:
        self.counts: dict[str, int] = {}

    def settings(self) -> dict[str, str]:
        return {}

    def state(self) -> dict[str, dict[str, int]]:
        return {"counts": dict(self.counts)}

    def merge_state(self, state: dict[str, dict[str, int]]) -> None:
        self.counts.update(state["counts"])
