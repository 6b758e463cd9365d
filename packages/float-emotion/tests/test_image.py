from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from float_emotion import (
    EMOTIONS,
    EmotionPredictor,
    ImageEmotionPredictor,
    ImageEmotionRecognizer,
    MissingHeadError,
    to_pil_images,
)

# FER2013's label order, with capitals as many hub checkpoints spell it
FER_LABELS = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]


def _vit_config(labels: list[str]):
    from transformers import ViTConfig

    return ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def _processor():
    from transformers import ViTImageProcessor

    return ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)


@pytest.fixture
def fer_folder(tmp_path: Path) -> Path:
    from transformers import ViTForImageClassification

    torch.manual_seed(0)
    model = ViTForImageClassification(_vit_config(FER_LABELS)).eval()
    with torch.no_grad():
        model.classifier.bias.copy_(torch.linspace(-1.0, 1.0, 7))
    folder = tmp_path / "fer"
    model.save_pretrained(folder)
    _processor().save_pretrained(folder)
    return folder


def test_image_predictor_maps_fer_labels(fer_folder: Path, portrait_png: Path) -> None:
    from transformers import ViTForImageClassification

    recognizer = ImageEmotionRecognizer(fer_folder)
    assert isinstance(recognizer, ImageEmotionPredictor) and isinstance(recognizer, EmotionPredictor)
    assert recognizer.modality == "image"
    out = recognizer.predict([portrait_png, Image.open(portrait_png)])
    assert out.shape == (2, 7)
    torch.testing.assert_close(out.sum(-1), torch.ones(2))
    torch.testing.assert_close(out[0], out[1])

    # reference: the HF model on the processor's pixels, then FER order -> canonical order
    model = ViTForImageClassification.from_pretrained(fer_folder).eval()
    pixels = _processor()(images=[Image.open(portrait_png).convert("RGB")], return_tensors="pt")[
        "pixel_values"
    ]
    with torch.no_grad():
        reference = model(pixel_values=pixels).logits.softmax(-1)[0]
    for model_index, label in enumerate(FER_LABELS):
        canonical = EMOTIONS.index(label.lower())
        torch.testing.assert_close(out[0, canonical], reference[model_index], atol=1e-5, rtol=0)


def test_tensor_inputs_in_minus_one_one_match_the_image(fer_folder: Path, portrait_png: Path) -> None:
    recognizer = ImageEmotionRecognizer(fer_folder)
    image = np.array(Image.open(portrait_png).convert("RGB"))
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1.0  # FLOAT-kit range [-1, 1]
    from_tensor = recognizer.predict(tensor[None].repeat(3, 1, 1, 1))
    assert from_tensor.shape == (3, 7)
    torch.testing.assert_close(from_tensor[0], recognizer.predict(image)[0], atol=1e-4, rtol=0)
    assert len(to_pil_images(tensor)) == 1


def test_missing_image_processor_is_explained(tmp_path: Path) -> None:
    from transformers import ViTForImageClassification

    torch.manual_seed(0)
    ViTForImageClassification(_vit_config(FER_LABELS)).save_pretrained(tmp_path / "no-processor")
    with pytest.raises(FileNotFoundError, match=r"preprocessor_config\.json"):
        ImageEmotionRecognizer(tmp_path / "no-processor")


def test_image_backbone_without_head_is_rejected(tmp_path: Path) -> None:
    from transformers import ViTModel

    torch.manual_seed(0)
    ViTModel(_vit_config(FER_LABELS), add_pooling_layer=False).save_pretrained(tmp_path / "vit")
    with pytest.raises(MissingHeadError, match="no trained image-classification head"):
        ImageEmotionRecognizer(tmp_path / "vit")


def test_missing_image_file_is_named(fer_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        ImageEmotionRecognizer(fer_folder).predict(tmp_path / "missing.png")
