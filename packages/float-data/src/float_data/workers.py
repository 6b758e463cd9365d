"""A pool of worker processes for per-video work: spawned (never forked), bound to the parent's life.

``spawn`` because torch, OpenCV and dlib keep threads and locks that a forked child would inherit in an
undefined state. Each worker limits its own intra-op threads to its share of the cores (N workers x all
cores each would only thrash), and on Linux asks the kernel to kill it when the parent dies, so a killed
``prepare`` leaves no orphan still writing into the output folder while the rerun starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        # no prctl (a libc without it): orphans then end on their own after their current video
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 9)  # SIGKILL when the parent exits


def _start(threads: int, init: Callable[..., None] | None, args: tuple) -> None:
    _die_with_parent()
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    if init is not None:
        init(*args)


def cpu_share(workers: int) -> int:
    """Intra-op threads for each of ``workers`` processes: the usable cores split evenly (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def run_in_workers(
    function: Callable[[Any], Any],
    tasks: Iterable[Any],
    workers: int,
    init: Callable[..., None] | None = None,
    init_args: tuple = (),
) -> Iterator[Any]:
    """``function(task)`` for every task in ``workers`` spawned processes; results in completion order.

    ``function`` and ``init`` must be module-level (they are pickled by name); ``init(*init_args)`` runs
    once per worker (e.g. to load a model). At most ``2 * workers`` tasks are queued at a time, so a long
    task list costs no memory up front. An exception in a task cancels the rest and is raised here; a worker
    that dies (out of memory, a crash in native code) raises :class:`RuntimeError`.
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start,
        initargs=(cpu_share(workers), init, init_args),
    )
    pending: set[Future] = set()
    queue = iter(tasks)
    try:
        for task in queue:
            pending.add(pool.submit(function, task))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                for task in queue:  # refill by one
                    pending.add(pool.submit(function, task))
                    break
    except BrokenProcessPool as error:
        raise RuntimeError(
            "a worker process died (out of memory, or a crash in a native library); finished videos are "
            "kept: rerun the same command to resume, with fewer --workers if memory is short"
        ) from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
