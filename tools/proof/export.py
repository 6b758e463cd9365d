"""Write the inference bundle of a trained demo run with ``float_pipeline.save_bundle``."""

from __future__ import annotations

from pathlib import Path

from float_audio import AudioProjection
from float_flow import FlowMatchingTransformer
from float_motion_ae import MotionAutoEncoder
from float_pipeline import BundleManifest, save_bundle
from proof.recipe import FMTRecipe

DEFAULT_CARD = """# FLOAT-kit demo bundle

A small FLOAT model trained by `python -m proof.train` (see docs/proof.md). Licence: Apache-2.0.
"""


def export_bundle(
    ae_run: Path, fmt_run: Path, out: Path, *, card: Path | None = None, overwrite: bool = False
) -> Path:
    """Bundle ``ae_run/motion_ae`` and ``fmt_run/{flow,audio_projection}`` with the recipe's audio spec and
    sampling defaults into ``out`` (atomic; ``overwrite`` replaces an existing bundle)."""
    ae_dir = ae_run / "motion_ae" if (ae_run / "motion_ae").is_dir() else ae_run
    recipe_file = fmt_run / "fmt_recipe.json"
    if not recipe_file.is_file():
        raise FileNotFoundError(f"{recipe_file} is missing: {fmt_run} is not a finished stage-2 run")
    recipe = FMTRecipe.model_validate_json(recipe_file.read_text())
    motion_ae = MotionAutoEncoder.from_pretrained(str(ae_dir))
    manifest = BundleManifest(
        resolution=motion_ae.config.size,
        audio=recipe.audio,
        defaults=recipe.defaults,
        license="apache-2.0",
        description="FLOAT-kit demo model trained on the offline espeak-ng talking-face corpus "
        "(docs/proof.md)",
    )
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=FlowMatchingTransformer.from_pretrained(str(fmt_run / "flow")),
        audio_projection=AudioProjection.from_pretrained(str(fmt_run / "audio_projection")),
        model_card=card.read_text() if card is not None else DEFAULT_CARD,
        overwrite=overwrite,
    )
