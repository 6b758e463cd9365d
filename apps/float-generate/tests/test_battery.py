"""The fault and bad-input battery of float-generate and float-convert-official (issue #29).

Each test is one case a hostile new user tried: its docstring says what used to happen, the assertions what
happens now. Inputs are tiny (the random 32 px test bundle, a 3.7 s speech clip, a 256 px portrait).
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from float_generate.cli import app
from float_generate.convert import app as convert_app
from float_pipeline import Pipeline
from float_pipeline.testing import read_mp4, wav_frames, write_wav

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture()
def base(tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path) -> list[str | Path]:
    """Arguments of a run that succeeds; tests append or replace what they probe."""
    return ["--image", portrait_png, "--audio", speech_wav, "--checkpoint", tiny_bundle, "-q"]


def refused(args: list[str | Path], *fragments: str) -> str:
    code, output = invoke(*args)
    assert code == 2, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, output
    return output


def short_wav(path: Path, rate: int = 16000, seconds: float = 0.4) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    return write_wav(path, 0.3 * np.sin(2 * np.pi * 220 * t), rate)


# ------------------------------------------------------------------------------- 3: silent overwrites
def test_output_is_never_an_input(base: list[str | Path], tiny_bundle: Path, tmp_path: Path) -> None:
    """Item 3: --out equal to --audio replaced the user's own speech file with the video."""
    speech = tmp_path / "speech.mp4"
    code, output = invoke(*base[:2], "--audio", short_wav(tmp_path / "s.wav"), "--out", speech, *base[4:])
    assert code == 0, output
    before = speech.read_bytes()
    args = [*base[:2], "--audio", speech, "--checkpoint", tiny_bundle, "-q"]
    refused([*args, "--out", speech], "is the input file", "would destroy it")
    refused([*args, "--out", speech, "--overwrite"], "is the input file")  # --overwrite does not allow it
    link = tmp_path / "link.mp4"
    link.symlink_to(speech)
    refused([*args, "--out", link, "--overwrite"], "is the input file")
    assert speech.read_bytes() == before


def test_an_existing_output_needs_overwrite(base: list[str | Path], tmp_path: Path) -> None:
    """Item 3: an existing --out was replaced without asking."""
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"the user's earlier video")
    refused([*base, "--out", out], "already exists", "--overwrite")
    assert out.read_bytes() == b"the user's earlier video"
    code, output = invoke(*base, "--out", out, "--overwrite")
    assert code == 0, output
    assert read_mp4(out)[0].shape[0] == 94


