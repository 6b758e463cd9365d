"""The fault and bad-input battery at the library level (issue #29): what every app built on float-pipeline
inherits. The command-line cases live in apps/float-generate/tests/test_battery.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from float_pipeline import (
    BundleError,
    GenerateOptions,
    OptionError,
    Pipeline,
    VideoWriter,
    aac_rate,
    atomic_path,
    check_bundle_target,
    load_bundle,
    remove_stale_temporaries,
)
from float_pipeline.testing import build_random_bundle


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -------------------------------------------------------------------- 2: --overwrite deletes any folder
def test_only_a_bundle_is_ever_replaced(tmp_path: Path) -> None:
    """Item 2: save_bundle(overwrite=True) replaced any folder (a thesis and its data)."""
    thesis = tmp_path / "thesis"
    (thesis / "sub").mkdir(parents=True)
    (thesis / "thesis.txt").write_text("years of work")
    (thesis / "sub" / "data.csv").write_text("a\n1\n")
    with pytest.raises(FileExistsError, match="not a bundle"):
        build_random_bundle(thesis)  # save_bundle without overwrite
    with pytest.raises(FileExistsError, match="not a bundle"):
        check_bundle_target(thesis, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        check_bundle_target(tmp_path / "file", overwrite=True)
    assert (thesis / "thesis.txt").read_text() == "years of work" and (thesis / "sub" / "data.csv").is_file()

    bundle = build_random_bundle(tmp_path / "bundle")
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_bundle_target(bundle)
    assert check_bundle_target(bundle, overwrite=True) == bundle
    (tmp_path / "empty").mkdir()
    assert check_bundle_target(tmp_path / "empty") == tmp_path / "empty"  # nothing to lose


# ------------------------------------------------------------------------------ 6: rates AAC cannot encode
def test_aac_rates() -> None:
    """Item 6: the muxed audio gets a rate the AAC encoder accepts."""
    assert [aac_rate(r) for r in (4000, 11025, 16000, 44100, 96000, 192000)] == [
        16000,
        11025,
        16000,
        44100,
        96000,
        48000,
    ]


def test_writer_resamples_samples_at_any_rate(tmp_path: Path) -> None:
    import av

    speech = 0.3 * np.sin(np.arange(4000, dtype=np.float32) * 0.2)  # 1 s at 4 kHz
    with VideoWriter(tmp_path / "low.mp4", speech, sample_rate=4000, size=(32, 32)) as writer:
        for _ in range(25):
            writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
    with av.open(str(tmp_path / "low.mp4")) as container:
        assert container.streams.audio[0].rate == 16000


# -------------------------------------------------------------------------------- 7: non-finite options
@pytest.mark.parametrize("field", ["audio_scale", "emotion_scale", "emotion_intensity", "crop_scale"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_options_are_finite(field: str, value: float) -> None:
    """Item 7: an infinite guidance scale rendered an all-black video."""
    with pytest.raises(ValidationError, match="finite"):
        GenerateOptions(**{field: value})


def test_bundle_defaults_are_finite(tmp_path: Path) -> None:
    bundle = build_random_bundle(tmp_path / "b")
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["defaults"]["audio_scale"] = float("inf")
    (bundle / "bundle.json").write_text(json.dumps(manifest))  # json writes Infinity
    with pytest.raises(BundleError, match="finite"):
        load_bundle(bundle)


# ---------------------------------------------------------------------- 8: user mistakes, not tracebacks
def test_emotion_mistakes_are_option_errors(pipeline: Pipeline, portrait_png: Path, speech_wav: Path) -> None:
    """Item 8: --emotion bogus raised the registry's KeyError; bad predictor options a TypeError."""
    with pytest.raises(OptionError, match="'bogus' is not an emotion"):
        pipeline.prepare(portrait_png, speech_wav, GenerateOptions(emotion="bogus"))
    with pytest.raises(OptionError, match="fixed"):
        pipeline.prepare(portrait_png, speech_wav, GenerateOptions(emotion="fixed:colour=blue"))


def test_bundle_components_are_built_within_what_their_weights_hold(tmp_path: Path) -> None:
    """Item 8: `dim_hidden: 1e6` tried to allocate 4 TB before anything compared it with the weights."""
    bundle = build_random_bundle(tmp_path / "b")
    config = json.loads((bundle / "flow" / "config.json").read_text())
    for key, value in (("dim_hidden", 1_000_000), ("num_frames", 10**7), ("depth", 100_000)):
        (bundle / "flow" / "config.json").write_text(json.dumps({**config, key: value}))
        with pytest.raises(BundleError, match="does not belong to these weights"):
            load_bundle(bundle)


# --------------------------------------------------------------------- 11: leftovers and permissions
def test_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    """Item 11: kill -9 left hidden .NAME.*.part.mp4 files that no later write removed."""
    final = tmp_path / "clip.mp4"
    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / f".clip.mp4.{dead}-0123abcd.part.mp4"
    stale_folder = tmp_path / f".clip.mp4.{dead}-89abcdef.part"
    running = tmp_path / f".clip.mp4.{alive}-0123abcd.part.mp4"  # another writer, still at work
    other = tmp_path / f".other.mp4.{dead}-0123abcd.part.mp4"  # another target's
    stale.write_bytes(b"half")
    stale_folder.mkdir()
    running.write_bytes(b"in progress")
    other.write_bytes(b"half")
    with atomic_path(final) as temp:
        temp.write_bytes(b"done")
    assert final.read_bytes() == b"done"
    assert not stale.exists() and not stale_folder.exists()
    assert running.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "other.mp4") == [other]


@pytest.mark.parametrize(
    ("umask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_outputs_and_bundles_honour_the_umask(
    umask: int, file_mode: int, folder_mode: int, tmp_path: Path, speech_wav: Path
) -> None:
    """Item 11: outputs were created 0600 and bundles 0700 whatever the umask."""
    old = os.umask(umask)
    try:
        with VideoWriter(tmp_path / "v.mp4", speech_wav, size=(32, 32)) as writer:
            writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
        bundle = build_random_bundle(tmp_path / "bundle")
    finally:
        os.umask(old)
    assert (tmp_path / "v.mp4").stat().st_mode & 0o777 == file_mode
    assert bundle.stat().st_mode & 0o777 == folder_mode
    assert (bundle / "flow").stat().st_mode & 0o777 == folder_mode
    assert (bundle / "bundle.json").stat().st_mode & 0o777 == file_mode
