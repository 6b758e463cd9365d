"""Decoding: the 25 fps timestamp rule (constant and variable frame rate), containers, 16 kHz mono audio."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from float_data import FailureReason, VideoError, align_audio, probe_video, read_audio, read_video
from float_data.video import AudioTrack, resample_indices


def test_resample_rule_constant_rates() -> None:
    # 25 fps source: identity; 30 fps for 4 s: 100 frames, frame k shows source floor((k + 0.5) * 30 / 25)
    assert resample_indices(np.arange(50) / 25, 2.0).tolist() == list(range(50))
    times = np.arange(120) / 30
    out = resample_indices(times, 4.0)
    assert out.shape == (100,)
    assert out.tolist() == [int(np.floor((k + 0.5) * 30 / 25)) for k in range(100)]
    # 10 fps for 1 s: each source frame repeated 2 or 3 times, 25 frames in all
    slow = resample_indices(np.arange(10) / 10, 1.0)
    assert slow.shape == (25,) and np.bincount(slow).tolist() == [2, 3] * 5


def test_resample_rule_variable_rate_and_offset() -> None:
    # 1 s at 10 fps, then 1 s at 50 fps, starting at t = 3.0 s (a non-zero start time)
    times = 3.0 + np.concatenate([np.arange(10) / 10, 1 + np.arange(50) / 50])
    out = resample_indices(times, 5.0)
    assert out.shape == (50,)
    assert out[:25].max() == 9  # the first second only ever shows the slow frames
    assert out[25:].min() >= 10
    assert out[30] == 10 + 11  # on screen at 1.22 s: fast frame 11 (shown from 1.22 s on)
    with pytest.raises(ValueError, match="strictly increasing"):
        resample_indices(np.array([0.0, 0.0]), 1.0)


@pytest.mark.parametrize(
    ("ext", "fps"), [(".mp4", 30), (".mkv", 24), (".webm", 30), (".avi", 15), (".mov", 50)]
)
def test_containers_decode_to_25_fps(
    make_clip, ffprobe_video_seconds, tmp_path: Path, ext: str, fps: int
) -> None:
    clip = make_clip(tmp_path / f"clip{ext}", seconds=1.2, fps=fps, size=64)
    frames = read_video(clip)
    duration = ffprobe_video_seconds(clip)
    assert abs(frames.shape[0] - duration * 25) <= 1, (frames.shape, duration)
    assert frames.shape[1:] == (64, 64, 3) and frames.dtype == np.uint8
    info = probe_video(clip)
    assert info.has_audio and abs(info.source_fps - fps) < 0.01
    audio = read_audio(clip)
    # reference: the ffmpeg command line decoding the same track to 16 kHz mono; the two may differ by the
    # codec priming samples (one AAC frame = 1024 samples) that ffmpeg trims through the container's edit list
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(clip), "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    reference = len(decoded) // 4
    assert abs(audio.samples.shape[0] - reference) <= 1024, (audio.samples.shape, reference)
    assert abs(audio.samples.shape[0] / 16000 - 1.2) <= 0.1
    assert np.abs(audio.samples).max() > 0.05  # real speech, not silence


def test_variable_frame_rate_video(make_clip, run_ffmpeg, tmp_path: Path, face_png: Path) -> None:
    """1 s of the face at 10 fps, then 1 s of the upside-down face at 30 fps, kept as VFR timestamps."""
    upside = tmp_path / "upside.png"
    run_ffmpeg("-i", str(face_png), "-vf", "vflip", str(upside))
    a = make_clip(tmp_path / "a.mp4", seconds=1, fps=10, size=64, audio=None)
    b = make_clip(tmp_path / "b.mp4", seconds=1, fps=30, size=64, audio=None, image=upside)
    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg(
        "-i",
        str(a),
        "-i",
        str(b),
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1[v]",
        "-map",
        "[v]",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(vfr),
    )
    frames = read_video(vfr).astype(np.float32)
    assert abs(frames.shape[0] - 50) <= 1
    ref_a = frames[5]
    ref_b = frames[-5]
    assert np.abs(ref_a - ref_b).mean() > 20  # the two halves really differ
    first = [np.abs(f - ref_a).mean() < np.abs(f - ref_b).mean() for f in frames]
    # the switch happens at 1.0 s = output frame 25 (+-1), not where frame counting would put it (10 or 40)
    switch = first.index(False)
    assert abs(switch - 25) <= 1 and not any(first[switch:])


def test_rotated_phone_video_is_turned_upright(make_clip, run_ffmpeg, tmp_path: Path) -> None:
    plain = make_clip(tmp_path / "plain.mp4", seconds=0.4, fps=25, size=64, audio=None)
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    reference = tmp_path / "reference.png"
    run_ffmpeg("-i", str(rotated), "-frames:v", "1", str(reference))  # ffmpeg applies the rotation itself
    frame = read_video(rotated)[0].astype(np.float32)
    upright = np.asarray(Image.open(reference).convert("RGB"), dtype=np.float32)
    assert np.abs(frame - upright).mean() < 2.0
    assert np.abs(read_video(plain)[0].astype(np.float32) - upright).mean() > 20  # the rotation mattered


def test_carphone_real_talking_face(carphone_mp4: Path) -> None:
    info = probe_video(carphone_mp4)
    assert (info.width, info.height) == (176, 144) and abs(info.source_fps - 29.97) < 0.01
    frames = read_video(carphone_mp4)
    assert abs(frames.shape[0] - info.duration_s * 25) <= 1


def test_audio_exact_samples_and_resampling(
    run_ffmpeg, speech_wav: Path, espeak_wav: Path, tmp_path: Path
) -> None:
    with wave.open(str(speech_wav)) as handle:
        reference = np.frombuffer(handle.readframes(handle.getnframes()), np.int16).astype(np.float32) / 32768
    # 16 kHz PCM in mkv: bit-exact samples
    mkv = tmp_path / "pcm.mkv"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=32x32:d=1",
        "-i",
        str(speech_wav),
        "-c:a",
        "pcm_s16le",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(mkv),
    )
    audio = read_audio(mkv)
    assert audio.samples.shape == reference.shape
    np.testing.assert_allclose(audio.samples, reference, atol=1e-4)
    # espeak-ng's 22.05 kHz made stereo at 44.1 kHz: mono 16 kHz with the same duration (+-1 ms)
    stereo = tmp_path / "stereo.mov"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=32x32:d=1",
        "-i",
        str(espeak_wav),
        "-ac",
        "2",
        "-ar",
        "44100",
        "-c:a",
        "pcm_s16le",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(stereo),
    )
    with wave.open(str(espeak_wav)) as handle:
        seconds = handle.getnframes() / handle.getframerate()
    audio = read_audio(stereo)
    assert audio.samples.ndim == 1 and abs(audio.samples.shape[0] - seconds * 16000) <= 16


def test_align_audio_cuts_to_frames() -> None:
    track = AudioTrack(samples=np.arange(1, 2001, dtype=np.float32), sample_rate=16000, start_s=0.01)
    aligned = align_audio(track, video_start_s=0.0, n_frames=4)
    assert aligned.shape == (2560,)
    assert (aligned[:160] == 0).all() and aligned[
        160
    ] == 1  # audio starting 10 ms late is preceded by silence
    assert (aligned[2160:] == 0).all()  # and zero-padded at the end
    early = align_audio(track, video_start_s=0.02, n_frames=1)
    assert early.shape == (640,) and early[0] == 161  # audio before the video is dropped


def test_bad_inputs_have_named_reasons(
    run_ffmpeg, make_zero_frame_video, tmp_path: Path, speech_wav: Path, make_clip, carphone_mp4: Path
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    good = make_clip(tmp_path / "good.mp4", seconds=1, size=64)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    audio_only = tmp_path / "audio_only.mp4"
    run_ffmpeg("-i", str(speech_wav), "-c:a", "aac", str(audio_only))
    zero = make_zero_frame_video(tmp_path / "zero.avi")
    cases = [
        (garbage, read_video, FailureReason.UNREADABLE),
        (truncated, read_video, FailureReason.UNREADABLE),
        (tmp_path / "missing.mp4", read_video, FailureReason.UNREADABLE),
        (audio_only, read_video, FailureReason.NO_VIDEO_STREAM),
        (zero, read_video, FailureReason.ZERO_FRAMES),
        (carphone_mp4, read_audio, FailureReason.NO_AUDIO),
    ]
    for path, reader, reason in cases:
        with pytest.raises(VideoError) as caught:
            reader(path)
        assert caught.value.reason == reason, (path.name, caught.value)
        assert path.name in str(caught.value)
