"""A user's own official FLOAT checkpoint (float.pth) -> a FLOAT-kit bundle (``float-convert-official``).

float.pth is read as it really comes (:mod:`float_pipeline.official`: wrappers, stored buffers, wav2vec2 keys,
legacy format, other float dtypes) and its 274 parameters must all be there with the official shapes and
finite values. The three converters of the packages then map them: ``float_motion_ae.convert_official``
(177), ``float_audio.convert_official`` (4) and ``float_flow.convert_official`` (93), each also checking any
stored buffer against the constant it rebuilds. The bundle's consistency checks run before anything is
written. The two wav2vec2 models are not in float.pth: the bundle references them by folder or Hugging Face
id.

The official weights are CC BY-NC(-ND) 4.0: the notice is printed once and written into the bundle's model
card and ``bundle.json`` ``license``. We never ship the weights; the bundle is for the user's own
non-commercial use.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from float_audio import DEFAULT_BACKBONE, AudioProjection
from float_audio import OfficialLicenseWarning as AudioLicenseWarning
from float_audio import convert_official as convert_audio_projection
from float_emotion import PredictorSpec
from float_flow import FlowMatchingTransformer
from float_flow import OfficialLicenseWarning as FlowLicenseWarning
from float_flow import convert_official as convert_flow
from float_motion_ae import OFFICIAL_LICENSE_NOTICE as LICENSE_NOTICE
from float_motion_ae import MotionAutoEncoder
from float_motion_ae import OfficialLicenseWarning as MotionAELicenseWarning
from float_motion_ae import convert_official as convert_motion_ae
from float_pipeline.bundle import (
    BundleManifest,
    GenerationDefaults,
    Wav2Vec2AudioSpec,
    check_consistency,
    save_bundle,
)
from float_pipeline.official import (
    OFFICIAL_NUM_TENSORS,
    PREFIXES,
    ConversionError,
    OfficialCheckpoint,
    OfficialCheckpointWarning,
    inspect_official,
    read_official,
)
from float_pipeline.official_crop import SFD_FILE, find_sfd_weights

__all__ = [
    "DEFAULT_AUDIO_CHUNK_SECONDS",
    "DEFAULT_EMOTION_MODEL",
    "OFFICIAL_NUM_TENSORS",
    "ConversionError",
    "ConvertedOfficial",
    "OfficialCheckpointWarning",
    "convert_official_checkpoint",
    "convert_official_state",
    "read_official",
]

DEFAULT_EMOTION_MODEL = "r-f/wav2vec-english-speech-emotion-recognition"
"""The speech-emotion recogniser of the official release's automatic emotion (referenced, not copied)."""
DEFAULT_AUDIO_CHUNK_SECONDS = 30.0
"""Audio encoded in chunks of at most this long (bounded memory); 0 = the whole clip at once (official)."""
OFFICIAL_LICENSE = "cc-by-nc-nd-4.0"
NO_EMOTION_MODEL_NOTE = (
    "no emotion model (--emotion-model none): the bundle's default emotion is one-hot 'neutral', where the "
    "official release predicts the emotion from the speech; --emotion auto is unavailable with this bundle"
)
_LICENSE_WARNINGS = (MotionAELicenseWarning, FlowLicenseWarning, AudioLicenseWarning)


@dataclass
class ConvertedOfficial:
    """The three models converted from float.pth, and what was found in it (:class:`OfficialCheckpoint`)."""

    motion_ae: MotionAutoEncoder
    flow: FlowMatchingTransformer
    audio_projection: AudioProjection
    checkpoint: OfficialCheckpoint


def convert_official_state(state: Mapping[str, Any], notes: list[str] | None = None) -> ConvertedOfficial:
    """Check an (unwrapped) float.pth state dict and convert it into our three models, in memory.

    The licence warnings of the package converters are silenced here: say it once yourself.

    Raises:
        ConversionError: missing, misshapen, non-finite or non-float parameters, or a stored buffer that
            differs from the constant we rebuild (the message names the key).

    Warns:
        OfficialCheckpointWarning: keys no converter maps (listed; skipped).
    """
    checkpoint = inspect_official(state, notes)
    with warnings.catch_warnings():
        for category in _LICENSE_WARNINGS:
            warnings.simplefilter("ignore", category)
        try:
            motion_ae = convert_motion_ae(checkpoint.tensors)
            flow = convert_flow(checkpoint.tensors)
            projection = convert_audio_projection(checkpoint.tensors, in_dim=9216, out_dim=512)
        except (KeyError, ValueError) as error:
            raise ConversionError(str(error).strip("'\"")) from error
    return ConvertedOfficial(motion_ae, flow, projection, checkpoint)


def _backbone_width(backbone: str) -> int | None:
    """All-layer feature width of a wav2vec2 backbone folder (layers x hidden), None when not at hand."""
    config = Path(backbone).expanduser() / "config.json"
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text())
        return int(data["hidden_size"]) * int(data["num_hidden_layers"])
    except (ValueError, KeyError, TypeError):
        return None


