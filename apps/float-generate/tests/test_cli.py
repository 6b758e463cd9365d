"""float-generate: success, and one clear message (exit code 2, no file at --out) per bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from float_generate.cli import app
from float_pipeline.testing import read_mp4, wav_frames, write_wav

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_generates_a_video(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned: list[int] = []  # the CLI opts in to the malloc tuning (the library never does on its own)
    monkeypatch.setattr("float_pipeline.pipeline.tune_cpu_allocator", lambda: tuned.append(1) or True)
    out = tmp_path / "clip.mp4"
    code, output = invoke(
        "--image", portrait_png, "--audio", speech_wav, "--out", out, "--checkpoint", tiny_bundle,
        "--emotion", "happy", "--steps", "2", "--seed", "1", "--quiet",
    )  # fmt: skip
    assert code == 0, output
    assert tuned == [1]
    assert f"{wav_frames(speech_wav)} frames" in output
    frames, has_audio, _ = read_mp4(out)
    assert frames.shape[0] == wav_frames(speech_wav) and has_audio
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def _expect_failure(args: list[str | Path], out: Path, *fragments: str) -> str:
    code, output = invoke(*args)
    assert code == 2, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, output
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.stem}*"))  # no partial temporary file either
    return output


@pytest.fixture()
def base(tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path) -> dict[str, Path]:
    return {"image": portrait_png, "audio": speech_wav, "out": tmp_path / "out.mp4", "ckpt": tiny_bundle}


def _args(base: dict[str, Path], **changes: Path) -> list[str | Path]:
    values = {**base, **changes}
    return ["--image", values["image"], "--audio", values["audio"], "--out", values["out"],
            "--checkpoint", values["ckpt"], "-q"]  # fmt: skip


def test_no_face_suggests_no_crop(base: dict[str, Path], tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((128, 128, 3), 128, dtype=np.uint8)).save(blank)
    _expect_failure(_args(base, image=blank), base["out"], "no face found", "--no-crop")
    # and --no-crop then works on the same image
    code, output = invoke(*_args(base, image=blank), "--no-crop")
    assert code == 0, output


def test_unreadable_image(base: dict[str, Path], tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    _expect_failure(_args(base, image=fake), base["out"], "fake.png", "not a readable image")
    _expect_failure(_args(base, image=tmp_path / "missing.png"), base["out"], "image not found")


def test_bad_audio(base: dict[str, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF0000WAVEjunk" * 10)
    _expect_failure(_args(base, audio=garbage), base["out"], "garbage.wav")
    empty = tmp_path / "empty.wav"
    empty.touch()
    _expect_failure(_args(base, audio=empty), base["out"], "empty.wav", "empty")
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000))
    _expect_failure(_args(base, audio=silent), base["out"], "silent.wav", "silent")


def test_incomplete_checkpoint(base: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(base["ckpt"], broken)
    (broken / "flow" / "model.safetensors").unlink()
    _expect_failure(_args(base, ckpt=broken), base["out"], "flow/model.safetensors is missing")
    _expect_failure(_args(base, ckpt=tmp_path / "nowhere"), base["out"], "nowhere")


def test_output_folder_not_writable(base: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "out.mp4"
    _expect_failure(_args(base, out=missing), missing, "does not exist")
    # /proc refuses new files even for root: a folder that exists but cannot be written
    output = _expect_failure(_args(base, out=Path("/proc/out.mp4")), Path("/proc/out.mp4"), "not writable")
    assert "/proc" in output
    if os.geteuid() != 0:  # permission bits only bind non-root users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _expect_failure(_args(base, out=locked / "out.mp4"), locked / "out.mp4", "not writable")


def test_bad_options(base: dict[str, Path]) -> None:
    _expect_failure([*_args(base), "--emotion", "grumpy=x"], base["out"], "--emotion")
    _expect_failure([*_args(base), "--pose-from", "pose.npy"], base["out"], "no head-pose condition")
    _expect_failure([*_args(base), "--emotion", "auto"], base["out"], "emotion predictor")
    code, output = invoke("--image", base["image"])
    assert code == 2 and "--audio" in output


def test_official_parity_switches_reach_the_options(
    base: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from float_pipeline import GenerateOptions, Pipeline

    seen: list[GenerateOptions] = []

    def fake_generate(self: Pipeline, image: Path, audio: Path, out: Path, options: GenerateOptions) -> None:
        seen.append(options)
        raise FileNotFoundError("stop here")

    monkeypatch.setattr(Pipeline, "generate", fake_generate)
    code, output = invoke(
        *_args(base), "--crop-rule", "official", "--fix-noise-seed", "--audio-chunk-seconds", "0",
        "--detector", "auto",
    )  # fmt: skip
    assert code == 2 and "stop here" in output
    options = seen[-1]
    assert (options.crop_rule, options.fix_noise_seed, options.audio_chunk_seconds) == ("official", True, 0)
    assert options.detector == "auto"
    invoke(*_args(base), "--fresh-noise")
    assert seen[-1].fix_noise_seed is False and seen[-1].crop_rule is None and seen[-1].detector is None
    code, output = invoke(*_args(base), "--crop-rule", "other")
    assert code == 2 and "--crop-rule" in output
