"""``torch.compile`` for the decoder's activation route: persistent cache, timing, eager fallback.

``ActivationRenderer(compile=True)`` hands each frame to ``compiled_render``, which runs
``renderers.activation.render`` through inductor with freezing (the constant conv weights are pre-packed
for oneDNN once, the constants derived from them folded, the elementwise epilogues fused into C++ kernels).

- Cache: inductor's on-disk cache goes under the user's cache dir, ``$XDG_CACHE_HOME/float-kit/inductor``
  (``~/.cache/float-kit/inductor``), unless ``TORCHINDUCTOR_CACHE_DIR`` is already set; a second run with the
  same model shapes and dtype reuses the compiled kernels (a warm cache) instead of compiling them again.
- Timing: the seconds spent in calls that compiled are kept apart (``compile_seconds()``), so benches and
  the CLI report the one-off compile time separately from the per-frame time.
- Fallback: with no C++ compiler (``CXX`` or ``g++`` not found) or any error while compiling, the frame is
  rendered eagerly by the same route and a one-line notice is printed once to stderr; nothing raises.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from float_motion_ae.renderers import activation

if TYPE_CHECKING:
    from float_motion_ae.decoder import Synthesis

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/float-kit/inductor`` (``~/.cache/float-kit/inductor`` without XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "float-kit" / "inductor"


def use_user_cache_dir() -> Path:
    """Point inductor's cache at ``user_cache_dir()`` unless ``TORCHINDUCTOR_CACHE_DIR`` is set; returns the
    dir in use."""
    os.environ.setdefault(CACHE_ENV, str(user_cache_dir()))
    return Path(os.environ[CACHE_ENV])


def cache_is_warm() -> bool:
    """Whether inductor's cache dir (``use_user_cache_dir``) already holds compiled graphs from an earlier
    run (a hint, not a promise: another model size or dtype compiles anew)."""
    graphs = Path(os.environ.get(CACHE_ENV) or user_cache_dir()) / "fxgraph"
    return graphs.is_dir() and any(graphs.iterdir())


def compiler_problem() -> str | None:
    """Why inductor cannot build CPU kernels here (no C++ compiler on PATH), or None when it can."""
    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        return f"no C++ compiler ({compiler!r} not found; install g++ or set CXX)"
    return None


class _State:
    """Process-wide state of the compiled route (one compiled function; its compile time; a fallback)."""

    function: Any = None
    failed: str | None = None
    compile_seconds: float = 0.0
    shapes: ClassVar[set[tuple[object, ...]]] = set()
    weights: ClassVar[dict[tuple[object, ...], tuple[object, ...]]] = {}
    notified: bool = False


def compile_seconds() -> float:
    """Seconds spent so far in calls that compiled (first call per shape/dtype); 0.0 when none compiled."""
    return _State.compile_seconds


def compile_failure() -> str | None:
    """Why the compiled route fell back to eager (None while it compiles or has not been tried)."""
    return _State.failed


def reset_compiled() -> None:
    """Forget the compiled graphs, their compile time and any fallback (the on-disk cache stays)."""
    torch._dynamo.reset()
    _State.function = None
    _State.failed = None
    _State.compile_seconds = 0.0
    _State.shapes = set()
    _State.weights = {}
    _State.notified = False


def notice(message: str) -> None:
    """Print a one-line notice to stderr once per process."""
    if not _State.notified:
        _State.notified = True
        print(f"float-motion-ae: {message}; decoding in eager mode", file=sys.stderr)


def _traced(
    synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...], winograd: bool
) -> torch.Tensor:
    return activation.render(synthesis, latent, features, cached=False, winograd=winograd)


def _function() -> Any:
    if _State.function is None:
        use_user_cache_dir()
        _State.function = torch.compile(_traced, fullgraph=True, dynamic=False)
    return _State.function


def weights_key(synthesis: Synthesis) -> tuple[object, ...]:
    """Identity and version of every parameter: freezing bakes the weights into the compiled graph, so a
    changed weight (``load_state_dict``, an optimiser step, ``.to``) must trigger a recompile."""
    return tuple(
        (p.data_ptr(), p.dtype, -1 if p.is_inference() else p._version) for p in synthesis.parameters()
    )


def compiled_render(
    synthesis: Synthesis, latent: torch.Tensor, features: tuple[torch.Tensor, ...], winograd: bool = True
) -> torch.Tensor:
    """``activation.render`` compiled (see the module docstring); eager on any compile problem.

    ``winograd``: see ``ActivationRenderer.winograd`` (a graph is compiled per value).
    """
    if _State.failed is None:
        problem = compiler_problem()
        if problem is not None:
            _State.failed = problem
    if _State.failed is not None:
        notice(f"torch.compile unavailable: {_State.failed}")
        return activation.render(synthesis, latent, features, cached=True, winograd=winograd)
    key = (id(synthesis), latent.dtype, tuple(tuple(f.shape) for f in features), winograd)
    weights = weights_key(synthesis)
    if _State.weights.get(key, weights) != weights:
        # Frozen constants are stale: drop every compiled graph (the on-disk cache keys on the values).
        torch._dynamo.reset()
        _State.shapes.clear()
    _State.weights[key] = weights
    first = key not in _State.shapes
    start = time.perf_counter()
    try:
        # Freezing turns the parameters into constants: oneDNN weights are pre-packed once, the
        # weight-derived constants (scaled/transposed kernels, demodulation energies) folded.
        import torch._inductor.config as inductor_config  # lazily: importing inductor takes seconds

        with inductor_config.patch(freezing=True):
            out = _function()(synthesis, latent, features, winograd)
    except Exception as error:
        _State.failed = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]
        notice(f"torch.compile failed ({_State.failed})")
        return activation.render(synthesis, latent, features, cached=True, winograd=winograd)
    if first:
        _State.shapes.add(key)
        _State.compile_seconds += time.perf_counter() - start
    return out
