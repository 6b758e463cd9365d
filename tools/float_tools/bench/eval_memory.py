"""Peak memory of float-eval on one 512x512 video pair: 10 minutes against 10 seconds.

Run: ``uv run python -m float_tools.bench.eval_memory`` (options: ``--long-seconds``, ``--short-seconds``,
``--metrics``, ``--size``, ``--batch-frames``, ``--keep DIR``).

Two synthetic 25 fps videos per length (ffmpeg's ``testsrc2`` as generated, ``testsrc`` as reference, H.264
ultrafast, with a 16 kHz tone as audio) are written to a temporary folder, never committed, and scored with
``float_eval.evaluate`` on all six built-in metrics through stand-in networks of the tests' kind (no weights:
the metric values mean nothing, the pipeline around the networks is the real one: decoding, resampling,
face detection cache, alignment, crops, clip cutting, MFCC, statistics). The stand-in detector finds one
face filling the frame, so every per-frame path runs. Each length runs in a fresh child process, which
reports its resident-set peak (VmHWM) and its RSS once the stand-ins are built (the baseline); like
``float-eval run`` it first fixes glibc's mmap threshold (``float_eval.runtime``; ``--glibc-default-heap`` to
compare without). The run fails (exit 1) when the long video's peak exceeds 1.2x the short one's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT = 1.2


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _components():
    """Stand-ins with the call signatures of float-eval's networks, as the package's tests build them."""
    import numpy as np
    import torch

    from float_eval import Components
    from float_eval.nets import Face
    from float_eval.ops import ARCFACE_TEMPLATE

    class Detector:
        name = "stand-in"

        def detect(self, image: np.ndarray) -> list[Face]:
            h, w = image.shape[:2]
            kps = ARCFACE_TEMPLATE * np.array([w / 112, h / 112])
            return [Face(np.array([4.0, 4.0, w - 4.0, h - 4.0]), 1.0, kps)]

    class Sync(torch.nn.Module):
        def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :, 2].mean(dim=(1, 2, 3))[:, None] / 255.0

        def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
            return (x[:, 0, 0, 8:12].mean(dim=1) > 0).float()[:, None]

    class I3D(torch.nn.Module):
        def forward(self, x: torch.Tensor, **kwargs: bool) -> torch.Tensor:
            return x.float().mean(dim=(3, 4)).flatten(1)[:, :6] / 255.0

    class Pool(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            stats = [x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x.amax(dim=(2, 3)), x.amin(dim=(2, 3))]
            return [torch.cat(stats, 1)[..., None, None]]

    # 3D landmarks whose POS fit to the stand-in keypoints of a 512-px frame resizes it to about 224 px.
    pts = ARCFACE_TEMPLATE * (32 / 112)
    pts = (pts - pts.mean(0)) / 14.0
    lm3d = np.c_[pts[:, 0], -pts[:, 1], np.linspace(-0.1, 0.1, 5)]
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
        lm3d=lm3d,
        random_weights=True,
        fid_feature_dim=12,
        fvd_feature_dim=6,
    )


def child(root: Path, metrics: list[str], batch_frames: int, heap: bool = True) -> None:
    """Score root/gen against root/ref in this (fresh) process and print a JSON line."""
    import torch

    from float_eval import ClipSampling, EvalConfig, bound_heap_growth, evaluate

    torch.set_num_threads(max(1, torch.get_num_threads()))
    if heap:
        bound_heap_growth()  # as `float-eval run` does
    components = _components()
    baseline = _rss_kib("VmRSS")
    config = EvalConfig(
        generated=root / "gen",
        reference=root / "ref",
        metrics=metrics,
        device="cpu",
        batch_frames=batch_frames,
        fvd=ClipSampling(min_clips=2),
    )
    start = time.perf_counter()
    report = evaluate(config, components, progress=False)
    result = {
        "frames": report.per_video[0].frames_generated,
        "pairs": report.pairs_scored,
        "scored": all(v is not None for v in report.aggregate.values()),
        "problems": report.problem_counts,
        "baseline_mib": baseline / 1024,
        "peak_mib": _rss_kib("VmHWM") / 1024,
        "wall_s": time.perf_counter() - start,
    }
    print(json.dumps(result))


def make_pair(root: Path, seconds: float, size: int) -> Path:
    """root/gen/clip.mp4 and root/ref/clip.mp4: ``seconds`` of 25 fps ``size`` x ``size`` with a tone."""
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is not installed (apt-get install ffmpeg)")
    for side, pattern in (("gen", "testsrc2"), ("ref", "testsrc")):
        (root / side).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"{pattern}=size={size}x{size}:rate=25",
             "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000",
             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-ac", "1", str(root / side / "clip.mp4")],
            check=True,
        )  # fmt: skip
    return root


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--short-seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--metrics", default="fid,fvd,csim,efid,pfid,lse")
    parser.add_argument("--batch-frames", type=int, default=32)
    parser.add_argument("--keep", type=Path, help="write the videos here (and reuse them) instead of /tmp")
    parser.add_argument(
        "--glibc-default-heap",
        action="store_true",
        help="leave glibc's dynamic mmap threshold alone (float-eval run fixes it; see float_eval.runtime)",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    metrics = [m for m in args.metrics.split(",") if m]
    if args.child is not None:
        child(args.child, metrics, args.batch_frames, heap=not args.glibc_default_heap)
        return 0

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for label, seconds in (("short", args.short_seconds), ("long", args.long_seconds)):
            root = base / f"{label}_{seconds:g}s_{args.size}"
            if not (root / "ref" / "clip.mp4").is_file():
                make_pair(root, seconds, args.size)
            command = [sys.executable, __file__, "--child", str(root), "--metrics", args.metrics]
            output = subprocess.run(
                [*command, "--batch-frames", str(args.batch_frames)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[label] = json.loads(output.strip().splitlines()[-1])
    heap = "glibc default" if args.glibc_default_heap else "bounded (float_eval.runtime, as float-eval run)"
    print(f"metrics={args.metrics} size={args.size} batch_frames={args.batch_frames} heap={heap}")
    print("stand-in networks (no weights): the pipeline's own memory, not the networks'")
    print(f"{'video':>6} {'frames':>7} {'base MiB':>9} {'peak MiB':>9} {'+MiB':>8} {'wall s':>7}  scored")
    for label in ("short", "long"):
        r = results[label]
        print(
            f"{label:>6} {r['frames']:7d} {r['baseline_mib']:9.0f} {r['peak_mib']:9.0f} "
            f"{r['peak_mib'] - r['baseline_mib']:8.0f} {r['wall_s']:7.1f}  {r['scored']}"
        )
    short, long = results["short"], results["long"]
    ratio = long["peak_mib"] / short["peak_mib"]
    print(f"peak RSS ratio long/short: {ratio:.3f} (limit {LIMIT})")
    ok = ratio <= LIMIT and short["scored"] and long["scored"]
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
