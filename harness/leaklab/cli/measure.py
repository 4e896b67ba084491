"""``leaklab bench``, ``matrix`` and ``claims``: the sync.Map benchmark, Go releases side by side, the claims."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from .options import add_run_options, run_limits

__all__ = ["add_commands"]

# matrix.DEFAULT_VERSIONS and matrix.DEFAULT_GODEBUG, kept here so that `leaklab --help` does not import the matrix.
_MATRIX_VERSIONS = ("1.22", "1.24", "1.26", "1.27")
_MATRIX_GODEBUG = "asynctimerchan=1"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``matrix``, ``bench`` and ``claims`` to the subcommands ``sub``."""
    _add_matrix(sub.add_parser("matrix", help="every family (or one) on several Go toolchains; or one variant with "
                               "and without a GODEBUG setting"))
    _add_bench(sub.add_parser("bench", help="sync.Map against map+RWMutex by share of writes; plot and crossover"))
    _add_claims(sub.add_parser("claims", help="measure the article's claims; print (and save) the claims table"))


def _add_matrix(mat: argparse.ArgumentParser) -> None:
    mat.add_argument("family", help="`all`, or a family from `leaklab list`")
    mat.add_argument("--variant", help="one variant, run with and without --godebug (e.g. `timer --variant "
                     "classic`); default: the leaky and fixed variants")
    mat.add_argument("--go", nargs="+", default=list(_MATRIX_VERSIONS), metavar="RELEASE",
                     help="Go releases, fetched once and cached (default: %(default)s)")
    mat.add_argument("--godebug", default=_MATRIX_GODEBUG, help="with --variant: also run with this GODEBUG "
                     "('' for none; default %(default)s)")
    mat.add_argument("--checks", action=argparse.BooleanOptionalAction, default=True,
                     help="also run each toolchain's own checks where it has them (checkfinalizers, -asan: Go 1.25+)")
    mat.add_argument("--save", type=Path, nargs="?", const=True, metavar="JSON",
                     help="keep the table with the claims findings, redraw docs/img/matrix-FAMILY.png and "
                     "docs/claims.md (default docs/claims.json of the checkout)")
    mat.add_argument("--plot", type=Path, metavar="PNG", help="where to draw the plot (default: in --out)")
    add_run_options(mat)
    mat.set_defaults(handler=_in_module("matrix", "cmd_matrix"))


def _add_bench(ben: argparse.ArgumentParser) -> None:
    ben.add_argument("--keys", type=int, nargs="+", help="key counts to run (default: all the benchmark has)")
    ben.add_argument("--benchtime", default="0.3s", help="go test -benchtime per case (default %(default)s)")
    ben.add_argument("--count", type=int, default=3, help="runs per case; the median is kept (default %(default)s)")
    ben.add_argument("--plot", type=Path, metavar="PNG", help="where to draw the plot; the numbers go beside it as "
                     ".json (default docs/img/bench-syncmap.png of the checkout)")
    ben.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ben.set_defaults(handler=_cmd_bench)


def _add_claims(clm: argparse.ArgumentParser) -> None:
    clm.add_argument("ids", nargs="*", help="claim ids (default: all)")
    clm.add_argument("--go", nargs="+", metavar="RELEASE", help="Go releases to measure every claim on, "
                     "fetched once and cached (default: the installed one)")
    clm.add_argument("--save", type=Path, nargs="?", const=True, metavar="JSON",
                     help="save the findings and claims.md beside them (default docs/claims.json of the checkout)")
    add_run_options(clm)
    clm.set_defaults(handler=_in_module("claims", "cmd_claims"))


def _in_module(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The command ``name`` of ``leaklab.<module>``, imported when it runs, given the checked run limits."""
    def command(args: argparse.Namespace) -> int:
        args.limits = run_limits(args)
        return getattr(importlib.import_module(f"..{module}", __package__), name)(args)
    return command


def _cmd_bench(args: argparse.Namespace) -> int:
    """``leaklab bench``: run the benchmark, print the crossover, draw the plot."""
    from .. import _json
    from ..bench import bench_png, bench_png_path, describe, run_bench

    result = run_bench(args.keys or (), args.benchtime, args.count)
    png = bench_png(result, args.plot or bench_png_path())
    if args.json:
        print(_json.dumps(result.as_dict() | {"crossover_write_percent": result.crossovers(), "plot": str(png)},
                          indent=2))
        return 0
    for keys in sorted(result.ns_per_op, key=int):
        print(f"{int(keys):>7,} keys: {describe(result.ns_per_op[keys])}")
    print(f"plot: {png}")
    return 0