def _jobs(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return jobs


def test_batch_rows_with_the_same_output_are_refused_up_front(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    """Item 3: two rows with the same out overwrote each other, both reported "ok"."""
    row = {"image": str(portrait_png), "audio": str(speech_wav)}
    jobs = _jobs(
        tmp_path, [{**row, "out": "same.mp4"}, {**row, "out": "other.mp4"}, {**row, "out": "./same.mp4"}]
    )
    refused(["--batch", jobs, "--checkpoint", tiny_bundle], "rows 1, 3 all write", "same.mp4")
    assert not list(tmp_path.glob("*.mp4")) and not (tmp_path / "jobs.report.json").exists()


def test_batch_outputs_never_replace_inputs_or_existing_files(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    """Item 3: a row's out may not be another row's input; existing outputs need --overwrite."""
    first = short_wav(tmp_path / "first.wav")
    jobs = _jobs(
        tmp_path,
        [
            {"image": str(portrait_png), "audio": str(speech_wav), "out": "first.mp4"},
            {"image": str(portrait_png), "audio": "first.mp4", "out": "second.mp4"},
        ],
    )
    (tmp_path / "first.mp4").write_bytes(first.read_bytes())
    refused(["--batch", jobs, "--checkpoint", tiny_bundle], "row 1 would write over", "the input of row 2")
    jobs = _jobs(tmp_path, [{"image": str(portrait_png), "audio": str(speech_wav), "out": "first.mp4"}])
    refused(["--batch", jobs, "--checkpoint", tiny_bundle], "already exist", "first.mp4", "--overwrite")
    code, output = invoke("--batch", jobs, "--checkpoint", tiny_bundle, "--overwrite", "-q")
    assert code == 0, output
    assert read_mp4(tmp_path / "first.mp4")[0].shape[0] == wav_frames(speech_wav)


# ----------------------------------------------------------------------- 4: results thrown away at the end
def test_batch_report_location_is_checked_before_any_work(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    """Item 4: --report in a missing folder ran every row, then lost the summary."""
    jobs = _jobs(tmp_path, [{"image": str(portrait_png), "audio": str(speech_wav), "out": "a.mp4"}])
    missing = tmp_path / "no" / "such" / "report.json"
    refused(["--batch", jobs, "--checkpoint", tiny_bundle, "--report", missing], "does not exist", "mkdir")
    precious = tmp_path / "notes.json"
    precious.write_text('{"mine": true}')
    refused(["--batch", jobs, "--checkpoint", tiny_bundle, "--report", precious], "not an earlier")
    assert precious.read_text() == '{"mine": true}'
    refused(["--batch", jobs, "--checkpoint", tiny_bundle, "--report", jobs], "one of the batch's own files")
    assert not (tmp_path / "a.mp4").exists()  # nothing was generated for a batch that could not report


# ------------------------------------------------------------------------------------ 5: phone photos
@pytest.fixture()
def sideways_jpeg(portrait_png: Path, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A portrait stored rotated with EXIF orientation 6 (display: rotate 90 degrees clockwise), as phones
    write it; returns the file and the upright pixels a viewer shows."""
    upright = Image.open(portrait_png).convert("RGB").crop((32, 0, 224, 256))  # 192 x 256, portrait format
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor wrote: 256 wide, 192 high
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif)
    return path, np.asarray(upright)


def test_exif_orientation_is_applied(
    sideways_jpeg: tuple[Path, np.ndarray], speech_wav: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    """Item 5: a rotated phone JPEG gave "no face found" (crop) or a sideways video (--no-crop)."""
    from float_pipeline import load_image

    path, upright = sideways_jpeg
    loaded = load_image(path)
    assert loaded.shape == upright.shape == (256, 192, 3)
    assert np.abs(loaded.astype(int) - upright.astype(int)).mean() < 3  # JPEG noise only
    args = ["--image", path, "--audio", short_wav(tmp_path / "s.wav"), "--checkpoint", tiny_bundle, "-q"]
    code, output = invoke(*args, "--out", tmp_path / "crop.mp4")
    assert code == 0, output  # the face is found
    code, output = invoke(*args, "--out", tmp_path / "full.mp4", "--no-crop", "--paste-back")
    assert code == 0, output
    assert read_mp4(tmp_path / "full.mp4")[0].shape[1:3] == (256, 192)  # upright, as the viewer shows it


# ---------------------------------------------------------------------- 6: rates AAC cannot encode
@pytest.mark.parametrize(("rate", "muxed"), [(4000, 16000), (192000, 48000)])
def test_audio_rates_aac_cannot_encode_are_resampled(
    rate: int, muxed: int, base: list[str | Path], tmp_path: Path
) -> None:
    """Item 6: 4 kHz and 192 kHz speech ended in an av traceback at the writer."""
    audio = short_wav(tmp_path / f"speech-{rate}.wav", rate=rate)
    out = tmp_path / f"out-{rate}.mp4"
    code, output = invoke(*base[:2], "--audio", audio, *base[4:], "--out", out)
    assert code == 0, output
    with av.open(str(out)) as container:
        assert container.streams.audio[0].rate == muxed
    assert read_mp4(out)[0].shape[0] == 10


# -------------------------------------------------------------------------- 7: non-finite options
@pytest.mark.parametrize(
    "option",
    [
        ["--audio-scale", "inf"],
        ["--emotion-scale", "nan"],
        ["--emotion-intensity", "inf"],
        ["--emotion", "happy@inf"],
        ["--emotion", "happy=nan,sad=1"],
    ],
)
def test_options_must_be_finite(option: list[str], base: list[str | Path], tmp_path: Path) -> None:
    """Item 7: --audio-scale inf (or --emotion-scale) wrote an all-black video with exit 0."""
    out = tmp_path / "black.mp4"
    output = refused([*base, "--out", out, *option], option[0])
    assert "finite" in output
    assert not out.exists()


# ---------------------------------------------------------------- 8: raw tracebacks for user mistakes
def test_unknown_emotion_is_one_line(base: list[str | Path], tmp_path: Path) -> None:
    """Item 8: --emotion bogus ended in a KeyError traceback from the predictor registry."""
    refused([*base, "--out", tmp_path / "o.mp4", "--emotion", "bogus"], "'bogus' is not an emotion", "happy")


def _bundle_copy(tiny_bundle: Path, tmp_path: Path, name: str) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_bundle, tmp_path / name))


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("huge", "does not belong to these weights"),
        ("mistyped", "valid integer"),
        ("unknown-key", "unknown setting"),
        ("truncated", "damaged"),
        ("renamed-tensor", "does not match"),
        ("manifest", "not a valid bundle manifest"),
    ],
)
def test_damaged_bundles_are_one_line(
    damage: str, fragment: str, base: list[str | Path], tiny_bundle: Path, tmp_path: Path
) -> None:
    """Item 8: a tampered, truncated or mistyped bundle raised RuntimeError, SafetensorError or pydantic
    errors; `dim_hidden: 1e6` tried to allocate 4 TB."""
    bundle = _bundle_copy(tiny_bundle, tmp_path, damage)
    if damage == "huge":
        _edit_config(bundle / "flow", dim_hidden=1_000_000)
    elif damage == "mistyped":
        _edit_config(bundle / "flow", depth="three")
    elif damage == "unknown-key":
        _edit_config(bundle / "audio_projection", out_dims=16)
    elif damage == "truncated":
        weights = bundle / "motion_ae" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:5000])
    elif damage == "renamed-tensor":
        from safetensors.torch import load_file, save_file

        weights = bundle / "flow" / "model.safetensors"
        tensors = load_file(str(weights))
        tensors["renamed"] = tensors.pop("c_embedder.weight")
        save_file(tensors, str(weights))
    else:
        manifest = json.loads((bundle / "bundle.json").read_text())
        (bundle / "bundle.json").write_text(json.dumps({**manifest, "resolution": "big"}))
    args = [*base[:4], "--checkpoint", bundle, "-q", "--out", tmp_path / "o.mp4"]
    refused(args, fragment)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height pixels (IHDR) with no image data: what PIL checks at open."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused(base: list[str | Path], tmp_path: Path) -> None:
    """Item 8: a 20000 x 20000 PNG ended in PIL's DecompressionBombError traceback."""
    bomb = _png_header_only(tmp_path / "huge.png", 20000, 20000)
    refused(["--image", bomb, *base[2:], "--out", tmp_path / "o.mp4"], "huge.png", "too large", "downscale")


# ------------------------------------------------------------------------------ 9: no downloads
def test_emotion_models_are_read_from_local_files_only(
    base: list[str | Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: --emotion speech:model=<hub id> tried the network five times (~25 s) before failing."""
    import transformers

    asked: list[bool] = []

    def no_network(name: str, *args: object, local_files_only: bool = False, **kwargs: object) -> None:
        asked.append(local_files_only)
        raise OSError(f"{name} is not in the cache")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", no_network)
    args = [*base, "--out", tmp_path / "o.mp4", "--emotion", "speech:model=someone/ser-model"]
    output = refused(args, "someone/ser-model", "downloads are off", "FLOAT_ALLOW_DOWNLOADS=1")
    assert asked == [True]
    monkeypatch.setenv("FLOAT_ALLOW_DOWNLOADS", "1")  # the user opts in: now (and only now) it may download
    output = refused(args, "downloads were allowed")
    assert asked == [True, False] and "Traceback" not in output


# ------------------------------------------------------------------------------ 10: misleading hints
def test_silent_audio_hint_names_a_real_option(base: list[str | Path], tmp_path: Path) -> None:
    """Item 10: the silent-audio hint named allow_silent=True, which the CLI did not offer."""
    silent = write_wav(tmp_path / "silent.wav", np.zeros(8000))
    args = [*base[:2], "--audio", silent, *base[4:], "--out", tmp_path / "o.mp4"]
    refused(args, "silent", "--allow-silent")
    code, output = invoke(*args, "--allow-silent")
    assert code == 0, output
    assert read_mp4(tmp_path / "o.mp4")[0].shape[0] == 13


def test_a_non_torch_file_is_not_called_an_mmap_problem(tmp_path: Path) -> None:
    """Item 10: float-convert-official on a file that is not a checkpoint blamed mmap."""
    fake = tmp_path / "float.pth"
    fake.write_text("this is not a checkpoint")
    result = runner.invoke(convert_app, [str(fake), str(tmp_path / "bundle")])
    assert result.exit_code == 2, result.output
    assert "not a PyTorch checkpoint" in result.output and "mmap" not in result.output


class _Payload:
    """Unpickling this writes ``marker``: a crafted float.pth."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('executed')",)


def test_a_crafted_float_pth_never_runs(tmp_path: Path) -> None:
    """Held, kept: float.pth is read with weights_only=True; a pickle trick is refused, not executed."""
    import torch

    marker, crafted = tmp_path / "pwned", tmp_path / "float.pth"
    torch.save({"fmt.x": _Payload(marker)}, crafted)
    result = runner.invoke(convert_app, [str(crafted), str(tmp_path / "bundle")])
    assert result.exit_code == 2, result.output
    assert "not a PyTorch checkpoint" in result.output
    assert not marker.exists() and not (tmp_path / "bundle").exists()


def test_convert_overwrite_never_deletes_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    """Item 2: float-convert-official --overwrite replaced a folder holding thesis.txt and sub/data.csv."""
    folder = tmp_path / "work"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.txt").write_text("chapter 1")
    (folder / "sub" / "data.csv").write_text("x\n1\n")
    result = runner.invoke(convert_app, [str(tmp_path / "float.pth"), str(folder), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert "not a bundle" in result.output
    assert (folder / "thesis.txt").read_text() == "chapter 1" and (folder / "sub" / "data.csv").is_file()


# ------------------------------------------------------------------------ 11: leftovers, permissions
def test_outputs_honour_the_umask(base: list[str | Path], tmp_path: Path) -> None:
    """Item 11: outputs were created 0600 whatever the umask."""
    old = os.umask(0o027)
    try:
        code, output = invoke(*base, "--out", tmp_path / "shared.mp4")
    finally:
        os.umask(old)
    assert code == 0, output
    assert (tmp_path / "shared.mp4").stat().st_mode & 0o777 == 0o640


@pytest.mark.slow  # a real process, killed with SIGKILL mid-video, then the same command again
def test_kill_9_leftovers_are_removed_by_the_next_run(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    """Item 11: kill -9 left hidden .NAME.*.part.mp4 files that no rerun removed."""
    long_speech = tmp_path / "long.wav"
    with av.open(str(speech_wav)) as container:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    write_wav(long_speech, np.tile(pcm.astype(np.float32) / 32768.0, 20))  # 75 s: seconds to render
    out = tmp_path / "clip.mp4"
    command = [sys.executable, "-c", "from float_generate.cli import main; main()",
               "--image", str(portrait_png), "--audio", str(long_speech), "--out", str(out),
               "--checkpoint", str(tiny_bundle), "-q"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not [p for p in tmp_path.glob(".clip.mp4.*.part.mp4") if p.stat().st_size > 0]:
        assert process.poll() is None and time.monotonic() < deadline, "the video never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    leftovers = list(tmp_path.glob(".clip.mp4.*"))
    assert leftovers and not out.exists()  # the kill left its part behind, nothing at the final name
    code, output = invoke("--image", portrait_png, "--audio", speech_wav, "--out", out,
                          "--checkpoint", tiny_bundle, "-q")  # fmt: skip
    assert code == 0, output
    assert out.is_file() and not [p for p in leftovers if p.exists()]


# ------------------------------------------------------------------------ 12: start-up before any check
def test_bad_input_is_reported_before_any_heavy_import(tmp_path: Path) -> None:
    """Item 12: every run imported transformers (15-40 s, ~1.2 GB) before looking at the image."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from float_generate.cli import app\n"
        "args = ['--image', sys.argv[1], '--audio', sys.argv[1], '--out', sys.argv[2]]\n"
        "result = CliRunner().invoke(app, args)\n"
        "print(result.exit_code, 'transformers' in sys.modules, repr(result.output))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "missing.png"), str(tmp_path / "o.mp4")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    exit_code, imported, output = done.stdout.strip().split(" ", 2)
    assert exit_code == "2" and "image not found" in output
    assert imported == "False"


def test_a_quiet_run_prints_only_its_result(base: list[str | Path], tmp_path: Path) -> None:
    """Item 12: "Loading weights from local directory" was printed three times on stdout, even with -q."""
    result = runner.invoke(app, [str(a) for a in [*base, "--out", tmp_path / "o.mp4"]])
    assert result.exit_code == 0, result.output
    assert "Loading weights" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("wrote ")


def test_a_log_mel_bundle_never_imports_transformers(
    tiny_bundle: Path, portrait_png: Path, speech_wav: Path
) -> None:
    """Item 12: the heavy audio backend is imported only for bundles that need it."""
    code = (
        "import sys\n"
        "from float_pipeline import Pipeline\n"
        "frames = Pipeline.from_pretrained(sys.argv[1], progress=False).frames(sys.argv[2], sys.argv[3])\n"
        "print(sum(1 for _ in frames), 'transformers' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny_bundle), str(portrait_png), str(speech_wav)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(wav_frames(speech_wav)), "False"]


def test_pipeline_generate_also_protects_its_inputs(
    pipeline: Pipeline, speech_wav: Path, tmp_path: Path
) -> None:
    """Item 3 (library): Pipeline.generate never writes over its own audio or image."""
    from float_pipeline import OutputError

    audio = tmp_path / "speech.mp4"
    pipeline.generate(np.zeros((48, 48, 3), np.uint8), short_wav(tmp_path / "s.wav"), audio, crop=False)
    before = audio.read_bytes()
    with pytest.raises(OutputError, match="is the input file"):
        pipeline.generate(np.zeros((48, 48, 3), np.uint8), audio, audio, crop=False)
    assert audio.read_bytes() == before
