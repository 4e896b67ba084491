"""The one pair of consoles every ``leaklab`` command writes to: messages on stderr, tables on stdout."""

import sys

from rich.console import Console

__all__ = ["err", "out"]

#: Progress, errors and notes: stderr, so that ``--json`` leaves stdout to the document.
err = Console(stderr=True)
#: Tables on stdout; into a file or a CI log (no terminal to measure) they get room instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
