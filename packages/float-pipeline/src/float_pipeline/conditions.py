"""The non-image conditions of one generation: emotion vector and optional head pose, from user options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from float_emotion import (
    EMOTIONS,
    NUM_EMOTIONS,
    EmotionPredictor,
    PredictorSpec,
    apply_intensity,
    available_predictors,
    get_predictor_factory,
    parse_emotion_option,
)
from float_pipeline.bundle import Bundle
from float_pipeline.errors import OptionError


def parse_emotion(text: str) -> PredictorSpec:
    """An ``--emotion`` value other than ``auto`` -> the predictor it asks for, checked to exist (nothing is
    built or loaded: this runs before the bundle loads).

    Raises:
        OptionError: malformed text, a non-finite number, or a name that is neither an emotion nor a
            registered predictor (the message lists both).
    """
    try:
        spec = parse_emotion_option(text)
    except ValueError as error:  # pydantic's ValidationError included (e.g. happy@inf)
        raise OptionError(f"--emotion {text!r}: {' '.join(str(error).split())}") from None
    try:
        get_predictor_factory(spec.name)
    except KeyError:
        raise OptionError(
            f"--emotion {text!r} is not an emotion ({', '.join(EMOTIONS)}), a mix such as 'happy=2,sad=1', "
            f"'auto', or a predictor ({', '.join(available_predictors())}, e.g. speech:model=FOLDER)"
        ) from None
    except ImportError as error:
        raise OptionError(f"--emotion {text!r}: {error}") from None
    return spec


def emotion_spec(bundle: Bundle, emotion: str | None) -> PredictorSpec:
    """The predictor an ``emotion`` option asks for (None: bundle default; 'auto': the bundle's predictor).

    Raises:
        OptionError: 'auto' on a bundle without a predictor, or text :func:`parse_emotion` rejects.
    """
    text = bundle.manifest.defaults.emotion if emotion is None else emotion
    if text.strip().lower() == "auto":
        if bundle.manifest.emotion_predictor is None:
            raise OptionError(
                f"--emotion auto needs an emotion predictor, and bundle {bundle.path} has none "
                "(bundle.json emotion_predictor); pass an emotion name such as --emotion happy"
            )
        return bundle.manifest.emotion_predictor
    return parse_emotion(text)


def build_predictor(spec: PredictorSpec) -> EmotionPredictor:
    """Build the predictor of ``spec``; a user's mistake in its options becomes an :class:`OptionError`.

    Raises:
        OptionError: unknown option names or values the predictor refuses (e.g. a model without a head).
        FileNotFoundError: the model is neither a folder nor in the local cache (the message says how).
    """
    try:
        return spec.build()
    except FileNotFoundError:
        raise
    except (KeyError, TypeError, ValueError, ImportError) as error:
        detail = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise OptionError(f"emotion predictor {spec.name!r} ({spec.options}): {detail}") from None


def predict_emotion(
    predictor: EmotionPredictor, waveform: torch.Tensor, portrait: np.ndarray, intensity: float
) -> torch.Tensor:
    """``[1, 7]`` float32 emotion distribution of the clip (audio: from the 16 kHz ``[N]`` waveform; image:
    from the ``portrait`` crop, uint8 [S, S, 3]; none: constant), sharpened or softened by ``intensity``."""
    if predictor.modality == "audio":
        probs = predictor.predict(waveform[None])
    elif predictor.modality == "image":
        probs = predictor.predict([Image.fromarray(portrait)])
    else:
        probs = predictor.predict(waveform[None])
    probs = probs.detach().to("cpu", torch.float32).reshape(1, NUM_EMOTIONS)
    return apply_intensity(probs, intensity) if intensity != 1.0 else probs


def load_pose(pose_from: str | None, bundle: Bundle, num_frames: int) -> torch.Tensor | None:
    """``[1, T, p]`` float32 head pose for a bundle with a pose condition, or None ("unknown pose").

    ``pose_from`` is a ``.npy``, ``.pt`` or ``.csv`` file holding ``[T', p]`` values (one row per 25 fps
    frame; a shorter sequence repeats its last row, a longer one is cut), ``'none'`` or None.

    Raises:
        OptionError: a pose file for a pose-free bundle, a missing/unreadable file, or the wrong width.
    """
    dim_pose = bundle.flow.config.dim_pose
    if pose_from is None or pose_from.strip().lower() == "none":
        return None
    if dim_pose == 0:
        raise OptionError(
            f"--pose-from {pose_from}: bundle {bundle.path} has no head-pose condition (flow dim_pose = 0); "
            "drop the option or use a bundle trained with pose"
        )
    path = Path(pose_from)
    if not path.is_file():
        raise OptionError(
            f"--pose-from: file not found: {path}; pass a .npy, .pt or .csv [frames, {dim_pose}]"
        )
    try:
        if path.suffix == ".npy":
            values = torch.from_numpy(np.load(path))
        elif path.suffix == ".pt":
            values = torch.load(path, map_location="cpu", weights_only=True)
        elif path.suffix == ".csv":
            values = torch.from_numpy(np.loadtxt(path, delimiter=",", ndmin=2))
        else:
            raise OptionError(
                f"--pose-from {path}: use a .npy, .pt or .csv file of shape [frames, {dim_pose}]"
            )
    except (OSError, ValueError, RuntimeError) as error:
        raise OptionError(f"--pose-from {path} could not be read: {error}") from error
    if (
        not isinstance(values, torch.Tensor)
        or values.ndim != 2
        or values.shape[1] != dim_pose
        or not len(values)
    ):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise OptionError(f"--pose-from {path} must hold [frames, {dim_pose}] values, got {shape}")
    values = values.to(torch.float32)[:num_frames]
    if values.shape[0] < num_frames:
        values = torch.cat([values, values[-1:].expand(num_frames - values.shape[0], -1)])
    return values[None]
