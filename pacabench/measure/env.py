"""The environment a measurement was taken in, so results can be compared like with like."""
import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

from pacabench.measure.torch_compat import OLDEST_TORCH, TESTED_TORCH, untested_torch


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """Human name of the device a cell runs on (initialises CUDA when asked about it)."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_model()


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, timeout=10,
                          check=True).stdout.strip()


def git_commit(path: Path | None = None) -> str | None:
    """Commit of the pacabench checkout (with ``+dirty`` if it has changes); None outside git."""
    path = path or Path(__file__).resolve().parent
    try:
        commit = _git(path, "rev-parse", "HEAD")
        dirty = _git(path, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def capture_env() -> dict:
    """Versions, devices, CPU and commit, as a JSON-able dict."""
    cuda = torch.cuda.is_available()
    return {
        "time_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pacabench": _version("pacabench"),
        "torch": torch.__version__,
        "torch_tested": f"{OLDEST_TORCH} to {TESTED_TORCH}",
        "torch_untested": untested_torch(),  # None on a torch CI has tested
        "timm": _version("timm"),
        "fvcore": _version("fvcore"),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "gpu_name": torch.cuda.get_device_name(0) if cuda else None,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }
