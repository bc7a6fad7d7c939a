"""One writer per results folder: an exclusive OS lock held for the whole life of a run.

The lock is ``flock`` on ``DIR/.pacabench.lock``. The kernel releases it when the holding process
ends, however it ends (kill -9 included), so a crashed run never blocks its resume. The file also
says who holds it (pid, host, start time, command), so a run that is refused can name the holder.
It stays in the folder after the run: removing it could let two runs lock two different files.
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

LOCK_NAME = ".pacabench.lock"


class FolderInUse(Exception):
    """Another process holds the folder's lock; the message names it."""


@contextmanager
def hold(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block, or raise FolderInUse at once (no waiting)."""
    path = Path(folder) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUse(f"{folder} is being written by another pacabench run ({_holder(path)}); "
                              f"wait for it to end, or stop it, then resume") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(path: Path) -> str:
    """The holder as the lock file names it: 'pid 123 on host, since TIME: COMMAND'."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return (f"pid {holder['pid']} on {holder['host']}, since {holder['since']}: "
                f"{holder['command']}")
    except (OSError, ValueError, KeyError, TypeError):  # written a moment ago, or not by pacabench
        return "holder not recorded yet"