def model_card(
    source: Path,
    backbone: str,
    ser: str | None,
    counts: dict[str, int],
    notes: list[str],
    defaults: GenerationDefaults,
    chunk_seconds: float,
) -> str:
    """The bundle README: provenance, licence notice, what is referenced, how it differs from the release."""
    lines = "\n".join(f"- `{prefix}*`: {count} tensors" for prefix, count in counts.items())
    found = "\n".join(f"- {note}" for note in notes) or "- nothing unusual: the 274 parameters, float32"
    chunking = (
        "the whole clip in one pass, as officially"
        if chunk_seconds == 0
        else f"{chunk_seconds:g}-second chunks cross-faded (official: the whole clip; see docs)"
    )
    emotion = (
        f"`auto`: predicted from the speech by `{ser}`, as officially"
        if ser is not None
        else "`neutral` (one-hot): " + NO_EMOTION_MODEL_NOTE
    )
    detector = (
        f"face-alignment's SFD, weights in `{defaults.detector_weights}`"
        if defaults.detector_weights
        else "face-alignment's SFD when its weights are found at generation time, else dlib's HOG (crops "
        "then differ from the official ones; float-generate says which one it used)"
    )
    return f"""# FLOAT (official weights, converted)

**Licence: CC BY-NC-ND 4.0 (non-commercial).** {LICENSE_NOTICE}

Converted by `float-convert-official` from `{source.name}` ({sum(counts.values())}/{OFFICIAL_NUM_TENSORS}
parameters, official shapes, all finite):

{lines}

What the file held besides:

{found}

Not stored here (referenced by `bundle.json`):

- audio backbone: `{backbone}` (wav2vec2-base-960h, all 12 layers concatenated -> 9216 -> projection)
- speech-emotion recogniser for `--emotion auto`: `{ser or "(none)"}`

Both are read from a local folder or the Hugging Face cache; nothing is downloaded at generation time.

Defaults (`bundle.json`), following the official release: 9 Euler steps (its `--nfe 10`), audio guidance 2,
emotion guidance 1; emotion {emotion}; face crop by the official rule (1.6x box, detection at height 360,
resize filter chosen by the image height) with {detector}; audio encoded in {chunking}; fresh noise per
window (`--fix-noise-seed` gives the official option of the same noise in every window). See "Using the
official weights" in docs/float-generate.md for what is identical and what differs.
"""


def convert_official_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    audio_backbone: str = DEFAULT_BACKBONE,
    emotion_model: str | None = DEFAULT_EMOTION_MODEL,
    audio_chunk_seconds: float = DEFAULT_AUDIO_CHUNK_SECONDS,
    detector_weights: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert an official float.pth into a bundle folder at ``out_dir`` (written atomically).

    The licence notice and one line per finding (unwrapped, cast, ignored keys, detector, ...) are printed
    to stderr and written into the model card.

    Args:
        audio_backbone: folder or Hugging Face id of wav2vec2-base-960h (referenced, not copied).
        emotion_model: folder or Hugging Face id of the speech-emotion recogniser for ``--emotion auto``;
            None leaves ``auto`` unavailable and makes one-hot ``neutral`` the default emotion (a note says
            so: the official release predicts it).
        audio_chunk_seconds: the bundle's audio chunk length (0: the whole clip in one pass, as officially).
        detector_weights: folder with face-alignment's ``s3fd-619a316812.pth`` for the official crop; None
            looks in the torch hub cache, where face-alignment keeps it. Not found: dlib at generation time.
        overwrite: replace an existing ``out_dir``.

    Raises:
        ConversionError: unreadable file, or tensors that are missing, misshapen, non-finite or inconsistent
            (the message names them).
    """
    source = Path(checkpoint)
    print(f"float-convert-official: {LICENSE_NOTICE}", file=sys.stderr)
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise ConversionError(f"{out} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if audio_chunk_seconds < 0:
        raise ConversionError(f"audio_chunk_seconds must be >= 0 (0: whole clip), got {audio_chunk_seconds}")
    state, notes = read_official(source)
    converted = convert_official_state(state, notes)
    notes = list(converted.checkpoint.notes)
    sfd = find_sfd_weights(detector_weights)
    if sfd is not None:
        notes.append(f"official crop: face-alignment's SFD weights found in {sfd}")
    else:
        notes.append(
            f"official crop: face-alignment's SFD weights ({SFD_FILE}) not found"
            + (f" in {detector_weights}" if detector_weights else " in the torch hub cache")
            + "; until they are (--detector-weights), float-generate finds the face with dlib's HOG and "
            "crops can differ from the official ones"
        )
    if emotion_model is None:
        notes.append(NO_EMOTION_MODEL_NOTE)
    defaults = GenerationDefaults(
        steps=9,
        method="euler",
        audio_scale=2.0,
        emotion_scale=1.0,
        emotion="neutral" if emotion_model is None else "auto",
        crop_rule="official",
        detector="auto",
        detector_weights=None if sfd is None else str(sfd),
    )
    audio = Wav2Vec2AudioSpec(backbone=audio_backbone, layers="all", chunk_seconds=audio_chunk_seconds)
    manifest = BundleManifest(
        resolution=converted.motion_ae.config.size,
        audio=audio,
        emotion_predictor=None
        if emotion_model is None
        else PredictorSpec(name="speech", options={"model": emotion_model}),
        defaults=defaults,
        license=OFFICIAL_LICENSE,
        description=f"official FLOAT weights converted from {source.name} (CC BY-NC-ND 4.0, non-commercial)",
    )
    problems = check_consistency(
        manifest,
        converted.motion_ae,
        converted.flow,
        converted.audio_projection,
        _backbone_width(audio_backbone),
    )
    if problems:
        raise ConversionError(f"{source}: the converted parts do not fit together: " + "; ".join(problems))
    for note in notes:
        print(f"float-convert-official: note: {note}", file=sys.stderr)
    counts = converted.checkpoint.counts()
    assert sum(counts.values()) == OFFICIAL_NUM_TENSORS and set(counts) == set(PREFIXES)
    card = model_card(source, audio_backbone, emotion_model, counts, notes, defaults, audio_chunk_seconds)
    return save_bundle(
        out,
        manifest=manifest,
        motion_ae=converted.motion_ae,
        flow=converted.flow,
        audio_projection=converted.audio_projection,
        model_card=card,
        overwrite=overwrite,
    )
