"""ArcFace (insightface ``w600k_r50.onnx``) through ONNX Runtime: aligned 112x112 faces -> embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .faces import default_providers

__all__ = ["ARCFACE_WEIGHTS", "ArcFaceONNX"]

ARCFACE_WEIGHTS = "w600k_r50.onnx"


class ArcFaceONNX:
    """ArcFace through ONNX Runtime: aligned faces [N, 3, 112, 112] RGB in [0, 255] -> embeddings [N, D]."""

    def __init__(self, model_path: str | Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model_path), providers=providers or default_providers())
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, faces: torch.Tensor) -> torch.Tensor:
        if faces.ndim != 4 or tuple(faces.shape[1:]) != (3, 112, 112):
            raise ValueError(f"ArcFace expects aligned faces [N, 3, 112, 112], got {list(faces.shape)}")
        blob = ((faces.float() - 127.5) / 127.5).numpy().astype(np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: blob})[0]).float()
