"""``leaklab bench``, ``matrix`` and ``claims``: the sync.Map benchmark, Go releases side by side, the claims."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rich.table import Table

from .console import err, out
from .options import add_run_options, run_limits

__all__ = ["add_commands", "versions_mode"]

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
    mat.set_defaults(handler=_cmd_matrix)


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
    clm.set_defaults(handler=_cmd_claims)


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


def _cmd_claims(args: argparse.Namespace) -> int:
    """``leaklab claims [ID ...]``: check the claims, print the table, save it."""
    from .. import _json
    from ..claim_runs import run_claims
    from ..claims import claims_markdown, write_claims

    findings = run_claims(args.ids, limits=run_limits(args), out=args.out, versions=args.go)
    if args.json:
        print(_json.dumps({"findings": [dataclasses.asdict(f) for f in findings]}, indent=2, default=str))
    else:
        print(claims_markdown(findings))
    if args.save:
        print(f"table: {write_claims(findings, None if args.save is True else args.save)}", file=sys.stderr)
    return 0 if all(f.as_expected for f in findings) else 1


def versions_mode(family: str, variant: str | None) -> bool:
    """``matrix all``, ``matrix FAMILY`` (no variant, or ``both``): the families' variants per version; a
    named variant (``matrix timer --variant classic``) is the GODEBUG matrix of that one variant."""
    from ..cases import get_family

    if family == "all" or variant in (None, "both"):
        return True
    # The parser's old default: `matrix syncmap` means its variants, the classic timer is the timer's own.
    return variant == "classic" and variant not in get_family(family).expect


def _cmd_matrix(args: argparse.Namespace) -> int:
    """``leaklab matrix all|FAMILY --go 1.22 1.24 1.26 1.27``: :func:`leaklab.matrix.run_versions`, or with
    ``--variant V`` :func:`leaklab.godebug.run_matrix` (that variant with and without ``--godebug``)."""
    limits = run_limits(args)
    if versions_mode(args.family, args.variant):
        return _cmd_versions(args, limits)
    from .. import _json
    from ..cases import get_family
    from ..godebug import matrix_png, run_matrix

    err.print(f"matrix: {args.family}/{args.variant} on Go {', '.join(args.go)} "
              f"(toolchains are fetched once into the cache; first use downloads ~75 MB each)")
    cells = run_matrix(args.family, args.variant, args.go, args.godebug, limits=limits, out=args.out)
    fam = get_family(args.family)
    png = matrix_png(cells, args.plot or Path(args.out) / f"matrix-{fam.name}-{args.variant}" / "matrix.png",
                     fam.signal, f"{fam.name}/{args.variant} across Go versions")
    if args.json:
        print(_json.dumps({"cells": [dataclasses.asdict(c) | {"as_expected": c.as_expected} for c in cells],
                           "plot": str(png)}, indent=2))
    else:
        _show_cells(cells, fam)
        err.print(f"plot: {png}")
    return 0 if all(c.as_expected for c in cells) else 1


def _show_cells(cells: list, fam) -> None:
    """The GODEBUG matrix as a table, then what each cell not measured says."""
    from ..probe import SIGNALS

    table = Table(title=f"{fam.name}/{cells[0].variant if cells else ''} across Go versions")
    for col in ("toolchain", "go.mod", "GODEBUG", "result", "expected", "growth"):
        table.add_column(col)
    sig = SIGNALS[fam.signal]
    for c in cells:
        growth = "-" if c.status != "measured" else sig.rate(c.rate_per_s)
        mark = "green" if c.as_expected else "red"
        table.add_row(c.go_version, f"go {c.go_directive}", c.godebug or "-", f"[{mark}]{c.verdict or c.status}[/]",
                      c.expected, growth)
    out.print(table)
    for c in cells:
        if c.status != "measured":
            out.print(f"{c.label}: {c.status}: {c.note}", highlight=False, markup=False)


def _cmd_versions(args: argparse.Namespace, limits) -> int:
    """``leaklab matrix all``: every family's leaky and fixed on each toolchain, then the checks, the plots."""
    from rich.markdown import Markdown

    from .. import _json
    from ..claims import save_versions
    from ..matrix import run_versions, version_checks, versions_png, versions_table

    err.print(f"matrix: {args.family} (leaky and fixed) on Go {', '.join(args.go)} (toolchains are fetched once "
              f"into the cache; first use downloads ~75 MB each)")
    rows = run_versions(args.family, args.go, limits=limits, out=args.out)
    checks = version_checks(args.go, args.family) if args.checks else []
    plots = {fam: str(versions_png(rows, fam, Path(args.plot).with_name(f"{Path(args.plot).stem}-{fam}.png")
                                   if args.plot else Path(args.out) / f"matrix-{fam}.png"))
             for fam in dict.fromkeys(r.family for r in rows)}
    ok = all(r.as_expected for r in rows)
    if args.save:
        err.print(f"table: {save_versions(rows, checks, None if args.save is True else args.save)}")
    if args.json:
        print(_json.dumps({"results": [r.as_dict() for r in rows], "checks": checks, "plots": plots}, indent=2))
        return 0 if ok else 1
    out.print(Markdown(versions_table(rows)))
    for c in checks:
        out.print(f"{c['go_version']} {c['check']} on {c['family']}/{c['variant']}: "
                  + (c["found"] if c["available"] else f"not available ({c['found']})"), highlight=False, markup=False)
    err.print(f"plots: {', '.join(plots.values())}")
    return 0 if ok else 1
