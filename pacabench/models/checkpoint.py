"""Load official PaCa-ViT checkpoint files into a model, safely and with one clear error.

Files are read with ``torch.load(weights_only=True)``, so a checkpoint can never execute code. An
http(s) URL is accepted only if the file is already in torch.hub's cache: pacabench never downloads.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

__all__ = ["load_checkpoint", "CheckpointError"]

_WRAPPER_KEYS = ("state_dict", "model")
_PREFIXES = ("module.", "backbone.")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model."""


def _resolve(path: str | os.PathLike) -> Path:
    text = os.fspath(path)
    if urlparse(text).scheme in ("http", "https"):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(text).path)
        if not cached.is_file():
            raise CheckpointError(
                f"{text}: not in the torch hub cache (looked for {cached}); pacabench never downloads. "
                f"Download it once with torch.hub.download_url_to_file('{text}', '{cached}') or pass a local path"
            )
        return cached
    local = Path(text).expanduser()
    if not local.is_file():
        raise CheckpointError(f"{local}: no such checkpoint file")
    return local


def _strip_prefixes(key: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix):], True
    return key


def _read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: unwrapped from 'state_dict' / 'model', prefixes stripped."""
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, not a torch file, or pickled code
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{file}: cannot be read as a torch checkpoint ({reason})") from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(
            f"{file}: not a state dict (expected a mapping of names to tensors, possibly under "
            f"{' or '.join(repr(k) for k in _WRAPPER_KEYS)})"
        )
    return {_strip_prefixes(k): v for k, v in obj.items()}


def load_checkpoint(model: nn.Module, path: str | os.PathLike, strict: bool = True):
    """Load a checkpoint file (local path or already-cached URL) into ``model``.

    Returns ``model.load_state_dict``'s result (missing / unexpected keys, empty when strict).
    Raises CheckpointError naming the file and the first missing and unexpected keys when the file
    does not fit (``strict``), and always on a shape mismatch.
    """
    file = _resolve(path)
    state_dict = _read_state_dict(file)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [k for k in state_dict if k in expected and state_dict[k].shape != expected[k].shape]
    problems = []
    if strict and missing:
        problems.append(f"{len(missing)} missing keys (first: '{missing[0]}')")
    if strict and unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: '{unexpected[0]}')")
    if mismatched:
        first = mismatched[0]
        problems.append(f"{len(mismatched)} shape mismatches (first: '{first}' is "
                        f"{list(state_dict[first].shape)} in the file, {list(expected[first].shape)} in the model)")
    if problems:
        raise CheckpointError(f"{file}: does not fit {type(model).__name__}: {'; '.join(problems)}")
    return model.load_state_dict(state_dict, strict=strict)
