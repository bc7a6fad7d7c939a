"""Register the PaCa-ViT zoo with timm when timm is imported, not when pacabench is.

timm's registry is filled by importing the module that defines the models (``@register_model``),
and that module needs torch. ``import pacabench`` must stay cheap for the command line, yet
``import pacabench; timm.create_model("pacavit_...")`` must work: so the zoo is imported at once if
timm already is, else right after timm is, by a one-shot import hook that wraps timm's loader.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

ZOO_MODULE = "pacabench.models"


class _RegisterAfter(importlib.abc.Loader):
    """timm's own loader, then the zoo's module."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        importlib.import_module(ZOO_MODULE)


class _TimmFinder(importlib.abc.MetaPathFinder):
    """Finds timm once (with the other finders) and hands back its spec with the wrapped loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "timm":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("timm")
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfter(spec.loader)
        return spec


def register_zoo_with_timm() -> None:
    """Make sure the zoo is in timm's registry whenever timm is in use (idempotent)."""
    if "timm" in sys.modules:
        importlib.import_module(ZOO_MODULE)
    elif not any(isinstance(finder, _TimmFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TimmFinder())
