"""The ``leaklab`` command: maps arguments onto one library call each.

:func:`main` parses, then calls the command's handler; each group of commands lives in a module of its
own (:mod:`.runs`: list, doctor, run, report; :mod:`.measure`: matrix, bench, claims; :mod:`.classroom`:
check, workshop), which adds its subcommands to the parser. Everything the command prints goes through the
one pair of consoles of :mod:`.console`; :mod:`.terminal` draws runs, verdicts and progress. The lab's
modules (numpy, scipy, matplotlib, nbconvert behind them) are imported when a command needs them, so
``leaklab list`` and ``leaklab --help`` start at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.markup import escape

from .. import __version__, stopping
from ..errors import LeakLabError
from . import classroom, measure, runs
from .console import err

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leaklab", description="Run Go leak reproductions and judge their curves.")
    parser.add_argument("--version", action="version", version=f"leaklab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (runs, measure, classroom):
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``leaklab``; returns the exit status.

    Arguments after ``--`` are the program's (``leaklab run --program DIR -- -addr 127.0.0.1:{port}``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    program_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = _parser().parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.program_args = program_args
    if program_args and args.command != "run":
        err.print(f"[bold red]leaklab: error:[/] arguments after -- are for `leaklab run --program DIR`, not "
                  f"`leaklab {args.command}`", soft_wrap=True, highlight=False)
        return 2
    try:
        with stopping.raising():  # SIGTERM and SIGHUP stop what was started, as Ctrl-C does
            return args.handler(args)
    except LeakLabError as exc:
        err.print(f"[bold red]leaklab: error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        return 2
    except KeyboardInterrupt as exc:
        err.print(f"leaklab: {str(exc) or 'interrupted'}; every program the lab was watching was stopped",
                  soft_wrap=True, highlight=False)
        return 128 + stopping.signum_of(exc)

