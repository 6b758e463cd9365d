"""Inference linears through oneDNN on the CPU: the flow transformer's fp32 matmuls 1.1-1.3x faster.

On the FMT's shapes (3 guidance rows x 60 tokens, width 1024, MLP 4x, AdaLN 6x) ``F.linear`` reaches MKL's
157-191 fp32 GFLOP/s on a 2-core AVX-512 CPU, while oneDNN's matmul (``mkldnn::_linear_pointwise``, the op
``torch.compile`` emits for CPU linears) reaches 190-213, ~90% of that CPU's fp32 peak: a guided forward of
the paper-size FMT takes 310 ms instead of 385 (1.24x). In bf16 ``F.linear`` already runs oneDNN, so the
switch changes neither speed nor outputs (``python -m float_tools.bench.flow_linears``). The op takes the
plain weight, so nothing is copied or pre-packed: the model's memory does not grow. Small layers stay on
MKL, which is as fast or faster for them (``MIN_WEIGHTS``).

:func:`use_onednn_linears` switches the large ``nn.Linear`` layers of a model to :class:`OneDNNLinear` in
place (the same parameters, so ``state_dict``, ``save_pretrained``, ``load_state_dict`` and ``.to()`` are
unchanged) and back. The fast path runs only where it is valid: CPU tensors, float32 or bfloat16, no
autograd (oneDNN's op has no backward), oneDNN available; anything else (training, CUDA, float64) is
``F.linear``, so a model switched for inference can still be trained. fp32 results differ from
``F.linear`` by the summation order only (max abs difference 4.4e-6 on a paper-size forward whose outputs
reach 3.2, about twice MKL's own rounding error against float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_FAST_DTYPES = (torch.float32, torch.bfloat16)

MIN_WEIGHTS = 256 * 1024
"""Smallest linear (in x out weights) worth switching. Measured on the 2-core AVX-512 CPU
(``bench.flow_linears``, 180 rows, fp32): every paper-size shape (256x1024 up to 1024x6144) is 1.1-1.3x
faster through oneDNN, while the demo model's 128-wide shapes (16k-132k weights) are 0.7-1.1x, and its whole
forward 0.85x."""


def onednn_available() -> bool:
    """Whether this torch build can run oneDNN's matmul on the CPU."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` whose inference forward on the CPU runs through oneDNN (see the module docstring).

    Shapes as ``nn.Linear``: ``[..., in_features] -> [..., out_features]``.
    """

    def forward(self, input: Tensor) -> Tensor:
        weight = self.weight
        if (
            input.device.type == "cpu"
            and input.dtype in _FAST_DTYPES
            and input.dtype == weight.dtype
            and not (torch.is_grad_enabled() and (weight.requires_grad or input.requires_grad))
        ):
            return torch.ops.mkldnn._linear_pointwise(input.contiguous(), weight, self.bias, "none", [], "")
        return F.linear(input, weight, self.bias)


def use_onednn_linears(model: nn.Module, enabled: bool = True, min_weights: int = MIN_WEIGHTS) -> int:
    """Switch the large ``nn.Linear`` layers of ``model`` to :class:`OneDNNLinear` (``enabled=False``: every
    ``OneDNNLinear`` back), in place.

    Only exact ``nn.Linear`` / ``OneDNNLinear`` modules are switched (a subclass with its own forward is left
    alone), and when switching on only those with at least ``min_weights`` weights (``MIN_WEIGHTS``: below
    it MKL is as fast or faster). Nothing is switched when this torch has no oneDNN (``onednn_available``).

    Returns:
        How many modules were switched.
    """
    if enabled and not onednn_available():
        return 0
    source, target = (nn.Linear, OneDNNLinear) if enabled else (OneDNNLinear, nn.Linear)
    switched = 0
    for module in model.modules():
        small = (
            enabled
            and isinstance(module, nn.Linear)
            and module.in_features * module.out_features < min_weights
        )
        if type(module) is source and not small:
            # Same attributes and parameters, another forward: changing the class is a complete switch.
            module.__class__ = target
            switched += 1
    return switched
