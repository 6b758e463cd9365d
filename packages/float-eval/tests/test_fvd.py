"""FVD clip sampling, the TorchScript detector call, streaming statistics and the minimum-clips refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from float_eval import ClipSampling, WeightsError
from float_eval.metrics import FVD
from float_eval.nets import FVD_WEIGHTS, load_i3d
from float_eval.ops import clip_starts


class _TinyI3D(torch.nn.Module):
    """Stand-in with the I3D TorchScript's call (uint8 [B, 3, T, H, W], rescale, resize, return_features)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3 * 16, 6)

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ):
        v = x.float()
        if rescale:
            v = v / 127.5 - 1
        feats = self.proj(v.mean(dim=(3, 4)).flatten(1))
        return feats if return_features else feats.softmax(-1)


@pytest.fixture(scope="module")
def scripted_i3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / FVD_WEIGHTS
    torch.jit.script(_TinyI3D()).save(str(path))
    return path


def test_clip_starts_follow_settings() -> None:
    assert clip_starts(50, ClipSampling()) == [0, 16, 32]
    assert clip_starts(50, ClipSampling(clip_hop=8)) == [0, 8, 16, 24, 32]
    assert clip_starts(50, ClipSampling(frame_stride=2)) == [0]  # span 31
    assert clip_starts(50, ClipSampling(clip_hop=4, max_clips_per_video=2)) == [0, 4]
    assert clip_starts(15, ClipSampling()) == []


def test_fvd_clips_and_scripted_detector(scripted_i3d: Path) -> None:
    metric = FVD(
        detector=load_i3d(scripted_i3d), sampling=ClipSampling(min_clips=2), device="cpu", feature_dim=6
    )
    video = torch.arange(40)[:, None, None, None].expand(40, 3, 4, 4).to(torch.uint8)
    clips = metric.clips(video)
    assert clips.shape == (2, 3, 16, 4, 4)
    assert clips[1, 0, :, 0, 0].tolist() == list(range(16, 32))
    assert metric.features(video).shape == (2, 6)
    with pytest.raises(ValueError, match="fewer than one 16-frame clip"):
        metric.features(video[:15])
    with pytest.raises(ValueError, match="uint8"):
        metric.features(video.float())


def test_fvd_streaming_identity_and_refusal(scripted_i3d: Path) -> None:
    torch.manual_seed(1)
    net = load_i3d(scripted_i3d)
    metric = FVD(detector=net, sampling=ClipSampling(clip_hop=4, min_clips=20), device="cpu", feature_dim=6)
    videos = [torch.randint(0, 256, (48, 3, 8, 8), dtype=torch.uint8) for _ in range(3)]
    for v in videos[:2]:
        metric.update(v, real=True)
        metric.update(v, real=False)
    assert metric.real.count == 18  # 9 clips per 48-frame video with hop 4
    with pytest.raises(ValueError, match=r"at least 20 clips per side, got 18 reference clips"):
        metric.compute()
    metric.update(videos[2], real=True)
    metric.update(videos[2], real=False)
    assert metric.compute() == pytest.approx(0.0, abs=1e-6)
    # Streaming equals one batch, and the covariance is the biased one (StyleGAN-V).
    feats = torch.cat([metric.features(v) for v in videos]).double().numpy()
    mean, cov = metric.real.mean_cov()
    np.testing.assert_allclose(mean, feats.mean(0), rtol=1e-10)
    np.testing.assert_allclose(cov, np.cov(feats, rowvar=False, bias=True), rtol=1e-8, atol=1e-10)
    metric.update(torch.flip(videos[0], dims=[2]) // 2, real=False)
    assert metric.compute() > 1e-3
    settings = metric.settings()
    assert settings["clip_length"] == 16 and settings["clips_generated"] == 36 and settings["min_clips"] == 20


def test_fvd_needs_its_weights(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"i3d_torchscript\.pt.*dropbox"):
        FVD(weights_dir=tmp_path)
