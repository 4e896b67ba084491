"""Go Leak Lab: build, run and judge Go programs that leak, and their fixed twins."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

from .cases import Family, families, get_family
from .errors import (
    BadParameter,
    BuildFailed,
    GoNotFound,
    GoTooOld,
    LabContentMissing,
    LeakLabError,
    ProgramFailed,
    UnknownFamily,
)
from .run import Limits

if TYPE_CHECKING:
    from .lab import Result, load_result, measure, run_family, run_program

__all__ = [
    "BadParameter", "BuildFailed", "Family", "GoNotFound", "GoTooOld", "LabContentMissing", "LeakLabError", "Limits",
    "ProgramFailed", "Result", "UnknownFamily", "families", "get_family", "load_result", "measure",
    "run_family", "run_program",
]

#: Names that need numpy and scipy, imported on first use so that `leaklab list` starts at once.
_LAZY = {"Result", "load_result", "measure", "run_family", "run_program"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(".lab", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
