"""Complete-or-absent writes: the one way FLOAT-kit's pipeline and apps put a file or folder in place.

Everything is written under a hidden temporary name in the destination's own folder (so the final
``os.replace`` is a rename on one file system, atomic on POSIX) and moved into place only when the writing
block succeeds; on any error the temporary is removed and the destination is left as it was. A reader (or a
resumed run) therefore sees either the old content, the complete new one, or nothing.

A process killed outright (``kill -9``, power cut) cannot remove its temporary. Temporary names carry the
writer's process id (``.NAME.<pid>-<random>.part.mp4``), so the next write to the same destination removes
the temporaries of writers that are no longer running, and leaves those of a live one alone.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "remove_stale_temporaries", "write_text_atomic"]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def remove_stale_temporaries(final: str | Path) -> list[Path]:
    """Delete the temporaries (``.part*`` files or folders, retired ``.old`` folders) that writers of
    ``final`` left behind when killed; those of writers still running are kept. Returns what was removed."""
    final = Path(final)
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(\d+)-[0-9a-f]{{8}}(\.part.*|\.old)$")
    removed: list[Path] = []
    try:
        siblings = list(final.parent.iterdir())
    except OSError:  # a missing or unreadable folder: the write itself will say so
        return removed
    for sibling in siblings:
        match = pattern.match(sibling.name)
        if match and not _process_alive(int(match.group(1))):
            _remove(sibling)
            removed.append(sibling)
    return removed


def _create_sibling(final: Path, suffix: str, folder: bool) -> Path:
    """A new, uniquely named hidden file or folder next to ``final`` (named after this process's id).

    Created with the default modes (0o666 / 0o777 less the umask), unlike ``tempfile``'s private 0o600 ones:
    videos, bundles and checkpoints are ordinary files that other users and tools read.
    """
    for _ in range(100):
        temp = final.with_name(f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")
        try:
            if folder:
                os.mkdir(temp, 0o777)
            else:
                os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name next to {final}")


@contextmanager
def atomic_path(final: str | Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary sibling of ``final`` to write into, moved onto ``final`` when the block succeeds.

    Args:
        final: the destination; its parent folder must exist.
        folder: yield an empty temporary folder (for multi-file outputs such as a bundle) instead of a
            file path. An existing folder at ``final`` is replaced whole.

    The temporary keeps ``final``'s suffix (``.part.mp4``), so writers that pick a format from the file
    name still work. On an exception inside the block the temporary is deleted and ``final`` is untouched.
    Temporaries of ``final`` left by killed writers are deleted first (:func:`remove_stale_temporaries`).
    """
    final = Path(final)
    remove_stale_temporaries(final)
    temp = _create_sibling(final, ".part" if folder else f".part{final.suffix}", folder)
    try:
        yield temp
        if folder and final.is_dir():
            # os.replace cannot rename onto a non-empty folder: retire the old one first, then delete it.
            retired = _create_sibling(final, ".old", folder=True)
            os.replace(final, retired / final.name)
            try:
                os.replace(temp, final)
            except BaseException:
                os.replace(retired / final.name, final)  # put the old folder back
                raise
            finally:
                shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(temp, final)
    finally:
        if temp.exists():
            _remove(temp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`, flushed to disk before the rename (so a
    power cut cannot leave an empty file under the final name)."""
    with atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
