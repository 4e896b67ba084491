"""Go Leak Lab: build, run and judge Go programs that leak, and their fixed twins."""

__version__ = "0.1.0"

from ._exceptions import (BadParameter, BuildFailed, GoNotFound, GoTooOld, LabContentMissing, LeakLabError,
                          ProgramFailed, UnknownFamily)
from .cases import Family, families, get_family
from .lab import Result, load_result, measure, run_family, run_program
from .run import Limits

__all__ = [
    "BadParameter", "BuildFailed", "Family", "GoNotFound", "GoTooOld", "LabContentMissing", "LeakLabError", "Limits",
    "ProgramFailed", "Result", "UnknownFamily", "families", "get_family", "load_result", "measure",
    "run_family", "run_program",
]
