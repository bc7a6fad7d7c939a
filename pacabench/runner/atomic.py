"""Replace a file so that a crash or a full disk leaves either the old complete file or the new one.

The new content goes to a temporary file beside the target (same folder, so same filesystem), is
flushed to disk, then renamed over the target (``os.replace`` is atomic on POSIX). Whatever fails
on the way removes the temporary file and leaves the target as it was.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Make ``path`` hold what ``write(temporary_path)`` writes, all or nothing."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # not every filesystem syncs a directory; the data is safe
        _fsync(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def replace_text(path: Path, text: str) -> None:
    """``replace_file`` for a text file (UTF-8)."""
    replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
