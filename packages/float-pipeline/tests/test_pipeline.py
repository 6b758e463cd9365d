"""End-to-end generation on a tiny random bundle: frame counts, audio, seeds, paste-back, streaming."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pipeline_helpers import build_tiny_bundle

from float_pipeline import GenerateOptions, OptionError, Pipeline
from float_pipeline.portrait import feather_mask, padded_square_box, prepare_portrait
from float_pipeline.testing import read_mp4, wav_frames, write_wav


@pytest.fixture(scope="module")
def speech_12s(tmp_path_factory: pytest.TempPathFactory, require_tool) -> Path:
    """About 12 s of real espeak-ng speech, resampled by sox to 16 kHz mono."""
    espeak, sox = require_tool("espeak-ng"), require_tool("sox")
    folder = tmp_path_factory.mktemp("speech")
    raw, out = folder / "raw.wav", folder / "speech_12s.wav"
    text = (
        "Flow matching turns noise into motion. The transformer samples one window after another, "
        "and every window is decoded and written to the video as soon as it is ready. "
        "Long recordings therefore need no more memory than short ones, and the first frames "
        "reach the disk early."
    )
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run([sox, str(raw), "-r", "16000", "-c", "1", str(out), "trim", "0", "12"], check=True)
    return out


def test_12_second_clip_has_one_frame_per_40ms_and_audio(
    pipeline: Pipeline, portrait_png: Path, speech_12s: Path, tmp_path: Path
) -> None:
    expected = wav_frames(speech_12s)
    assert 290 <= expected <= 300  # espeak's ~12 s, trimmed at 12 s
    result = pipeline.generate(portrait_png, speech_12s, tmp_path / "long.mp4")
    frames, has_audio, audio_seconds = read_mp4(result.path)
    assert result.num_frames == expected == frames.shape[0]
    assert frames.shape[1:] == (32, 32, 3)
    assert has_audio and audio_seconds == pytest.approx(expected / 25, abs=0.1)
    assert result.duration_s == pytest.approx(expected / 25, abs=0.04)


def test_one_frame_clip(pipeline: Pipeline, portrait_png: Path, tmp_path: Path) -> None:
    t = np.arange(int(0.03 * 16000)) / 16000  # 30 ms: a single 25 fps frame
    audio = write_wav(tmp_path / "blip.wav", 0.5 * np.sin(2 * np.pi * 440 * t))
    assert wav_frames(audio) == 1
    result = pipeline.generate(portrait_png, audio, tmp_path / "one.mp4")
    frames, has_audio, _ = read_mp4(result.path)
    assert result.num_frames == frames.shape[0] == 1
    assert has_audio


def test_same_seed_same_frames(pipeline: Pipeline, portrait_png: Path, speech_wav: Path) -> None:
    first = np.stack(list(pipeline.frames(portrait_png, speech_wav, seed=7)))
    again = np.stack(list(pipeline.frames(portrait_png, speech_wav, seed=7)))
    other = np.stack(list(pipeline.frames(portrait_png, speech_wav, seed=8)))
    assert first.shape == (wav_frames(speech_wav), 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_seed_reproduces_the_written_video(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    # Pasted back onto the 256 px portrait: libx264 is not bit-reproducible on frames of 64 px or less once
    # the process has decoded video (measured: 16 encodes of the same 32 px frames gave 14 different files,
    # 40 of 256 px gave one), so the tiny bundle's own 32 px frames cannot show the seed's effect on a file.
    a = pipeline.generate(portrait_png, speech_wav, tmp_path / "a.mp4", seed=3, paste_back=True)
    first = read_mp4(a.path)[0]  # decode between the two encodes: the order that exposed the x264 quirk
    b = pipeline.generate(portrait_png, speech_wav, tmp_path / "b.mp4", seed=3, paste_back=True)
    again = read_mp4(b.path)[0]
    assert first.shape == (wav_frames(speech_wav), 256, 256, 3)
    assert np.array_equal(first, again)


def test_paste_back_keeps_the_original_size_and_background(
    pipeline: Pipeline, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    # A wider canvas than the portrait: the face crop covers only part of it.
    canvas = np.full((256, 400, 3), 90, dtype=np.uint8)
    canvas[:, 72:328] = np.asarray(Image.open(portrait_png).convert("RGB"))
    stream = pipeline.frames(canvas, speech_wav, paste_back=True)
    frame = next(stream)
    assert frame.shape == (256, 400, 3)
    box = prepare_portrait(canvas, 32).box
    x0, _, x1, _ = box.as_xyxy()
    # outside the pasted square the original pixels are untouched
    assert np.array_equal(frame[:, : max(x0, 0)], canvas[:, : max(x0, 0)])
    assert np.array_equal(frame[:, min(x1, 400) :], canvas[:, min(x1, 400) :])
    result = pipeline.generate(canvas, speech_wav, tmp_path / "pasted.mp4", paste_back=True)
    assert (result.height, result.width) == (256, 400)
    assert read_mp4(result.path)[0].shape[1:3] == (256, 400)


def test_no_crop_pads_to_square_without_stretching() -> None:
    wide = np.zeros((32, 64, 3), dtype=np.uint8)
    wide[:, :, 0] = 200  # a red image twice as wide as tall
    portrait = prepare_portrait(wide, 32, crop=False)
    assert portrait.box == padded_square_box(32, 64)
    crop = portrait.crop
    # the image fills the middle half of the rows; black bars above and below, never a stretched image
    assert (crop[:7] == 0).all() and (crop[-7:] == 0).all()
    assert (crop[9:23, :, 0] == 200).all()


def test_feather_mask_ramps_only_inside_the_frame() -> None:
    inside = feather_mask(padded_square_box(32, 32).__class__(cx=50, cy=50, half=10), 100, 100, 0.2)
    assert inside[10, 10] == 1.0 and inside[0, 10] < 0.25 and inside[10, -1] < 0.25
    whole = feather_mask(padded_square_box(40, 40), 40, 40, 0.2)
    assert (whole == 1.0).all()


def test_frames_stream_window_by_window(pipeline: Pipeline, portrait_png: Path, speech_wav: Path) -> None:
    """The first frame is ready after sampling one window only (10 frames here), not the whole clip."""
    calls = []
    flow = pipeline.bundle.flow
    handle = flow.register_forward_hook(lambda *_: calls.append(1))
    try:
        stream = pipeline.frames(portrait_png, speech_wav, GenerateOptions(steps=2))
        assert calls == []  # inputs are checked eagerly, sampling is lazy
        next(stream)
        assert len(calls) == 2  # one window x 2 steps (guidance batched into one forward)
        rest = list(stream)
        windows = -(-wav_frames(speech_wav) // 10)
        assert len(rest) + 1 == wav_frames(speech_wav) and len(calls) == 2 * windows
    finally:
        handle.remove()


def test_bfloat16_mode_streams_the_same_clip(tiny_bundle: Path, portrait_png: Path, speech_wav: Path) -> None:
    pipe = Pipeline.from_pretrained(tiny_bundle, dtype="bfloat16", progress=False)
    assert pipe.dtype == torch.bfloat16
    frames = np.stack(list(pipe.frames(portrait_png, speech_wav, seed=1)))
    assert frames.shape == (wav_frames(speech_wav), 32, 32, 3) and frames.dtype == np.uint8


def test_cpu_pipeline_tunes_the_allocator_only_when_asked(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import float_pipeline.pipeline as pipeline_module

    calls: list[int] = []
    monkeypatch.setattr(pipeline_module, "tune_cpu_allocator", lambda: calls.append(1) or True)
    Pipeline.from_pretrained(tiny_bundle, progress=False)  # a library call leaves malloc alone
    assert calls == []
    Pipeline.from_pretrained(tiny_bundle, progress=False, tune_allocator=True)  # what the CLIs pass
    assert calls == [1]


def test_pose_condition_from_file(portrait_png: Path, speech_wav: Path, tmp_path: Path) -> None:
    pipe = Pipeline.from_pretrained(build_tiny_bundle(tmp_path / "pose", dim_pose=6), progress=False)
    pose = tmp_path / "pose.npy"
    np.save(pose, np.linspace(-0.3, 0.3, 40 * 6, dtype=np.float32).reshape(40, 6))  # shorter than the clip
    with_pose = np.stack(list(pipe.frames(portrait_png, speech_wav, pose_from=str(pose))))
    without = np.stack(list(pipe.frames(portrait_png, speech_wav, pose_from="none")))
    assert with_pose.shape == without.shape == (wav_frames(speech_wav), 32, 32, 3)
    assert not np.array_equal(with_pose, without)  # the pose reaches the transformer
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 3), dtype=np.float32))
    with pytest.raises(OptionError, match=r"\[frames, 6\]"):
        pipe.frames(portrait_png, speech_wav, pose_from=str(wrong))


def test_portrait_crop_follows_the_bundle_unless_the_options_say_otherwise(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from float_data import DlibDetector, crop_box_from_face, detect_faces, stable_face_box

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["defaults"] |= {"crop_scale": 2.0, "crop_phases": 4}
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    pipe = Pipeline.from_pretrained(bundle, progress=False)
    image = np.asarray(Image.open(portrait_png).convert("RGB"))
    detector = DlibDetector(landmarks=False)
    declared = pipe.prepare(portrait_png, speech_wav, GenerateOptions()).portrait.box
    stable = stable_face_box(detector, image, phases=4)
    assert stable is not None and declared == crop_box_from_face(stable, scale=2.0)
    official = pipe.prepare(portrait_png, speech_wav, GenerateOptions(crop_scale=1.6, crop_phases=1))
    assert official.portrait.box == crop_box_from_face(detect_faces(detector, image)[0].box, scale=1.6)
    # A bundle that says nothing keeps the official rule.
    assert Pipeline.from_pretrained(tiny_bundle, progress=False).bundle.manifest.defaults.crop_scale == 1.6


def test_parts_that_do_not_fit_are_refused_at_save_and_at_load(tiny_bundle: Path, tmp_path: Path) -> None:
    import shutil

    from float_audio import AudioProjection
    from float_pipeline import BundleError, load_bundle, save_bundle

    bundle = load_bundle(tiny_bundle)
    with pytest.raises(BundleError, match=r"flow\.dim_audio=16 != audio_projection\.out_dim=8"):
        save_bundle(
            tmp_path / "bad",
            manifest=bundle.manifest,
            motion_ae=bundle.motion_ae,
            flow=bundle.flow,
            audio_projection=AudioProjection(in_dim=16, out_dim=8),
            model_card="mismatched",
        )
    assert not (tmp_path / "bad").exists()
    edited = tmp_path / "edited"
    shutil.copytree(tiny_bundle, edited)
    manifest = (edited / "bundle.json").read_text().replace('"resolution": 32', '"resolution": 64')
    (edited / "bundle.json").write_text(manifest)
    with pytest.raises(BundleError, match=r"motion_ae renders 32 px but bundle\.json says 64"):
        load_bundle(edited)


def test_cpu_pipeline_runs_the_flows_large_linears_through_onednn(tiny_bundle: Path) -> None:
    """On the CPU the flow transformer's large matmuls take oneDNN (float_flow.onednn, ~1.3x per fp32
    forward at paper size); the small ones, where MKL is as fast, stay plain."""
    import dataclasses

    from torch import nn

    from float_flow import FlowMatchingTransformer, OneDNNLinear, onednn_available
    from float_pipeline import load_bundle

    if not onednn_available():
        pytest.skip("this torch build has no oneDNN")
    wide = FlowMatchingTransformer(dim_motion=32, dim_hidden=512, depth=1, num_heads=4, dim_audio=16)
    Pipeline(dataclasses.replace(load_bundle(tiny_bundle), flow=wide), progress=False)
    kinds = {
        (m.in_features * m.out_features >= 256 * 1024, type(m))
        for m in wide.modules()
        if isinstance(m, nn.Linear)
    }
    assert kinds == {(True, OneDNNLinear), (False, nn.Linear)}
