"""Files of a run folder, written and read as data: no link followed, every write all or nothing,
every read bounded.

Run folders are shared (attached to issues, downloaded from CI, copied between machines), so a
folder may hold a symbolic link planted where pacabench writes a file. Nothing here writes through
one: new content goes to a temporary file with an unpredictable name created beside the target
(``O_EXCL``, same folder, so same filesystem), is flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX and replaces a link itself, never its target). A link at a name
pacabench writes, or at a folder it writes into, is refused with :class:`PlantedLink` before anything
is written. Whatever fails on the way removes the temporary file and leaves the target as it was.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path


MAX_JSON_BYTES = 1024 * 1024
"""The most a run folder's JSON file (env.json: a few KB) may hold."""


class PlantedLink(Exception):
    """A symbolic link where pacabench writes in a run folder; the message names it and the fix."""

    def __init__(self, path: Path):
        super().__init__(f"{path} is a symbolic link; pacabench never writes through a link in a run folder "
                         f"(it could overwrite any file): remove the link, or use a folder you made")


def refuse_link(path: Path) -> Path:
    """``path``, unless it is a symbolic link (then PlantedLink)."""
    if os.path.islink(path):
        raise PlantedLink(Path(path))
    return Path(path)


def make_folder(path: Path) -> Path:
    """``path`` as a folder of its own (created if missing), never a link to one elsewhere."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path)  # does not follow a link at ``path``
    refuse_link(path)
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    return Path(path)


def open_no_link(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a link at ``path`` (PlantedLink) and anything but a regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PlantedLink(Path(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    os.set_blocking(fd, True)
    return fd


def read_limited(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes (no link followed); None when longer."""
    with os.fdopen(open_no_link(path, os.O_RDONLY), "rb") as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data


def read_json_object(path: Path, limit: int = MAX_JSON_BYTES) -> dict:
    """The JSON object a file holds, read as :func:`read_limited` reads; ValueError saying why not."""
    data = read_limited(path, limit)
    if data is None:
        raise ValueError(f"larger than {limit // 1024} KiB")
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested beyond Python's stack
        raise ValueError(f"not JSON: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__} where an object belongs")
    return value


def replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Make ``path`` hold what ``write(temporary_path)`` writes, all or nothing, never through a link."""
    path = refuse_link(Path(path))
    tmp = _new_temporary(path)
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


def replace_bytes(path: Path, data: bytes) -> None:
    """``replace_file`` for bytes."""
    replace_file(path, lambda tmp: tmp.write_bytes(data))


def _new_temporary(path: Path) -> Path:
    """A new empty file beside ``path`` with a name no one can predict, created by this call (O_EXCL:
    a file or link already there is never opened) with the permissions of an ordinary new file."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
