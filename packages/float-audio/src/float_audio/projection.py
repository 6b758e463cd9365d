"""The trained audio projection: concatenated backbone layers -> 512-d features (Linear, LayerNorm, SiLU)."""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

__all__ = ["AudioProjection"]


class AudioProjection(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="float-audio",
    license="apache-2.0",
    repo_url="https://github.com/float-kit/float-kit",
):
    """``Linear(in_dim -> out_dim)`` then ``LayerNorm(out_dim)`` then ``SiLU``.

    The official model uses ``in_dim = 12 x 768 = 9216`` (all wav2vec2-base layers) and ``out_dim = 512``.
    Saved as ``config.json`` + ``model.safetensors`` with :meth:`save_pretrained`; read back with
    :meth:`from_pretrained` (local folder or Hugging Face id).
    """

    def __init__(self, in_dim: int = 9216, out_dim: int = 512, eps: float = 1e-5) -> None:
        super().__init__()
        if in_dim <= 0 or out_dim <= 0:
            raise ValueError(f"in_dim and out_dim must be > 0, got in_dim={in_dim}, out_dim={out_dim}")
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.linear = nn.Linear(in_dim, out_dim)
        self.norm = nn.LayerNorm(out_dim, eps=eps)
        self.act = nn.SiLU()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[..., in_dim]`` backbone features -> ``[..., out_dim]``; SiLU output, so values are >= -0.279."""
        if features.shape[-1] != self.in_dim:
            raise ValueError(
                f"AudioProjection expects features with last dim {self.in_dim}, got {list(features.shape)}; "
                "the backbone's layer count x hidden size must match the projection's in_dim"
            )
        return self.act(self.norm(self.linear(features)))
