"""One writer per results folder: an exclusive OS lock held for the whole life of a run.

The lock is ``flock`` on ``DIR/.pacabench.lock``. The kernel releases it when the holding process
ends, however it ends (kill -9 included), so a crashed run never blocks its resume. The file also
says who holds it (pid, host, start time, command), so a run that is refused can name the holder.
It stays in the folder after the run: removing it could let two runs lock two different files.
The lock file is data of a possibly shared folder: it is opened without following a link, and only a
file that is pacabench's own (a regular file with one name, empty or holding a holder record) is
rewritten.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pacabench.runner.atomic import open_no_link

LOCK_NAME = ".pacabench.lock"
_HOLDER_KEYS = {"pid", "host", "command", "since"}
_MAX_RECORD = 64 * 1024


class FolderInUse(Exception):
    """Another process holds the folder's lock; the message names it."""


class NotALockFile(Exception):
    """The lock's name holds a file pacabench did not write; the message names it and the fix."""


@contextmanager
def hold(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block, or raise FolderInUse at once (no waiting)."""
    path = Path(folder) / LOCK_NAME
    fd = open_no_link(path, os.O_RDWR | os.O_CREAT)  # PlantedLink for a link
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUse(f"{folder} is being written by another pacabench run ({_holder(fd)}); "
                              f"wait for it to end, or stop it, then resume") from None
        if os.fstat(fd).st_nlink != 1 or _record(fd) is None:
            raise NotALockFile(f"{path} is not a pacabench lock file (it holds other data or has other "
                               f"names); pacabench will not overwrite it: move it away, then run again")
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _record(fd: int) -> dict | None:
    """The lock file's holder record ({} when empty), or None when it holds anything else."""
    data = os.pread(fd, _MAX_RECORD + 1, 0)
    if not data:
        return {}
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep, or too long
        return None
    return record if isinstance(record, dict) and set(record) == _HOLDER_KEYS else None


def _holder(fd: int) -> str:
    """The holder as the lock file names it: 'pid 123 on host, since TIME: COMMAND'."""
    from pacabench.messages import printable

    holder = _record(fd)
    if not holder:  # written a moment ago, or not by pacabench
        return "holder not recorded yet"
    return printable(f"pid {holder['pid']} on {holder['host']}, since {holder['since']}: {holder['command']}")
