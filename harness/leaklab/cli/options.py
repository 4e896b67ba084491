"""The options several ``leaklab`` commands share: numbers of seconds, KEY=VALUE, and the run options."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..run import DEFAULT_OUT, Limits, check_limits

__all__ = ["FAMILY_DURATION_S", "FAMILY_WARMUP_S", "PROGRAM_DURATION_S", "PROGRAM_WARMUP_S", "add_run_options",
           "assignment", "run_limits", "seconds", "seconds_or_zero"]

#: The longest run of a family (its leaks are fast; most runs stop far sooner), and of any other program.
FAMILY_DURATION_S = Limits.duration_s
PROGRAM_DURATION_S = 30.0
#: The start-up a run ignores. The lab's programs are level within 0.4 s (measured on every fixed variant,
#: docs/calibration.md); a program the lab has never seen gets a second.
FAMILY_WARMUP_S = 0.5
PROGRAM_WARMUP_S = Limits.warmup_s


def _number(text: str, *, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (e.g. 4 or 0.05)") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
    if value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a {'positive' if positive else 'non-negative'} "
                                         f"number of seconds")
    return value


def seconds(text: str) -> float:
    """A positive, finite number of seconds (an argparse ``type``)."""
    return _number(text, positive=True)


def seconds_or_zero(text: str) -> float:
    """A non-negative, finite number of seconds (an argparse ``type``)."""
    return _number(text, positive=False)


def assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` with KEY a name an environment variable can have (an argparse ``type``)."""
    key, sep, value = text.partition("=")
    if not sep or not key or not (key[0].isalpha() or key[0] == "_") or not all(c.isalnum() or c == "_" for c in key):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. --env PORT={{port}})")
    return key, value


def add_run_options(p: argparse.ArgumentParser, duration: str = f"{FAMILY_DURATION_S:g}") -> None:
    """The options of every command that runs programs; :func:`run_limits` reads them back."""
    p.add_argument("--duration", type=seconds, metavar="S",
                   help=f"the longest a run goes on; it stops sooner once its verdict is certain (default {duration})")
    p.add_argument("--fixed-window", action="store_true",
                   help="always run for --duration, never stop early (the verdict is then taken at the end)")
    p.add_argument("--settle", type=seconds, metavar="S", help="how long growth must persist before an early "
                   "verdict (default: a third of the window, 1.5 to 10 s; 1 s for the lab's own programs)")
    p.add_argument("--interval", type=seconds, default=Limits.interval_s,
                   help="seconds between samples, at least 0.01 (default %(default)s)")
    p.add_argument("--warmup", type=seconds_or_zero, help=f"seconds ignored at the start of a run (default "
                   f"{FAMILY_WARMUP_S:g} for the lab's programs, {PROGRAM_WARMUP_S:g} for --program)")
    p.add_argument("--mem-cap", type=int, default=Limits.mem_cap_bytes // 2**20, metavar="MIB",
                   help="RSS at which a run is stopped and counted as a leak (default %(default)s MiB)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run data (default %(default)s/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of a table")


def run_limits(args: argparse.Namespace, duration: float = FAMILY_DURATION_S,
               warmup: float = FAMILY_WARMUP_S) -> Limits:
    """The :class:`Limits` of the run options (``duration`` and ``warmup`` when --duration and --warmup
    are not given), checked: :class:`~leaklab.errors.BadParameter` before anything runs."""
    limits = Limits(duration_s=args.duration or duration, interval_s=args.interval,
                    warmup_s=warmup if args.warmup is None else args.warmup, mem_cap_bytes=args.mem_cap * 2**20,
                    sequential=not args.fixed_window, settle_s=args.settle)
    check_limits(limits)
    return limits
