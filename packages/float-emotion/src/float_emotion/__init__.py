"""float-emotion: swappable emotion predictors for FLOAT behind one protocol, with redirect and intensity.

Every predictor maps its input to a ``[B, 7]`` distribution over :data:`EMOTIONS` (rows sum to 1); audio
predictors can also give ``[B, W, 7]`` per-window distributions.
"""

from float_emotion.checkpoints import DOWNLOAD_ENV, MissingHeadError, resolve_local_files_only
from float_emotion.fixed import EmotionMix, FixedEmotion
from float_emotion.image import ImageEmotionPredictor, ImageEmotionRecognizer, to_pil_images
from float_emotion.intensity import WithIntensity, apply_intensity
from float_emotion.labels import (
    EMOTIONS,
    LABEL_ALIASES,
    NEUTRAL_INDEX,
    NUM_EMOTIONS,
    LabelMapping,
    emotion_index,
    one_hot,
)
from float_emotion.protocol import SAMPLE_RATE, EmotionPredictor, WindowedEmotionPredictor
from float_emotion.registry import (
    ENTRY_POINT_GROUP,
    PredictorSpec,
    available_predictors,
    create_predictor,
    get_predictor_factory,
    parse_emotion_option,
    register_predictor,
    unregister_predictor,
)
from float_emotion.speech import SpeechEmotionRecognizer, normalise_waveform
from float_emotion.windows import window_bounds

__all__ = [
    "DOWNLOAD_ENV",
    "EMOTIONS",
    "ENTRY_POINT_GROUP",
    "LABEL_ALIASES",
    "NEUTRAL_INDEX",
    "NUM_EMOTIONS",
    "SAMPLE_RATE",
    "EmotionMix",
    "EmotionPredictor",
    "FixedEmotion",
    "ImageEmotionPredictor",
    "ImageEmotionRecognizer",
    "LabelMapping",
    "MissingHeadError",
    "PredictorSpec",
    "SpeechEmotionRecognizer",
    "WindowedEmotionPredictor",
    "WithIntensity",
    "apply_intensity",
    "available_predictors",
    "create_predictor",
    "emotion_index",
    "get_predictor_factory",
    "normalise_waveform",
    "one_hot",
    "parse_emotion_option",
    "register_predictor",
    "resolve_local_files_only",
    "to_pil_images",
    "unregister_predictor",
    "window_bounds",
]
