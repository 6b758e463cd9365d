"""A user's own official FLOAT checkpoint (float.pth) -> a FLOAT-kit bundle (``float-convert-official``).

The three converters of the packages are strict (every tensor present with its exact shape, no unknown key):
``float_motion_ae.convert_official`` (177 tensors), ``float_audio.convert_official`` (4) and
``float_flow.convert_official`` (93); together they must account for all 274 tensors of float.pth. The two
wav2vec2 models are not in float.pth: the bundle references them by folder or Hugging Face id.

The official weights are CC BY-NC(-ND) 4.0: the notice is printed and written into the bundle's model card and
``bundle.json`` ``license``. We never ship the weights; the bundle is for the user's own non-commercial use.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from float_audio import (
    DEFAULT_BACKBONE,
    OFFICIAL_PROJECTION_PREFIX,
)
from float_audio import convert_official as convert_audio_projection
from float_emotion import PredictorSpec
from float_flow import convert_official as convert_flow
from float_motion_ae import OFFICIAL_LICENSE_NOTICE as LICENSE_NOTICE
from float_motion_ae import convert_official as convert_motion_ae
from float_pipeline.bundle import BundleManifest, GenerationDefaults, Wav2Vec2AudioSpec, save_bundle

__all__ = [
    "DEFAULT_EMOTION_MODEL",
    "OFFICIAL_NUM_TENSORS",
    "ConversionError",
    "check_coverage",
    "convert_official_checkpoint",
    "read_official",
]

OFFICIAL_NUM_TENSORS = 274
DEFAULT_EMOTION_MODEL = "r-f/wav2vec-english-speech-emotion-recognition"
"""The speech-emotion recogniser of the official release's automatic emotion (referenced, not copied)."""
PREFIXES = {"motion_autoencoder.": 177, OFFICIAL_PROJECTION_PREFIX: 4, "fmt.": 93}
OFFICIAL_LICENSE = "cc-by-nc-nd-4.0"


class ConversionError(RuntimeError):
    """float.pth cannot be converted (missing, not a state dict, or tensors that do not map one-to-one)."""


def read_official(path: str | Path) -> dict[str, torch.Tensor]:
    """Load float.pth (weights only, memory-mapped, on CPU) as a name -> tensor dict.

    Raises:
        ConversionError: the file is missing or does not hold a name -> tensor dict.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(
            f"official checkpoint not found: {path}; download float.pth yourself from the FLOAT release "
            "(github.com/deepbrainai-research/float) and pass its path"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors here
        raise ConversionError(f"{path} is not a readable PyTorch checkpoint ({error})") from error
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f"{path} does not hold a name -> tensor state dict")
    return dict(state)


def check_coverage(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Count the tensors under each official prefix; every key must belong to one of them.

    Raises:
        ConversionError: keys under no known prefix (listed), or per-prefix counts unlike the release's.
    """
    counts = {prefix: sum(1 for k in state if k.startswith(prefix)) for prefix in PREFIXES}
    stray = sorted(k for k in state if not k.startswith(tuple(PREFIXES)))
    if stray:
        shown = ", ".join(stray[:8]) + (f", ... ({len(stray) - 8} more)" if len(stray) > 8 else "")
        raise ConversionError(f"float.pth has {len(stray)} tensor(s) no converter maps: {shown}")
    wrong = [f"{p}*: {counts[p]} (expected {n})" for p, n in PREFIXES.items() if counts[p] != n]
    if wrong:
        raise ConversionError("float.pth tensor counts differ from the official release: " + "; ".join(wrong))
    return counts


def model_card(source: Path, backbone: str, ser: str, counts: dict[str, int]) -> str:
    """The bundle README: provenance, licence notice, what is referenced rather than stored."""
    lines = "\n".join(f"- `{prefix}*`: {count} tensors" for prefix, count in counts.items())
    return f"""# FLOAT (official weights, converted)

**Licence: CC BY-NC-ND 4.0 (non-commercial).** {LICENSE_NOTICE}

Converted by `float-convert-official` from `{source.name}` ({sum(counts.values())}/{OFFICIAL_NUM_TENSORS}
tensors, strict):

{lines}

Not stored here (referenced by `bundle.json`):

- audio backbone: `{backbone}` (wav2vec2-base-960h, all 12 layers concatenated -> 9216 -> projection)
- speech-emotion recogniser for `--emotion auto`: `{ser}`

Both are read from a local folder or the Hugging Face cache; nothing is downloaded at generation time.
Defaults follow the official release: 9 Euler steps (its `--nfe 10`), audio guidance 2, emotion guidance 1,
emotion predicted from the speech.
"""


def convert_official_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    audio_backbone: str = DEFAULT_BACKBONE,
    emotion_model: str | None = DEFAULT_EMOTION_MODEL,
    overwrite: bool = False,
) -> Path:
    """Convert an official float.pth into a bundle folder at ``out_dir`` (written atomically).

    Args:
        audio_backbone: folder or Hugging Face id of wav2vec2-base-960h (referenced, not copied).
        emotion_model: folder or Hugging Face id of the speech-emotion recogniser for ``--emotion auto``;
            None leaves ``auto`` unavailable and makes ``neutral`` the default emotion.
        overwrite: replace an existing ``out_dir``.

    Raises:
        ConversionError: unreadable file or tensors that do not map one-to-one (the message names them).
    """
    source = Path(checkpoint)
    print(f"float-convert-official: {LICENSE_NOTICE}", file=sys.stderr)
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise ConversionError(f"{out} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    state = read_official(source)
    counts = check_coverage(state)
    with warnings.catch_warnings():
        # The licence was stated once above; the packages' own warnings would repeat it three times.
        warnings.simplefilter("ignore", UserWarning)
        try:
            motion_ae = convert_motion_ae(state)
            flow = convert_flow(state)
            projection = convert_audio_projection(state, in_dim=9216, out_dim=512)
        except (KeyError, ValueError) as error:
            raise ConversionError(f"{source}: {error}") from error
    manifest = BundleManifest(
        resolution=motion_ae.config.size,
        audio=Wav2Vec2AudioSpec(backbone=audio_backbone, layers="all"),
        emotion_predictor=None
        if emotion_model is None
        else PredictorSpec(name="speech", options={"model": emotion_model}),
        defaults=GenerationDefaults(
            steps=9,
            method="euler",
            audio_scale=2.0,
            emotion_scale=1.0,
            emotion="neutral" if emotion_model is None else "auto",
        ),
        license=OFFICIAL_LICENSE,
        description=f"official FLOAT weights converted from {source.name} (CC BY-NC-ND 4.0, non-commercial)",
    )
    card = model_card(source, audio_backbone, emotion_model or "(none)", counts)
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=motion_ae,
        flow=flow,
        audio_projection=projection,
        model_card=card,
        overwrite=overwrite,
    )
