"""Point 1 of #28: every metric streams fixed frame batches and gives the numbers of the whole-video path.

Memory itself is measured by ``python -m float_tools.bench.eval_memory``; these tests pin the behaviour that
bounds it: no
built-in metric decodes a whole video, every network call is bounded by a batch size, per-video work is
shared, and each streaming path equals its whole-video counterpart (bit for bit where the maths allows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import python_speech_features
import torch
from fe_standins import Detector, Sync, components, write_mp4

from float_eval import ClipSampling, Components, EvalConfig, evaluate
from float_eval.frames import FrameSource, Resampler
from float_eval.metrics import CSIM, FVD, CoefficientFID
from float_eval.ops import mfcc, syncnet_lse
from float_eval.ops.sync import syncnet_lse_stream
from float_eval.video import read_video, resample_fps


@pytest.mark.parametrize("fps", [25.0, 30.0, 24.0, 29.97, 50.0, 60.0, 12.5, 100.0, 23.976])
@pytest.mark.parametrize("frames", [1, 2, 7, 31, 100])
def test_resampler_picks_the_frames_of_resample_fps(fps: float, frames: int) -> None:
    video = torch.arange(frames).view(frames, 1)
    expected = resample_fps(video, fps, 25.0).view(-1).tolist()
    resampler = Resampler(fps, 25.0)
    got = [int(out) for frame in video for out in resampler.push(frame)]
    got += [int(out) for out in resampler.finish()]
    assert got == expected


def test_frame_source_batches_equal_the_decoded_video(folders: tuple[Path, Path, Path]) -> None:
    gen, _, _ = folders
    for path in (gen / "a.mp4", gen / "c.mp4", gen / "b"):  # 25 fps, 30 fps, frame folder
        whole = read_video(path)
        expected = resample_fps(whole.frames, whole.fps, 25.0)
        source = FrameSource(path)
        assert source.size == tuple(expected.shape[2:])
        batches = list(source.batches(7))
        assert max(b.shape[0] for b in batches) == 7
        assert torch.equal(torch.cat(batches), expected)
        assert source.num_frames == expected.shape[0] == FrameSource(path).count()


def test_mfcc_in_chunks_is_python_speech_features_to_the_last_rounding() -> None:
    rng = np.random.default_rng(0)
    for samples in (200, 400, 401, 16000 * 3 + 77, 16000 * 21 + 5):
        audio = (rng.normal(size=samples) * 4000).astype(np.int16)
        ref = python_speech_features.mfcc(audio, 16000).T
        for chunk in (1, 300, 333, 6000):  # 1 is raised to 256; 333 leaves a 2-window remainder at 21 s
            got = mfcc(audio, chunk_steps=chunk)
            if ref.shape[1] <= max(chunk, 256):  # one call, as the reference makes: the same bits
                np.testing.assert_array_equal(got, ref)
            else:
                # OpenBLAS's filterbank product rounds a row's last bit by where the row falls in the matrix
                # (kernel tails, the thread split), so chunks agree with one whole call to float64 rounding
                # (seen: 5.5e-14 on coefficients up to 40), as two whole calls on two machines do
                np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


class _ConvSync(torch.nn.Module):
    """A SyncNet-shaped stand-in whose outputs depend on every input value (convs, so batching shows)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lip = torch.nn.Sequential(torch.nn.Conv3d(3, 4, (5, 8, 8), stride=(1, 8, 8)), torch.nn.Flatten())
        self.aud = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
        self.lip_fc = torch.nn.Linear(4 * 4 * 4, 16)
        self.aud_fc = torch.nn.Linear(2 * 11 * 18, 16)

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.lip_fc(self.lip(x / 255.0))

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self.aud_fc(self.aud(x))


@pytest.mark.parametrize("frames", [12, 47, 64])
def test_syncnet_lse_stream_equals_the_whole_track(frames: int) -> None:
    torch.manual_seed(1)
    faces = torch.randint(0, 256, (frames, 3, 32, 32), dtype=torch.uint8).float()
    audio = (np.random.default_rng(1).normal(size=frames * 640) * 3000).astype(np.int16)
    model = _ConvSync().eval()
    whole = syncnet_lse(model, faces, audio, vshift=15)
    uneven = [faces[i : i + 9] for i in range(0, frames, 9)]
    assert syncnet_lse_stream(model, uneven, frames, audio, vshift=15) == whole
    assert syncnet_lse_stream(model, [faces], frames, audio, vshift=3) == syncnet_lse(model, faces, audio, 3)


def test_csim_stream_equals_whole_video() -> None:
    torch.manual_seed(2)
    frames = torch.randint(0, 256, (150, 3, 32, 32), dtype=torch.uint8)
    frames[[3, 70]] = 0  # two frames without a face
    embed = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 8, stride=8), torch.nn.Flatten()).eval()
    metric = CSIM(lambda f: embed(f / 255.0), Detector())
    whole = metric.score(frames[0], frames)
    streamed = metric.score_stream(frames[0], frames.split(13))
    assert streamed == whole and whole.frames_without_face == 2 and whole.frames_scored == 148


