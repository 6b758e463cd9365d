"""Process settings for long evaluation runs: keep glibc's heap from creeping up with the video's length.

glibc serves a freed large block's size from the heap from then on (its mmap threshold follows the largest
block freed, up to 32 MiB). An evaluation allocates frame-sized buffers (0.8 to 25 MiB) for every batch
between small long-lived ones, so the heap fragments and its peak keeps rising over a long video (about
100 MiB over two minutes of 512x512 in ``python -m float_tools.bench.eval_memory``). A fixed threshold sends
the large
buffers to mmap, which returns them to the system when freed: the peak stays flat (17 MiB over the same two
minutes at 4 MiB). ``float-eval run`` sets it; call :func:`bound_heap_growth` in your own long runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["HEAP_SETTING", "bound_heap_growth"]

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
HEAP_SETTING = "glibc mallopt(M_MMAP_THRESHOLD=4 MiB): buffers of 4 MiB and more are mmapped, never kept"


def bound_heap_growth(threshold: int = 4 << 20) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; True when set (False off glibc, e.g. macOS).

    Equivalent to starting Python with ``MALLOC_MMAP_THRESHOLD_=4194304`` in the environment.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
