"""Errors a learner can act on. Every message says what happened and what to do."""

import signal


class LeakLabError(Exception):
    """Base class of every error the lab reports to its user."""


class GoNotFound(LeakLabError):
    """No Go toolchain is available."""


class GoTooOld(LeakLabError):
    """The Go toolchain found is older than the lab needs."""


class LabContentMissing(LeakLabError):
    """The lab's content (go-cases/, notebooks/, labs/) is not where the lab looked."""


class UnknownFamily(LeakLabError):
    """A family name that go-cases/ does not define."""


class BadParameter(LeakLabError):
    """A parameter out of range (duration, interval, memory cap...)."""


class BuildFailed(LeakLabError):
    """The Go compiler rejected the program; the message carries its output."""


class ProgramFailed(LeakLabError):
    """The program crashed, timed out or never produced a sample.

    The samples gathered before the failure are kept in ``run_dir``.
    """

    def __init__(self, message: str, run_dir: str | None = None) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) ended the work after what it started was stopped.

    A ``KeyboardInterrupt``, so whatever handles Ctrl-C handles it too; ``signum`` says which signal
    it was, and the CLI exits with 128 + ``signum`` (130, 143, 129).
    """

    def __init__(self, message: str = "interrupted", signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum
