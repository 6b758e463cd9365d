"""Stop a training run early on SIGINT/SIGTERM and still save what it has learned."""

from __future__ import annotations

import signal
from types import FrameType


class GracefulStop:
    """While alive, the first SIGINT or SIGTERM sets ``requested`` instead of killing the process, so the
    training loop can finish its step, validate and save; a second signal interrupts as usual."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            self.restore()
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
