"""``float-train``: ``ae CONFIG``, ``fmt CONFIG`` and ``export RUN_DIR OUT_DIR``.

Runs as is on one CPU or GPU; ``accelerate launch --multi_gpu --num_processes N -m float_train fmt CONFIG``
(GPUs, or CPU processes over gloo with ``--set train.device=cpu``; ``apps/float-train/accelerate/`` holds
DDP configs for one and several machines) or ``torchrun`` runs the same code on several processes. Bad
input prints one ``error:`` message and exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from float_train.config import ConfigError, load_config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train FLOAT's motion auto-encoder (ae) and flow-matching transformer (fmt); export a bundle.",
)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML or TOML config (docs/float-train.md lists every field).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a field: --set optim.lr=1e-4 (repeatable; value parsed as YAML)."),
]
RunDirOpt = Annotated[Path | None, typer.Option("--run-dir", help="Output folder (overrides run_dir).")]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue from the newest complete checkpoint of the run dir.")
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show the progress bar.")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _train(
    stage: str, config: Path, overrides: list[str] | None, run_dir: Path | None, resume: bool, progress: bool
) -> None:
    from float_train.loop import RunError

    try:
        cfg = load_config(config, stage, overrides, run_dir)
        if stage == "ae":
            from float_train.ae import AETrainer

            trainer = AETrainer(cfg, resume=resume, show_progress=progress)  # type: ignore[arg-type]
        else:
            from float_train.fmt import FMTTrainer

            trainer = FMTTrainer(cfg, resume=resume, show_progress=progress)  # type: ignore[arg-type]
        result = trainer.run()
    except (ConfigError, RunError) as error:
        _fail(str(error))
        return
    if trainer.is_main:
        summary = {k: v for k, v in result.last_log.items() if k in ("step", "loss")}
        typer.echo(f"done: {result.run_dir} {summary} {result.last_validation or ''}".rstrip())


@app.command()
def ae(
    config: ConfigArg,
    set_: SetOpt = None,
    run_dir: RunDirOpt = None,
    resume: ResumeOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Stage 1: train the motion auto-encoder on (source, driving) frame pairs."""
    _train("ae", config, set_, run_dir, resume, progress)


@app.command()
def fmt(
    config: ConfigArg,
    set_: SetOpt = None,
    run_dir: RunDirOpt = None,
    resume: ResumeOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Stage 2: train the flow-matching transformer and audio projection on cached motion latents."""
    _train("fmt", config, set_, run_dir, resume, progress)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A stage-2 run dir (float-train fmt).")],
    out_dir: Annotated[Path, typer.Argument(help="Bundle folder to write.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing OUT_DIR.")] = False,
    ema: Annotated[
        bool, typer.Option("--ema/--no-ema", help="Use EMA weights when the run has them.")
    ] = True,
    card: Annotated[
        Path | None,
        typer.Option("--card", help="Markdown model card to store as README.md (default: one generated)."),
    ] = None,
    renderer: Annotated[
        Path | None,
        typer.Option(
            "--renderer",
            help="Ship this auto-encoder instead of the run's: a `trainable: decoder` fine-tune of it "
            "(stage-1 run dir or model folder; its encoder and motion basis must be the run's).",
        ),
    ] = None,
) -> None:
    """Write the inference bundle (auto-encoder, transformer, audio projection, configs, model card)."""
    from float_train.export import export_bundle

    try:
        path = export_bundle(run_dir, out_dir, overwrite=overwrite, use_ema=ema, card=card, renderer=renderer)
    except ConfigError as error:
        _fail(str(error))
        return
    typer.echo(f"bundle written to {path}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="float-train")


if __name__ == "__main__":
    sys.exit(main())
