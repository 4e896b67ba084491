"""``leaklab list``, ``doctor``, ``run`` and ``report``: the families, the Go in use, runs, and the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from ..cases import families, get_family
from ..errors import BadParameter, ToolchainError
from ..run import DEFAULT_OUT, Limits, check_limits
from .console import err, out
from .options import (
    FAMILY_DURATION_S,
    FAMILY_WARMUP_S,
    PROGRAM_DURATION_S,
    PROGRAM_WARMUP_S,
    add_run_options,
    assignment,
    run_limits,
    seconds,
    seconds_or_zero,
)

__all__ = ["add_commands"]

# report.DEFAULT_REPORT, kept here so that `leaklab --help` does not import the report's modules.
_DEFAULT_REPORT = Path("reports")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``list``, ``doctor``, ``run`` and ``report`` to the subcommands ``sub``."""
    sub.add_parser("list", help="the families, their variants and signals").set_defaults(handler=_cmd_list)
    sub.add_parser("doctor", help="which Go the lab uses; exit 1 when none suitable is found (used by make "
                   "setup)").set_defaults(handler=_cmd_doctor)
    _add_run(sub.add_parser("run", help="build, run and judge a family (or any Go main package)"))
    _add_report(sub.add_parser("report", help="execute every notebook and render the HTML report (reports/)"))


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("family", nargs="?", help="a family from `leaklab list`, or `all`")
    run.add_argument("--variant", default="both", help="leaky, fixed or both (default), or another variant the "
                     "family declares")
    run.add_argument("--program", type=Path, metavar="DIR", help="measure this Go main package instead of a family; "
                     "arguments for it follow `--` ({port} in them is a free loopback port the lab chooses)")
    run.add_argument("--cwd", type=Path, metavar="DIR", help="the program's working directory (default: the "
                     "folder of --program, so relative paths in its arguments work)")
    run.add_argument("--env", action="append", type=assignment, default=[], metavar="KEY=VALUE",
                     help="set a variable for the program (repeatable); it inherits leaklab's environment too")
    run.add_argument("--load", action="append", default=[], metavar="URL",
                     help="send GET requests to this loopback URL while measuring (repeatable; they take turns); "
                     "the warm-up starts when it first answers, and answered requests are the program's work")
    run.add_argument("--rate", type=int, metavar="N", help="requests per second with --load (default 200)")
    run.add_argument("--test", metavar="PATTERN", help="with --program: run the package's tests and benchmarks "
                     "whose names match PATTERN (a Go regexp) in a loop, and judge what each round keeps")
    run.add_argument("--expect", choices=("flat", "leak"), help="exit 1 unless every verdict is this one "
                     "(a CI gate: 0 when it matches, 1 when it differs, 2 on errors)")
    add_run_options(run, f"{FAMILY_DURATION_S:g} s for a family, {PROGRAM_DURATION_S:g} s for --program")
    run.add_argument("--diagnose", action=argparse.BooleanOptionalAction, default=True,
                     help="take heap and goroutine profiles and show where the leak is (default: on)")
    run.add_argument("--details", action="store_true", help="show the diagnosis tables, not only a summary")
    run.set_defaults(handler=_cmd_run)


def _add_report(rep: argparse.ArgumentParser) -> None:
    rep.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run data (default %(default)s/)")
    rep.add_argument("--report", type=Path, default=_DEFAULT_REPORT,
                     help="folder for the HTML report (default %(default)s/)")
    rep.add_argument("--duration", type=seconds, default=FAMILY_DURATION_S,
                     help="the longest each program runs; it stops once its verdict is certain (default %(default)s)")
    rep.add_argument("--interval", type=seconds, default=Limits.interval_s,
                     help="seconds between samples (default %(default)s)")
    rep.add_argument("--warmup", type=seconds_or_zero, default=FAMILY_WARMUP_S,
                     help="seconds not judged at the start (default %(default)s)")
    rep.add_argument("--timeout", type=seconds, default=300.0,
                     help="seconds a notebook cell may run before it counts as hung (default %(default)s)")
    rep.add_argument("--jobs", type=int, choices=range(1, 6), default=2, metavar="N",
                     help="family notebooks executed at once, 1 to 5 (default %(default)s)")
    rep.add_argument("--versions", nargs="*", metavar="RELEASE",
                     help="also the page 'Across Go versions': every family on these Go releases (default with no "
                          "release: 1.22 1.24 1.26 1.27; fetched once and cached; about a minute a release)")
    rep.set_defaults(handler=_cmd_report)


def _cmd_list(args: argparse.Namespace) -> int:
    from ..probe import SIGNALS

    table = Table(title="Leak families (go-cases/)")
    for col in ("family", "variants", "signal", "what leaks"):
        table.add_column(col)
    for f in families():
        table.add_row(f.name, "\n".join(f"{v} ({e.verdict})" for v, e in f.expect.items()),
                      SIGNALS[f.signal].label, f.title)
    out.print(table)
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ..toolchain import find_go

    try:
        found = find_go()
    except ToolchainError as exc:
        err.print(f"leaklab: {escape(str(exc))}", highlight=False)
        return 1
    print(f"leaklab: using {found.version} at {found.go}")
    return 0


