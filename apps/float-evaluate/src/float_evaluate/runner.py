"""One evaluation run: reference clips -> generated clips (resumable) -> float-eval report beside Table 1.

No model maths here: float-data reads the split, float_pipeline.Pipeline renders, float_eval scores.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from float_data import PreparedDataset
from float_eval import (
    ClipSampling,
    Components,
    EvalConfig,
    Report,
    evaluate,
    required_weights,
    resolve_weight,
)
from float_evaluate.config import EvaluateConfig
from float_evaluate.references import ReferenceClip, export_reference, select_videos
from float_pipeline import GenerateError, GenerateOptions, OutputError, Pipeline, write_text_atomic

__all__ = ["EvaluationRun", "check_out_folder", "run_evaluation", "write_reports"]


def check_out_folder(out: Path) -> None:
    """``--out`` must be a folder, or a path where one can be created: checked before any work, so a run is
    never lost to a location it cannot write its results in.

    Raises:
        OutputError: ``out`` (or a folder above it) is a file, or the nearest existing folder is not writable.
    """
    out = Path(out).expanduser()
    existing = next(path for path in [out, *out.absolute().parents] if path.exists())
    if not existing.is_dir():
        where = "is a file" if existing == out else f"cannot be created: {existing} is a file"
        raise OutputError(
            f"--out {out} {where}; pass a folder (it receives reference/, generated/ and the reports)"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: {existing} is not writable; choose another --out")


@dataclass
class EvaluationRun:
    """What a run did: the clips, which were generated now or found, which failed, and the report."""

    report: Report
    clips: list[ReferenceClip]
    generated: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    json_path: Path | None = None
    markdown_path: Path | None = None


def _remove_stale_parts(folder: Path) -> None:
    # Hidden ``.<id>.*.part.mp4`` files are what a killed writer leaves; they are ours and never complete.
    for part in folder.glob(".*.part.*"):
        part.unlink(missing_ok=True)


def _options(config: EvaluateConfig) -> GenerateOptions:
    return GenerateOptions(crop=config.crop, steps=config.steps, seed=config.seed, emotion=config.emotion)


def _generate(
    config: EvaluateConfig, pipeline: Pipeline, clips: list[ReferenceClip], run: EvaluationRun
) -> None:
    options = _options(config)
    for clip in tqdm(clips, desc="generate", unit="video", disable=not config.progress):
        out = config.generated_dir / f"{clip.video_id}.mp4"
        if out.is_file():
            run.resumed.append(clip.video_id)
            continue
        try:
            result = pipeline.generate(clip.portrait, clip.audio, out, options)
        except (GenerateError, ValueError, RuntimeError) as error:
            # One bad video must not stop the run: it is reported per video and counted.
            run.failed[clip.video_id] = f"{type(error).__name__}: {error}"
            continue
        if result.num_frames != clip.n_frames:
            run.failed[clip.video_id] = (
                f"generated {result.num_frames} frames for {clip.n_frames} reference frames"
            )
        run.generated.append(clip.video_id)


def _eval_config(config: EvaluateConfig, names: list[str]) -> EvalConfig:
    return EvalConfig(
        generated=config.generated_dir,
        reference=config.reference_dir,
        sources=config.sources_dir,
        metrics=config.metrics,
        only=names,
        weights_dir=config.weights_dir,
        device=config.resolved_device,
        fvd=ClipSampling(min_clips=config.fvd_min_clips),
        lse_min_track=config.lse_min_track,
        lse_min_face_size=config.lse_min_face_size,
        face_detector=config.face_detector,
        check_digests=config.check_digests,
    )


def _annotate(report: Report, config: EvaluateConfig, pipeline: Pipeline, run: EvaluationRun) -> None:
    manifest = pipeline.bundle.manifest
    report.settings["float_evaluate"] = {
        "checkpoint": config.checkpoint or "embedded demo bundle",
        "bundle_description": manifest.description,
        "bundle_resolution": pipeline.resolution,
        "data": str(config.data),
        "split": config.split,
        "videos": len(run.clips),
        "limit": config.limit,
        "device": config.resolved_device,
        "generation": _options(config).model_dump(mode="json", exclude_none=True),
        "generated_now": len(run.generated),
        "resumed": len(run.resumed),
        "source_portrait": "first frame of each prepared crop (sources/<id>.png)",
        "audio": "the prepared split's aligned 16 kHz audio (sources/<id>.wav)",
    }
    by_name = {v.name: v for v in report.per_video}
    for name, message in run.failed.items():
        report.problem_counts["generation failed"] = report.problem_counts.get("generation failed", 0) + 1
        if name in by_name:
            by_name[name].problems.insert(0, f"generation: {message}")


def write_reports(report: Report, out: Path, paper_table: bool) -> tuple[Path, Path]:
    """``out/report.json`` and ``out/report.md`` (beside FLOAT's Table 1 when ``paper_table``), atomically."""
    json_path, md_path = out / "report.json", out / "report.md"
    write_text_atomic(json_path, json.dumps(json.loads(report.model_dump_json()), indent=2) + "\n")
    write_text_atomic(md_path, report.markdown(with_paper=paper_table))
    return json_path, md_path


def run_evaluation(
    config: EvaluateConfig,
    *,
    pipeline: Pipeline | None = None,
    components: Components | None = None,
) -> EvaluationRun:
    """Export the split's reference clips, generate the missing videos, score everything, write the reports.

    ``pipeline`` defaults to ``Pipeline.from_pretrained(config.checkpoint)``; ``components`` to float-eval's
    networks from ``config.weights_dir`` (tests pass stand-ins; the report then says the numbers are not
    metrics).

    Raises:
        float_pipeline.OutputError: ``config.out`` is a file or cannot be written (checked first).
        FileNotFoundError: ``config.data`` is not a prepared dataset.
        ValueError: the split is empty or a prepared video is not 25 fps / 16 kHz.
        float_pipeline.BundleError, float_eval.WeightsError: a missing bundle or weight file (named).
    """
    check_out_folder(config.out)
    dataset = PreparedDataset(config.data, cache_dir=config.out / ".hf_cache")
    entries = select_videos(dataset, config.split, config.limit)
    if pipeline is None:
        pipeline = Pipeline.from_pretrained(
            config.checkpoint, device=config.resolved_device, progress=False, tune_allocator=True
        )
    if components is None:
        # Fail on a missing or wrong metric weight file now, not after hours of generation.
        for name in required_weights(_eval_config(config, [])):
            resolve_weight(name, config.weights_dir, verify=config.check_digests)
    for folder in (config.reference_dir, config.generated_dir, config.sources_dir):
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(folder)
    clips = [
        export_reference(dataset, entry, config.split, config.reference_dir, config.sources_dir)
        for entry in tqdm(entries, desc="reference clips", unit="video", disable=not config.progress)
    ]
    run = EvaluationRun(
        report=Report(aggregate={}, per_video=[], problem_counts={}, settings={}), clips=clips
    )
    _generate(config, pipeline, clips, run)
    names = [clip.video_id for clip in clips]
    report = evaluate(_eval_config(config, names), components, progress=config.progress)
    _annotate(report, config, pipeline, run)
    run.report = report
    run.json_path, run.markdown_path = write_reports(report, config.out, config.paper_table)
    return run
