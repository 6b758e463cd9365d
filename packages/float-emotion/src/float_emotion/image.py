"""Image-driven emotion (the paper's image-to-emotion option) with a Hugging Face image-classification model.

Facial-expression classifiers expect a face crop; FLOAT-kit portraits are already face crops, so the source
portrait can be passed as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from float_emotion.checkpoints import (
    MissingHeadError,
    describe_source,
    head_keys,
    load_classifier,
    resolve_local_files_only,
)
from float_emotion.labels import LabelMapping

ImageInput = Image.Image | str | Path | np.ndarray | Tensor


@runtime_checkable
class ImageEmotionPredictor(Protocol):
    """An emotion predictor driven by images (``modality = "image"``): images -> ``[B, 7]``."""

    modality: str

    def predict(self, inputs: Any) -> Tensor:
        """``[B, 7]`` float32 distributions, rows sum to 1, order :data:`float_emotion.EMOTIONS`."""
        ...


def _to_uint8_hwc(array: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    low, high = value_range
    scaled = (array.astype(np.float32) - low) / (high - low)
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_pil_images(images: Any, value_range: tuple[float, float] = (-1.0, 1.0)) -> list[Image.Image]:
    """Normalise image inputs to a list of RGB PIL images.

    Accepts a PIL image, a path, a uint8 ``[H, W, 3]`` array, a float tensor/array ``[3, H, W]`` or
    ``[B, 3, H, W]`` with values in ``value_range`` (FLOAT-kit portraits: ``[-1, 1]``), or a list of these.
    """
    if isinstance(images, Tensor):
        images = images.detach().cpu().float().numpy()
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [item for image in images for item in to_pil_images(image, value_range)]
    if isinstance(images, Sequence) and not isinstance(images, str | bytes):
        if not images:
            raise ValueError("images is empty: give at least one image")
        return [item for image in images for item in to_pil_images(image, value_range)]
    # EXIF orientation (phone photos) is applied, as every viewer does, so the face is upright.
    if isinstance(images, Image.Image):
        return [ImageOps.exif_transpose(images).convert("RGB")]
    if isinstance(images, str | Path):
        path = Path(images)
        if not path.is_file():
            raise FileNotFoundError(f"image file {str(path)!r} does not exist")
        with Image.open(path) as opened:
            return [ImageOps.exif_transpose(opened).convert("RGB")]
    if isinstance(images, np.ndarray):
        array = images
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.transpose(array, (1, 2, 0))  # CHW -> HWC
        if array.ndim != 3 or array.shape[-1] not in (1, 3):
            raise ValueError(f"image arrays must be [H, W, 3] or [3, H, W], got shape {array.shape}")
        array = _to_uint8_hwc(array, value_range)
        return [Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).convert("RGB")]
    raise TypeError(f"unsupported image input of type {type(images).__name__}")


class ImageEmotionRecognizer:
    """Any Hugging Face image-classification model (facial expression) as an emotion predictor.

    Args:
        model: local folder (``save_pretrained`` of the model and its image processor) or hub id in the cache.
        label_mapping: model label -> canonical emotion (or ``None`` to drop), see :class:`LabelMapping`.
        device: where the model runs; outputs are float32 on the CPU.
        value_range: value range of float tensor/array inputs (default ``[-1, 1]``, FLOAT-kit portraits).
        revision: hub revision, when ``model`` is a hub id.
        local_files_only: read ``model`` from disk only (a folder or the local HF cache); None (default):
            True unless the environment variable ``FLOAT_ALLOW_DOWNLOADS`` is 1.

    Raises:
        MissingHeadError: the checkpoint has no trained image-classification head.
        FileNotFoundError: no image processor (``preprocessor_config.json``) next to the model.
        ValueError: model labels that cannot be mapped.
    """

    modality = "image"

    def __init__(
        self,
        model: str | Path,
        *,
        label_mapping: Mapping[str, str | None] | None = None,
        device: str | torch.device = "cpu",
        value_range: tuple[float, float] = (-1.0, 1.0),
        max_batch: int = 16,
        revision: str | None = None,
        local_files_only: bool | str | None = None,
    ) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.source = str(model)
        self.device = torch.device(device)
        self.value_range = value_range
        self.max_batch = max_batch
        offline = resolve_local_files_only(local_files_only)
        hf_model, missing, _ = load_classifier(
            AutoModelForImageClassification,
            model,
            task="image-classification",
            revision=revision,
            local_files_only=offline,
        )
        missing_head = head_keys(missing, hf_model.base_model_prefix)
        if missing_head:
            raise MissingHeadError(
                f"{describe_source(model)} has no trained image-classification head: weights "
                f"{missing_head} are missing from the checkpoint; give a model fine-tuned for "
                "facial-expression classification"
            )
        try:
            self.processor = AutoImageProcessor.from_pretrained(
                str(model), revision=revision, local_files_only=offline
            )
        except (OSError, ValueError) as error:
            raise FileNotFoundError(
                f"no image processor (preprocessor_config.json) for {describe_source(model)}: save one "
                "next to the model with processor.save_pretrained(folder)"
            ) from error
        self.model = hf_model.to(self.device)
        self.mapping = LabelMapping.from_id2label(hf_model.config.id2label, label_mapping)

    @property
    def model_labels(self) -> tuple[str, ...]:
        """The model's own class names in index order."""
        return self.mapping.model_labels

    @torch.inference_mode()
    def model_probabilities(self, images: Any) -> Tensor:
        """Softmax over the model's own K classes -> ``[B, K]`` float32 on the CPU."""
        pil = to_pil_images(images, self.value_range)
        chunks = []
        for start in range(0, len(pil), self.max_batch):
            batch = self.processor(images=pil[start : start + self.max_batch], return_tensors="pt")
            pixels = batch["pixel_values"].to(self.device)
            chunks.append(torch.softmax(self.model(pixel_values=pixels).logits.float(), dim=-1).cpu())
        return torch.cat(chunks)

    def predict(self, inputs: Any) -> Tensor:
        """Images (see :func:`to_pil_images`) -> ``[B, 7]`` canonical distributions, rows sum to 1."""
        return self.mapping.apply(self.model_probabilities(inputs))

    def __repr__(self) -> str:
        return f"ImageEmotionRecognizer({self.source!r}, mapping={self.mapping.as_dict()})"
