"""End-to-end tests of ``python -m float_tools.corpus.build`` on a tiny corpus (64 px, 2 short clips)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from float_tools.corpus import CorpusConfig, build_corpus
from float_tools.corpus.build import main

SENTENCES = ["Hello there, how are you today?", "The small boat drifted across the lake."]


def _config(seed: int = 0, n_clips: int = 2) -> CorpusConfig:
    return CorpusConfig(
        portraits=["astronaut"],
        voices=["en-us", "en-gb+f3"],
        sentences=SENTENCES,
        n_clips=n_clips,
        seed=seed,
        resolution=64,
    )


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, require_tool) -> Path:  # type: ignore[no-untyped-def]
    for tool in ("espeak-ng", "ffprobe"):
        require_tool(tool)
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(_config(), out, log=lambda _: None)
    return out


def _truth(corpus_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(corpus_dir.glob("clip_*.json"))]


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def test_folder_layout_and_manifest(corpus_dir: Path) -> None:
    names = sorted(p.name for p in corpus_dir.iterdir())
    assert names == [
        "clip_00000.json",
        "clip_00000.mp4",
        "clip_00001.json",
        "clip_00001.mp4",
        "manifest.json",
    ]
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    assert manifest["fps"] == 25 and manifest["sample_rate"] == 16000
    assert manifest["config"]["seed"] == 0 and manifest["config"]["resolution"] == 64
    assert [c["video"] for c in manifest["clips"]] == ["clip_00000.mp4", "clip_00001.mp4"]
    truths = _truth(corpus_dir)
    assert sorted(t["sentence"] for t in truths) == sorted(SENTENCES)
    assert {t["voice"] for t in truths} == {"en-us", "en-gb+f3"}


def test_mp4_is_25fps_h264_with_16k_aac_and_length_matches_audio(corpus_dir: Path) -> None:
    for truth in _truth(corpus_dir):
        path = corpus_dir / truth["video"]
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
        video, audio = streams["video"], streams["audio"]
        assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
        assert video["r_frame_rate"] == "25/1" and (video["width"], video["height"]) == (64, 64)
        assert audio["codec_name"] == "aac" and audio["sample_rate"] == "16000" and audio["channels"] == 1
        n_frames = int(video["nb_read_frames"])
        assert n_frames == truth["n_frames"] == len(truth["tracks"]["mouth_open"])
        assert abs(n_frames - float(audio["duration"]) * 25) <= 1.0
        assert truth["duration_s"] == pytest.approx(n_frames / 25)


def test_mouth_track_follows_the_speech_envelope_and_is_closed_in_padding(corpus_dir: Path) -> None:
    for truth in _truth(corpus_dir):
        track = np.asarray(truth["tracks"]["mouth_open"])
        n = truth["n_frames"]
        audio = _audio(corpus_dir / truth["video"])[: n * 640].reshape(n, 640).astype(np.float64)
        rms = np.sqrt((audio**2).mean(axis=1)) + 1e-6
        envelope_db = np.clip(20 * np.log10(rms / rms.max()), -40.0, 0.0)
        r = np.corrcoef(track, envelope_db)[0, 1]
        assert r > 0.8, f"{truth['name']}: r(track, envelope) = {r:.2f}"
        first, last = truth["speech_frames"]
        assert truth["speech_start_s"] >= 0.3 and truth["duration_s"] - truth["speech_end_s"] >= 0.3
        assert np.all(track[:first] == 0.0) and np.all(track[last:] == 0.0)
        assert track[first:last].max() > 0.7
        assert np.all(np.asarray(truth["tracks"]["mouth_gap_px"])[:first] == 0.0)


def test_rendered_mouth_region_changes_with_the_track(corpus_dir: Path) -> None:
    for truth in _truth(corpus_dir):
        frames = _frames(corpus_dir / truth["video"]).astype(np.float64)
        track = np.asarray(truth["tracks"]["mouth_open"])
        # Pixel change in the rest-pose mouth box against the first (closed, silent) frame.
        x0, y0, x1, y1 = (round(v) for v in truth["landmarks"]["mouth_box"][0])
        change = np.abs(frames - frames[0])[:, y0:y1, x0:x1].mean(axis=(1, 2, 3))
        r_change = np.corrcoef(track, change)[0, 1]
        # Darkness in the pose-following mouth box.
        dark = []
        for frame, box in zip(frames, truth["landmarks"]["mouth_box"], strict=True):
            x0, y0, x1, y1 = (round(v) for v in box)
            dark.append(255.0 - frame[y0:y1, x0:x1].mean())
        r_dark = np.corrcoef(track, dark)[0, 1]
        assert r_change > 0.6 and r_dark > 0.9, (r_change, r_dark)


def test_same_seed_gives_identical_files_and_another_seed_differs(corpus_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_corpus(_config(), again, log=lambda _: None)
    for name in ("clip_00000.mp4", "clip_00000.json", "clip_00001.mp4", "clip_00001.json", "manifest.json"):
        assert (again / name).read_bytes() == (corpus_dir / name).read_bytes(), name
    other = tmp_path / "other"
    build_corpus(_config(seed=1, n_clips=1), other, log=lambda _: None)
    a = json.loads((other / "clip_00000.json").read_text())["tracks"]["roll_deg"]
    b = json.loads((corpus_dir / "clip_00000.json").read_text())["tracks"]["roll_deg"]
    assert a != b


def test_rerun_skips_finished_clips_and_refuses_other_settings(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grow"
    build_corpus(_config(n_clips=1), out, log=lambda _: None)
    stamp = (out / "clip_00000.mp4").stat().st_mtime_ns
    lines: list[str] = []
    records = build_corpus(_config(n_clips=2), out, log=lines.append)
    assert len(records) == 2 and "already built" in lines[0]
    assert (out / "clip_00000.mp4").stat().st_mtime_ns == stamp
    assert (out / "clip_00001.mp4").read_bytes() == (corpus_dir / "clip_00001.mp4").read_bytes()
    assert not list(out.glob(".*part*"))  # no temporary files left behind
    with pytest.raises(ValueError, match=r"seed differ.*new --out"):
        build_corpus(_config(seed=5, n_clips=1), out, log=lambda _: None)


def test_cli_builds_a_clip(tmp_path: Path, require_tool, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    sentences = tmp_path / "s.txt"
    sentences.write_text("# comment\nGood morning.\n")
    out = tmp_path / "cli"
    args = [
        "--portrait",
        "astronaut",
        "--voice",
        "en-us",
        "--sentences",
        str(sentences),
        "--n-clips",
        "1",
        "--seed",
        "3",
        "--out",
        str(out),
        "--resolution",
        "64",
        "--rate",
        "150",
        "150",
        "--pitch",
        "40",
        "40",
    ]
    assert main(args) == 0
    truth = json.loads((out / "clip_00000.json").read_text())
    assert truth["sentence"] == "Good morning." and truth["rate_wpm"] == 150 and truth["pitch"] == 40
    assert "corpus ready" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--portrait", "missing_face.png"], "portrait missing_face.png does not exist"),
        (["--voice", "xx-nope"], "unknown espeak-ng voice 'xx-nope'"),
        (["--sentences", "no_such_file.txt"], "sentences file no_such_file.txt does not exist"),
        (["--resolution", "100"], "resolution must be a multiple of 16"),
        (["--pitch", "50", "10"], "pitch_range"),
    ],
)
def test_cli_bad_input_gives_a_clear_error(
    extra: list[str],
    message: str,
    tmp_path: Path,
    require_tool,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    require_tool("espeak-ng")
    out = tmp_path / "never"
    assert main(["--n-clips", "1", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err, err
    assert not out.exists()  # nothing written before the inputs are checked


def test_cli_takes_landmarks_for_a_user_image_and_pose_flags(
    tmp_path: Path,
    portrait_png: Path,
    require_tool,  # type: ignore[no-untyped-def]
) -> None:
    require_tool("espeak-ng")
    layout = tmp_path / "face.json"
    # The committed fixture is the astronaut scaled from 512 to 256 px: halve the built-in layout.
    layout.write_text(
        json.dumps(
            {
                "left_eye": [102.75, 50.5],
                "right_eye": [123.0, 52.0],
                "mouth": [113.75, 74.25],
                "mouth_width": 24,
            }
        )
    )
    sentences = tmp_path / "s.txt"
    sentences.write_text("Open wide.\n")
    out = tmp_path / "user"
    args = [
        "--portrait",
        str(portrait_png),
        "--landmarks",
        str(layout),
        "--sentences",
        str(sentences),
        "--n-clips",
        "1",
        "--out",
        str(out),
        "--resolution",
        "64",
        "--pose-roll",
        "0",
        "--pose-shift",
        "0",
        "--pose-scale",
        "0",
    ]
    assert main(args) == 0
    truth = json.loads((out / "clip_00000.json").read_text())
    assert truth["portrait"] == str(portrait_png)
    assert set(truth["tracks"]["roll_deg"]) == {0.0} and set(truth["tracks"]["scale"]) == {1.0}
    # Without pose the mouth centre only moves vertically, by the lip gap.
    xs = {round(m[0], 2) for m in truth["landmarks"]["mouth"]}
    assert len(xs) == 1


def test_noise_fills_the_silence_but_the_mouth_stays_closed(tmp_path: Path, require_tool) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    config = _config(n_clips=1).model_copy(update={"noise_db": -50.0, "gain_range_db": (-3.0, -3.0)})
    build_corpus(config, tmp_path, log=lambda _: None)
    truth = json.loads((tmp_path / "clip_00000.json").read_text())
    assert truth["noise_db"] == -50.0 and truth["gain_db"] == -3.0
    first, last = truth["speech_frames"]
    audio = _audio(tmp_path / truth["video"])[: truth["n_frames"] * 640]
    pad_rms = float(np.sqrt(np.mean(audio[: first * 640].astype(np.float64) ** 2)))
    assert 10 ** (-56 / 20) < pad_rms < 10 ** (-44 / 20)  # about -50 dBFS after AAC
    track = np.asarray(truth["tracks"]["mouth_open"])
    assert np.all(track[:first] == 0.0) and np.all(track[last:] == 0.0) and track.max() > 0.7


def test_module_entry_point_runs(tmp_path: Path, require_tool) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "float_tools.corpus.build",
            "--voice",
            "nope",
            "--n-clips",
            "1",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unknown espeak-ng voice 'nope'" in done.stderr