def test_fvd_stream_features_equal_whole_video() -> None:
    torch.manual_seed(3)
    video = torch.randint(0, 256, (70, 3, 8, 8), dtype=torch.uint8)
    net = torch.jit.script(_ScriptedI3D())
    for sampling in (
        ClipSampling(min_clips=2),
        ClipSampling(clip_hop=3, frame_stride=2, min_clips=2),
        ClipSampling(clip_hop=5, max_clips_per_video=4, min_clips=2),
    ):
        fvd = FVD(net, sampling=sampling, device="cpu", feature_dim=6)
        whole = fvd.features(video)
        streamed = torch.cat(list(fvd.stream_features(video.split(6))))
        assert torch.equal(streamed, whole)
    assert list(FVD(net, device="cpu", feature_dim=6).stream_features(video[:15].split(4))) == []


class _ScriptedI3D(torch.nn.Module):
    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ) -> torch.Tensor:
        return x.float().mean(dim=(3, 4)).flatten(1)[:, :6] / 255.0


def test_coefficients_stream_equals_whole_video() -> None:
    torch.manual_seed(4)
    frames = torch.randint(0, 256, (45, 3, 32, 32), dtype=torch.uint8)
    frames[5] = 0
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 257))
    from fe_standins import lm3d

    fid = CoefficientFID("expression", net.eval(), lm3d(), Detector(), batch_size=8)
    whole, missing = fid.coefficients(frames)
    chunks = list(fid.stream_coefficients(frames.split(11)))
    assert missing == [5] and [t for _, lost in chunks for t in lost] == [5]
    assert max(c.shape[0] for c, _ in chunks) == 8
    torch.testing.assert_close(torch.cat([c for c, _ in chunks]), whole, rtol=1e-6, atol=1e-7)


def test_run_never_decodes_a_whole_video_and_calls_networks_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 130-frame pair through all six metrics: frame batches, batch-bounded network calls, work shared."""
    from scipy.io import wavfile

    gen, ref, src = tmp_path / "gen", tmp_path / "ref", tmp_path / "src"
    for d in (gen, ref, src):
        d.mkdir()
    rng = np.random.default_rng(0)
    for folder in (gen, ref):
        frames = np.clip(
            rng.integers(60, 200, (1, 32, 32, 3)) + rng.integers(-30, 30, (130, 32, 32, 3)), 0, 255
        )
        write_mp4(folder / "long.mp4", frames.astype(np.uint8), 25)
    wavfile.write(src / "long.wav", 16000, (rng.normal(size=16000 * 6) * 3000).astype(np.int16))

    def whole_video(self: FrameSource) -> torch.Tensor:
        raise AssertionError(f"a built-in metric decoded all of {self.path}")

    monkeypatch.setattr(FrameSource, "read_all", whole_video)
    passes: dict[str, int] = {"gen": 0, "ref": 0}
    decoded = FrameSource._decoded

    def counting(self: FrameSource, rgb: bool = True):
        passes[self.path.parent.name] += 1
        return decoded(self, rgb)

    monkeypatch.setattr(FrameSource, "_decoded", counting)
    sizes: dict[str, list[int]] = {"fid": [], "i3d": [], "recon": [], "lip": [], "detect": []}
    base = components()

    class Pool(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            sizes["fid"].append(x.shape[0])
            return base["fid_network"](x)

    class I3D(torch.nn.Module):
        def forward(self, x: torch.Tensor, **kwargs: bool) -> torch.Tensor:
            sizes["i3d"].append(x.shape[0])
            return base["i3d"](x)

    class Recon(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            sizes["recon"].append(x.shape[0])
            return base["recon_net"](x)

    class LipSync(Sync):
        def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
            sizes["lip"].append(x.shape[0])
            return super().forward_lip(x)

    class CountingDetector(Detector):
        def detect(self, image: np.ndarray) -> list:
            sizes["detect"].append(1)
            return super().detect(image)

    stand_ins = {
        **base,
        "fid_network": Pool(),
        "i3d": I3D(),
        "recon_net": Recon(),
        "syncnet": LipSync(),
        "detector": CountingDetector(),
    }
    config = EvalConfig(
        generated=gen,
        reference=ref,
        sources=src,
        batch_frames=16,
        fvd=ClipSampling(min_clips=2, clip_hop=8),
        lse_min_track=5,
        lse_min_face_size=10,
        pfid_translation=True,
    )
    report = evaluate(config, Components(random_weights=True, **stand_ins), progress=False)
    assert report.pairs_scored == 1 and all(v is not None for v in report.aggregate.values())
    assert sizes["fid"] == [50, 50, 30] * 2  # pytorch-fid's batches, whatever the video's length
    assert max(sizes["i3d"]) == 4 and sum(sizes["i3d"]) == 2 * 15
    assert max(sizes["lip"]) == 20
    # E-FID and P-FID share one detection and one regressor pass per frame and side (the shared SCRFD also
    # serves CSIM: one more call for the source portrait).
    assert sum(sizes["detect"]) == 2 * 130 + 1
    assert max(sizes["recon"]) == 32 and sum(sizes["recon"]) == 2 * 130
    # One decoding pass a side shared by all metrics; then LSE's crops (generated) and CSIM's portrait, the
    # first reference frame (there is no sources/long.png).
    assert passes == {"gen": 2, "ref": 2}
