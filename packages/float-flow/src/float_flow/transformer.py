"""The flow-matching transformer (FMT): a DiT-style stack with frame-wise AdaLN and band attention.

Parameter names mirror the official checkpoint's ``fmt.*`` tensors (``x_embedder.proj``, ``t_embedder.mlp``,
``c_embedder``, ``blocks.{i}.attn.qkv`` ..., ``decoder.linear``) so that :func:`float_flow.convert_official`
is a one-to-one copy. The optional pose branch (``pose_embedder``) is ours and has no official counterpart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, cast

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from float_flow.conditions import WindowConditions
from float_flow.config import TransformerConfig

# Set by the converter: its weights are replaced right away, so the 157 M-parameter random init is skipped.
_SKIP_INIT: ContextVar[bool] = ContextVar("float_flow_skip_init", default=False)


@contextmanager
def skip_init() -> Iterator[None]:
    """Build FlowMatchingTransformers with uninitialised weights (only for code that loads them at once)."""
    token = _SKIP_INIT.set(True)
    try:
        yield
    finally:
        _SKIP_INIT.reset(token)


def band_mask(num_tokens: int, half_width: int) -> Tensor:
    """Boolean [num_tokens, num_tokens] mask, True where attention is BLOCKED (``|i - j| > half_width``)."""
    idx = torch.arange(num_tokens, device="cpu")
    return (idx[:, None] - idx[None, :]).abs() > half_width


def sinusoidal_positions(num_positions: int, dim: int) -> Tensor:
    """Fixed [num_positions, dim] table: sin on even dims, cos on odd dims, base 10000.

    Built on the CPU even under a ``torch.device("meta")`` context (the converter's fast construction).
    """
    position = torch.arange(num_positions, dtype=torch.float64, device="cpu")[:, None]
    inv_freq = torch.exp(
        -math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64, device="cpu") / dim
    )
    table = torch.zeros(num_positions, dim, dtype=torch.float64, device="cpu")
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table.float()


def timestep_frequencies(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """[B] flow times in [0, 1] -> [B, dim] ``cat(cos, sin)`` features (t is used unscaled, as officially)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """AdaLN: ``x * (1 + scale) + shift``, all [B, N, h] (one shift/scale per frame)."""
    return x * (1 + scale) + shift


class PatchEmbed(nn.Module):
    """Motion latent -> token: a single linear map (the official ``x_embedder.proj``)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] -> [B, h] via sinusoidal features and a 2-layer SiLU MLP."""

    def __init__(self, dim_hidden: int, freq_dim: int) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(
            nn.Linear(freq_dim, dim_hidden), nn.SiLU(), nn.Linear(dim_hidden, dim_hidden)
        )

    def forward(self, t: Tensor) -> Tensor:
        first = cast(nn.Linear, self.mlp[0])
        return self.mlp(timestep_frequencies(t, self.freq_dim).to(first.weight.dtype))


class BandAttention(nn.Module):
    """Multi-head self-attention restricted by a boolean band mask (True = blocked)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, blocked: Tensor) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        # scaled_dot_product_attention's boolean mask means "may attend", the opposite of ours.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=~blocked)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    """Token-wise MLP: fc1 -> GELU (tanh approximation) -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FMTBlock(nn.Module):
    """DiT block with frame-wise AdaLN: each frame's condition gives its own shift/scale/gate.

    The 6 modulation chunks are ordered (shift, scale, gate) for attention then (shift, scale, gate) for
    the MLP, the DiT convention the official block follows.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = BandAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: Tensor, c: Tensor, blocked: Tensor) -> Tensor:
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_a * self.attn(modulate(self.norm1(x), shift_a, scale_a), blocked)
        return x + gate_m * self.mlp(modulate(self.norm2(x), shift_m, scale_m))


class FinalLayer(nn.Module):
    """AdaLN (shift, scale per frame) then a linear map back to the motion width (official ``decoder``)."""

    def __init__(self, dim: int, dim_out: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, dim_out)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class FlowMatchingTransformer(nn.Module, PyTorchModelHubMixin):
    """Velocity field v(x_t, t | conditions) over motion-latent windows (FLOAT's FMT).

    The constructor arguments are the config (saved as ``config.json`` by ``save_pretrained``); the
    defaults build the paper/official model (d 512, h 1024, 8 blocks x 8 heads, MLP x4, L 50, L' 10,
    band +-2, conditions 512 + 512 + 7, 156.7 M parameters). See :class:`~float_flow.TransformerConfig`.

    Per frame i of the L' + N tokens: ``c_i = t_emb(t) + c_embedder([source, audio_i, emotion (, pose_i)])``;
    every block modulates frame i with c_i. Context tokens carry clean latents and their own audio.
    """

    alignment_mask: Tensor  # [L' + L, L' + L] bool band mask (buffer): True where attention is blocked

    def __init__(
        self,
        dim_motion: int = 512,
        dim_hidden: int = 1024,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        num_frames: int = 50,
        num_prev_frames: int = 10,
        attention_window: int = 2,
        dim_audio: int = 512,
        dim_emotion: int = 7,
        dim_pose: int = 0,
        freq_dim: int = 256,
        motion_reference: Literal["absolute", "source"] = "absolute",
    ) -> None:
        super().__init__()
        self.config = TransformerConfig(
            dim_motion=dim_motion,
            dim_hidden=dim_hidden,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            num_frames=num_frames,
            num_prev_frames=num_prev_frames,
            attention_window=attention_window,
            dim_audio=dim_audio,
            dim_emotion=dim_emotion,
            dim_pose=dim_pose,
            freq_dim=freq_dim,
            motion_reference=motion_reference,
        )
        cfg = self.config
        self.x_embedder = PatchEmbed(dim_motion, dim_hidden)
        # A frozen Parameter (not a buffer) because the official checkpoint stores it as one.
        self.pos_embed = nn.Parameter(
            sinusoidal_positions(cfg.num_tokens, dim_hidden)[None], requires_grad=False
        )
        self.t_embedder = TimestepEmbedder(dim_hidden, freq_dim)
        self.pose_embedder: nn.Module | None = None
        if dim_pose > 0:
            # Author's note (official issue #12): Linear(6 -> 6) + LayerNorm, concatenated to the condition.
            self.pose_embedder = nn.Sequential(nn.Linear(dim_pose, dim_pose), nn.LayerNorm(dim_pose))
        self.c_embedder = nn.Linear(cfg.dim_condition, dim_hidden)
        self.blocks = nn.ModuleList([FMTBlock(dim_hidden, num_heads, mlp_ratio) for _ in range(depth)])
        self.decoder = FinalLayer(dim_hidden, dim_motion)
        # Not saved (persistent=False): it is a pure function of the config, rebuilt on load.
        self.register_buffer("alignment_mask", band_mask(cfg.num_tokens, attention_window), persistent=False)
        self.reset_parameters()

    def motion_origin(self, source: Tensor) -> Tensor:
        """[B, d] source motion -> [B, 1, d]: what the model's tokens are measured from.

        Zeros for ``motion_reference="absolute"``; the source motion for ``"source"``. Training subtracts it
        from the target and context latents, sampling adds it back to every generated frame.
        """
        if self.config.motion_reference == "source":
            return source[:, None]
        return torch.zeros_like(source[:, None])

    def reset_parameters(self) -> None:
        """DiT initialisation: xavier linears, zero biases, N(0, 0.02) time MLP, zero AdaLN and output."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(cast(nn.Linear, self.t_embedder.mlp[0]).weight, std=0.02)
        nn.init.normal_(cast(nn.Linear, self.t_embedder.mlp[2]).weight, std=0.02)
        modulations = [cast(FMTBlock, block).adaLN_modulation for block in self.blocks]
        for modulation in [*modulations, self.decoder.adaLN_modulation]:
            nn.init.zeros_(cast(nn.Linear, modulation[1]).weight)
            nn.init.zeros_(cast(nn.Linear, modulation[1]).bias)
        nn.init.zeros_(self.decoder.linear.weight)
        nn.init.zeros_(self.decoder.linear.bias)

    def _check_inputs(self, x: Tensor, t: Tensor, cond: WindowConditions) -> None:
        cfg = self.config
        B = cond.batch_size
        if x.ndim != 3 or x.shape[0] != B or x.shape[2] != cfg.dim_motion:
            raise ValueError(f"x must have shape [B={B}, N, d={cfg.dim_motion}], got {tuple(x.shape)}")
        if not 1 <= x.shape[1] <= cfg.num_frames:
            raise ValueError(
                f"x has {x.shape[1]} frames; this model takes 1..{cfg.num_frames} (pad shorter clips)"
            )
        if cond.num_frames != x.shape[1]:
            raise ValueError(f"audio has {cond.num_frames} frames but x has {x.shape[1]}: they must match")
        if t.shape != (B,):
            raise ValueError(f"t must have shape [batch={B}], got {tuple(t.shape)}")
        expected = {
            "source": (cond.source, cfg.dim_motion),
            "audio": (cond.audio, cfg.dim_audio),
            "emotion": (cond.emotion, cfg.dim_emotion),
            "prev_motion": (cond.prev_motion, cfg.dim_motion),
            "prev_audio": (cond.prev_audio, cfg.dim_audio),
        }
        for name, (value, width) in expected.items():
            if value.shape[-1] != width:
                raise ValueError(f"{name} has width {value.shape[-1]}, this model expects {width}")
        if cond.prev_motion.shape[1] != cfg.num_prev_frames:
            raise ValueError(
                f"prev_motion must have L'={cfg.num_prev_frames} frames, got {cond.prev_motion.shape[1]} "
                "(use zeros for a clip start)"
            )
        if cond.pose is not None and cfg.dim_pose == 0:
            raise ValueError("pose was given but this model has no pose branch (build it with dim_pose=6)")
        if cond.pose is not None and cond.pose.shape[-1] != cfg.dim_pose:
            raise ValueError(f"pose has width {cond.pose.shape[-1]}, this model expects {cfg.dim_pose}")

    def forward(self, x: Tensor, t: Tensor | float, cond: WindowConditions) -> Tensor:
        """Velocity of the current frames.

        Args:
            x: [B, N, d] noisy current latents x_t, 1 <= N <= L.
            t: [B] (or a float) flow time in [0, 1]; 0 = noise, 1 = data.
            cond: the window's conditions (``cond.audio`` has N frames, ``prev_*`` have L').

        Returns:
            [B, N, d] predicted velocity dx/dt for the current frames (context outputs are dropped).
        """
        if not isinstance(t, Tensor):
            t = torch.full((x.shape[0],), float(t), device=x.device)
        elif t.ndim == 0:
            t = t.expand(x.shape[0])
        self._check_inputs(x, t, cond)
        P, N = cond.prev_motion.shape[1], x.shape[1]
        dtype = self.x_embedder.proj.weight.dtype

        tokens = torch.cat([cond.prev_motion, x], dim=1).to(dtype)
        h = self.x_embedder(tokens) + self.pos_embed[:, : P + N]

        audio = torch.cat([cond.prev_audio, cond.audio], dim=1)
        frames = P + N
        parts = [
            cond.source[:, None].expand(-1, frames, -1),
            audio,
            cond.emotion[:, None].expand(-1, frames, -1),
        ]
        if self.pose_embedder is not None:
            if cond.pose is None or cond.prev_pose is None:
                pose = audio.new_zeros(audio.shape[0], frames, self.config.dim_pose)
            else:
                pose = torch.cat([cond.prev_pose, cond.pose], dim=1)
            parts.append(self.pose_embedder(pose.to(dtype)))
        c = self.c_embedder(torch.cat([p.to(dtype) for p in parts], dim=-1))
        c = c + self.t_embedder(t)[:, None]

        blocked = self.alignment_mask[: P + N, : P + N]
        for block in self.blocks:
            h = block(h, c, blocked)
        return self.decoder(h, c)[:, P:]