def _program_options(args: argparse.Namespace) -> dict:
    """run_program's keywords from --cwd, --env, --load, --rate and the arguments after `--`."""
    from ..load import DEFAULT_RATE, Load

    given = [name for name, value in (("--cwd", args.cwd), ("--env", args.env), ("--load", args.load),
                                      ("--rate", args.rate), ("--test", args.test),
                                      ("arguments after --", args.program_args)) if value]
    if not args.program:
        if given:
            raise BadParameter(f"{', '.join(given)}: only for --program DIR (a family runs as it is)")
        return {}
    if args.rate is not None and not args.load:
        raise BadParameter("--rate is the pace of --load: give --load URL too")
    load = Load(tuple(args.load), args.rate if args.rate is not None else DEFAULT_RATE) if args.load else None
    return dict(args=args.program_args, program_env=dict(args.env), cwd=args.cwd, load=load, test=args.test)


def _cmd_run(args: argparse.Namespace) -> int:
    if bool(args.family) == bool(args.program):
        raise BadParameter("name a family (see `leaklab list`) or give --program DIR, not both and not neither")
    limits = run_limits(args, PROGRAM_DURATION_S if args.program else FAMILY_DURATION_S,
                        PROGRAM_WARMUP_S if args.program else FAMILY_WARMUP_S)
    program = _program_options(args)
    fams = [] if args.program else families() if args.family == "all" else [get_family(args.family)]
    variants = ["leaky", "fixed"] if args.variant == "both" else [args.variant]
    jobs = [(None, "program")] if args.program else [(f, v) for f in fams for v in variants]
    results = _run_jobs(args, jobs, limits, program)
    if args.json:
        print(json.dumps({"results": [r.as_dict() for r in results]}, indent=2, allow_nan=False))
    else:
        _show_verdicts(results, args)
    return _expected(results, args.expect)


def _run_jobs(args: argparse.Namespace, jobs: list, limits: Limits, program: dict) -> list:
    """Run each (family, variant) of ``jobs``, or the program, under a live view on stderr."""
    from ..lab import run_family, run_program
    from .terminal import LiveRuns

    board = LiveRuns(len(jobs))
    results = []
    with Live(board, console=err, transient=True, refresh_per_second=8):
        kwargs = dict(limits=limits, out=args.out, live=board.update, profiles=args.diagnose)
        for fam, variant in jobs:
            board.building = str(args.program) if fam is None else f"{fam.name}/{variant}"
            got = [run_program(args.program, **kwargs, **program)] if fam is None else \
                run_family(fam, variant, **kwargs)
            for r in got:
                board.finished(r)
            results += got
    return results


def _show_verdicts(results: list, args: argparse.Namespace) -> None:
    from ..load import describe
    from .terminal import verdict_block

    out.print(verdict_block(results, details=args.details))
    for r in results:
        if r.load:
            out.print(escape(describe(r.load)), highlight=False)
    err.print(f"run data: {args.out}/" + ("" if args.details or not args.diagnose else
                                         "  (--details: the diagnosis tables)"))


def _expected(results: list, expect: str | None) -> int:
    """0 when every verdict is ``expect`` (or nothing is expected), else 1, saying which differ."""
    differ = [r for r in results if expect and r.verdict != expect]
    for r in differ:
        err.print(f"leaklab: --expect {expect}: {r.family}/{r.variant} is {r.verdict} ({escape(r.reason)})",
                  highlight=False)
    return 1 if differ else 0


def _versions(asked: list[str] | None) -> list[str]:
    """``--versions`` not given: none; given alone: the matrix's releases; else the releases named."""
    if asked is None:
        return []
    from ..matrix import DEFAULT_VERSIONS
    return asked or list(DEFAULT_VERSIONS)


def _cmd_report(args: argparse.Namespace) -> int:
    from .. import report

    limits = Limits(duration_s=args.duration, interval_s=args.interval, warmup_s=args.warmup)
    check_limits(limits)
    with err.status("executing notebooks") as status:
        made = report.build_report(args.out, args.report, limits, timeout=args.timeout, jobs=args.jobs,
                                   progress=lambda msg: status.update(f"executing notebooks: {msg}"),
                                   versions=_versions(args.versions))
    from .terminal import verdict_block  # the verdict's modules (numpy, scipy) load once the notebooks run
    out.print(verdict_block(made.results))
    for problem in made.problems:
        err.print(f"[yellow]differs from expect.toml:[/] {escape(problem)}", highlight=False)
    print(f"report: {made.index.resolve()}")
    return 1 if made.problems else 0
