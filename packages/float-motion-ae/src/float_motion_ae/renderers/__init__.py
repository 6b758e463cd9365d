"""How the decoder executes: swap a renderer object (``MotionAutoEncoder.set_renderer``), not a flag.

- ``ReferenceRenderer``: the official formulation (what training always runs);
- ``FusedRenderer(winograd=False)``: exact NCHW fused kernels at inference (polyphase upsampling, folded
  bias/gain; ``winograd=True`` adds NNPACK 3x3 convs for float32);
- ``ChannelsLastRenderer``: oneDNN convs on channels_last maps and an exact gather warp at inference, also
  in bf16 (the default wherever PyTorch has oneDNN);
- ``ActivationRenderer(compile=False)``: constant conv weights with the style applied to the activations,
  channels_last, compiler-friendly, float32 3x3 convs on wide 16-64 px maps as Winograd F(2x2, 3x3)
  (``renderers.winograd``; ``winograd=False`` turns it off); ``compile=True`` runs it through
  ``torch.compile`` (``float_motion_ae.compiled``);
- ``default_renderer()``: the fastest of these that this PyTorch build supports.

Each takes ``batch=`` (``BatchStrategy``: how N > 1 frames are modulated). Subclass ``Renderer`` and
override its hooks (``modulated_conv``, ``styled_conv``, ``render_batch``) for a route of your own.
"""

from float_motion_ae.renderers.activation import ActivationRenderer
from float_motion_ae.renderers.base import BatchStrategy, ReferenceRenderer, Renderer
from float_motion_ae.renderers.channels_last import ChannelsLastRenderer
from float_motion_ae.renderers.default import default_renderer
from float_motion_ae.renderers.fused import FusedRenderer

__all__ = [
    "ActivationRenderer",
    "BatchStrategy",
    "ChannelsLastRenderer",
    "FusedRenderer",
    "ReferenceRenderer",
    "Renderer",
    "default_renderer",
]
