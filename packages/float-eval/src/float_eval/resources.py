"""What the metrics of one run share: the device, weight files (checked once, digests recorded) and networks.

Networks are built once per run and shared by key: CSIM, E-FID, P-FID (and LSE with ``--face-detector scrfd``)
all get the same SCRFD, so per-video face detections can be shared too (:meth:`VideoPair.faces`). Tests and
your own exports inject stand-ins by the same keys through :class:`Components`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch

from .config import EvalConfig
from .weights import WeightsError, manifest_entry, resolve_weight

__all__ = ["Components", "Resources"]

T = TypeVar("T")


class Components(Mapping[str, Any]):
    """Stand-ins by key, used instead of what a metric would build from the weights folder.

    The keys are the ones each metric documents; the built-ins read ``fid_network``, ``fid_feature_dim``
    (FID), ``i3d``, ``fvd_feature_dim`` (FVD), ``detector`` (SCRFD: CSIM, E-FID, P-FID, LSE with ``scrfd``),
    ``arcface`` (CSIM), ``recon_net``, ``lm3d`` (E-FID, P-FID), ``syncnet``, ``lse_detector`` (LSE).

    Args:
        random_weights: True when any stand-in holds random weights: the report then says its numbers are not
            metrics.
        **stand_ins: the objects, by key. ``None`` values are ignored (the metric builds its own).
    """

    def __init__(self, *, random_weights: bool = False, **stand_ins: Any) -> None:
        self.random_weights = random_weights
        self._items = {key: value for key, value in stand_ins.items() if value is not None}

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Resources:
    """One run's shared objects, handed to each metric's ``setup``.

    Attributes:
        config: the run's settings.
        device: where networks run (``config.device``, else CUDA when present).
        components: the injected stand-ins.
        weights_sha256: sha256 of every weight file read, by manifest name (written into the report).
        weights_unverified: files read although their digest differs from the manifest (``check_digests``).
        weights_unpinned: files read whose digest the manifest does not pin (nothing to check them against).
    """

    def __init__(self, config: EvalConfig, components: Components | None = None) -> None:
        self.config = config
        self.device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.components = components if components is not None else Components()
        self.weights_sha256: dict[str, str] = {}
        self.weights_unverified: list[str] = []
        self.weights_unpinned: list[str] = []
        self._shared: dict[str, Any] = {}

    @property
    def random_weights(self) -> bool:
        return self.components.random_weights

    def weight(self, name: str) -> Path:
        """Path of manifest file ``name`` in the weights folder, checked; its digest is recorded.

        Raises:
            WeightsError: missing, or (with ``config.check_digests``) not the manifest's file.
        """
        path, digest = resolve_weight(name, self.config.weights_dir, verify=self.config.check_digests)
        self.weights_sha256[name] = digest
        if _unverified(name, digest) and name not in self.weights_unverified:
            self.weights_unverified.append(name)
        entry = manifest_entry(name)
        if entry.sha256 is None and entry.sha256_prefix is None and name not in self.weights_unpinned:
            self.weights_unpinned.append(name)
        return path

    def load(self, name: str, loader: Callable[[Path], T]) -> T:
        """``loader(path)`` of manifest file ``name`` (checked by :meth:`weight`); a file the loader cannot
        read (truncated, another format) raises :class:`WeightsError` naming it, not the loader's traceback.
        """
        path = self.weight(name)
        try:
            return loader(path)
        except Exception as err:
            entry = manifest_entry(name)
            digest = self.weights_sha256.get(name, "?")
            raise WeightsError(
                f"weight file {path} could not be loaded ({type(err).__name__}: {str(err)[:300]}). "
                f"It is corrupt or not the file float-eval expects (sha256 {digest[:16]}…"
                + (f", manifest {entry.sha256[:16]}…" if entry.sha256 else ", not pinned in the manifest")
                + f"): download it again from {entry.url}"
            ) from err

    def shared(self, key: str, build: Callable[[], T]) -> T:
        """The stand-in injected as ``key``, else the object ``build()`` made for the run's first caller."""
        if key in self.components:
            return self.components[key]
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]


def _unverified(name: str, digest: str) -> bool:
    """True when ``digest`` is not the manifest's (a file accepted with ``check_digests=False``)."""
    entry = manifest_entry(name)
    wrong_digest = entry.sha256 is not None and digest != entry.sha256
    wrong_prefix = entry.sha256_prefix is not None and not digest.startswith(entry.sha256_prefix)
    return wrong_digest or wrong_prefix
