"""The ``leaklab`` command: maps arguments onto one library call each."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from . import __version__, stopping
from .cases import families, get_family
from .errors import BadParameter, GoNotFound, GoTooOld, LeakLabError
from .run import DEFAULT_OUT, Limits

# The commands' modules (numpy, scipy, matplotlib, nbconvert behind them) are imported when a command
# needs them, so `leaklab list` and `leaklab --help` start at once.
_DEFAULT_REPORT = Path("reports")
_MATRIX_VERSIONS = ("1.22", "1.24", "1.26", "1.27")
_MATRIX_GODEBUG = "asynctimerchan=1"

__all__ = ["main"]

_err = Console(stderr=True)
#: Tables on stdout; into a file or a CI log (no terminal to measure) they get room instead of 80 columns.
_out = Console(width=None if sys.stdout.isatty() else 160)


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


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not (key[0].isalpha() or key[0] == "_") or not all(c.isalnum() or c == "_" for c in key):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. --env PORT={{port}})")
    return key, value


def _seconds(text: str) -> float:
    return _number(text, positive=True)


def _seconds_or_zero(text: str) -> float:
    return _number(text, positive=False)


#: The longest run of a family (its leaks are fast; most runs stop far sooner), and of any other program.
FAMILY_DURATION_S = Limits.duration_s
PROGRAM_DURATION_S = 30.0


def _add_run_options(p: argparse.ArgumentParser, duration: str = f"{FAMILY_DURATION_S:g}") -> None:
    p.add_argument("--duration", type=_seconds, metavar="S",
                   help=f"the longest a run goes on; it stops sooner once its verdict is certain (default {duration})")
    p.add_argument("--fixed-window", action="store_true",
                   help="always run for --duration, never stop early (the verdict is then taken at the end)")
    p.add_argument("--settle", type=_seconds, metavar="S", help="how long growth must persist before an early "
                   "verdict (default: a third of the window, 2 to 10 s)")
    p.add_argument("--interval", type=_seconds, default=Limits.interval_s,
                   help="seconds between samples, at least 0.01 (default %(default)s)")
    p.add_argument("--warmup", type=_seconds_or_zero, default=Limits.warmup_s,
                   help="seconds ignored at the start of a run (default %(default)s)")
    p.add_argument("--mem-cap", type=int, default=Limits.mem_cap_bytes // 2**20, metavar="MIB",
                   help="RSS at which a run is stopped and counted as a leak (default %(default)s MiB)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run data (default %(default)s/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of a table")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leaklab", description="Run Go leak reproductions and judge their curves.")
    parser.add_argument("--version", action="version", version=f"leaklab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the families, their variants and signals")
    sub.add_parser("doctor", help="which Go the lab uses; exit 1 when none suitable is found (used by make setup)")
    run = sub.add_parser("run", help="build, run and judge a family (or any Go main package)")
    run.add_argument("family", nargs="?", help="a family from `leaklab list`, or `all`")
    run.add_argument("--variant", default="both", help="leaky, fixed or both (default), or another variant the "
                     "family declares")
    run.add_argument("--program", type=Path, metavar="DIR", help="measure this Go main package instead of a family; "
                     "arguments for it follow `--` ({port} in them is a free loopback port the lab chooses)")
    run.add_argument("--cwd", type=Path, metavar="DIR", help="the program's working directory (default: the "
                     "folder of --program, so relative paths in its arguments work)")
    run.add_argument("--env", action="append", type=_assignment, default=[], metavar="KEY=VALUE",
                     help="set a variable for the program (repeatable); it inherits leaklab's environment too")
    run.add_argument("--load", action="append", default=[], metavar="URL",
                     help="send GET requests to this loopback URL while measuring (repeatable; they take turns); "
                     "the warm-up starts when it first answers, and answered requests are the program's work")
    run.add_argument("--rate", type=int, metavar="N", help="requests per second with --load (default 200)")
    run.add_argument("--test", metavar="PATTERN", help="with --program: run the package's tests and benchmarks "
                     "whose names match PATTERN (a Go regexp) in a loop, and judge what each round keeps")
    run.add_argument("--expect", choices=("flat", "leak"), help="exit 1 unless every verdict is this one "
                     "(a CI gate: 0 when it matches, 1 when it differs, 2 on errors)")
    _add_run_options(run, f"{FAMILY_DURATION_S:g} s for a family, {PROGRAM_DURATION_S:g} s for --program")
    run.add_argument("--diagnose", action=argparse.BooleanOptionalAction, default=True,
                     help="take heap and goroutine profiles and show where the leak is (default: on)")
    run.add_argument("--details", action="store_true", help="show the diagnosis tables, not only a summary")
    mat = sub.add_parser("matrix", help="every family (or one) on several Go toolchains; or one variant with and "
                         "without a GODEBUG setting")
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
    _add_run_options(mat)
    ben = sub.add_parser("bench", help="sync.Map against map+RWMutex by share of writes; plot and crossover")
    ben.add_argument("--keys", type=int, nargs="+", help="key counts to run (default: all the benchmark has)")
    ben.add_argument("--benchtime", default="0.3s", help="go test -benchtime per case (default %(default)s)")
    ben.add_argument("--count", type=int, default=3, help="runs per case; the median is kept (default %(default)s)")
    ben.add_argument("--plot", type=Path, metavar="PNG",
                     help="where to draw the plot; the numbers go beside it as .json (default docs/img/bench-syncmap.png of the checkout)")
    ben.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    clm = sub.add_parser("claims", help="measure the article's claims; print (and save) the claims table")
    clm.add_argument("ids", nargs="*", help="claim ids (default: all)")
    clm.add_argument("--go", nargs="+", metavar="RELEASE", help="Go releases to measure every claim on, "
                     "fetched once and cached (default: the installed one)")
    clm.add_argument("--save", type=Path, nargs="?", const=True, metavar="JSON",
                     help="save the findings and claims.md beside them (default docs/claims.json of the checkout)")
    _add_run_options(clm)
    chk = sub.add_parser("check", help="check your fix of an exercise (labs/exercises/FAMILY); exit 0 when fixed")
    chk.add_argument("family", help="a family from `leaklab list`")
    chk.add_argument("--path", type=Path, metavar="DIR", help="folder of your main.go (default: the starter)")
    chk.add_argument("--hint", action="store_true", help="give the second hint at once (it comes by itself when the "
                     "same program still leaks on the next check)")
    _add_run_options(chk)
    ws = sub.add_parser("workshop", help="classroom runs of every family, then slides and a handout (workshop/)")
    ws.add_argument("--family", action="append", help="only this family (repeatable; default: all)")
    ws.add_argument("--start", default="09:00", help="start time for the agenda, HH:MM (default %(default)s)")
    ws.add_argument("--exercises-only", action="store_true",
                    help="only regenerate labs/notebooks/exercises from the solution notebooks")
    _add_run_options(ws)
    ws.add_argument("--pictures", type=Path, metavar="DIR", help="also copy the family figures here "
                    "(labs/img) with captions.md")
    ws.set_defaults(duration=12.0, warmup=2.0, interval=0.1, out=Path("workshop"), fixed_window=True)
    rep = sub.add_parser("report", help="execute every notebook and render the HTML report (reports/)")
    rep.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run data (default %(default)s/)")
    rep.add_argument("--report", type=Path, default=_DEFAULT_REPORT,
                     help="folder for the HTML report (default %(default)s/)")
    rep.add_argument("--duration", type=_seconds, default=FAMILY_DURATION_S,
                     help="the longest each program runs; it stops once its verdict is certain (default %(default)s)")
    rep.add_argument("--interval", type=_seconds, default=Limits.interval_s,
                     help="seconds between samples (default %(default)s)")
    rep.add_argument("--warmup", type=_seconds_or_zero, default=Limits.warmup_s,
                     help="seconds not judged at the start (default %(default)s)")
    rep.add_argument("--timeout", type=_seconds, default=300.0,
                     help="seconds a notebook cell may run before it counts as hung (default %(default)s)")
    rep.add_argument("--jobs", type=int, choices=range(1, 6), default=2, metavar="N",
                     help="family notebooks executed at once, 1 to 5 (default %(default)s)")
    return parser


def _limits(args: argparse.Namespace) -> Limits:
    mem_cap = getattr(args, "mem_cap", None)
    duration = args.duration or (PROGRAM_DURATION_S if getattr(args, "program", None) else FAMILY_DURATION_S)
    return Limits(duration_s=duration, interval_s=args.interval, warmup_s=args.warmup,
                  mem_cap_bytes=mem_cap * 2**20 if mem_cap else Limits.mem_cap_bytes,
                  sequential=not getattr(args, "fixed_window", False), settle_s=getattr(args, "settle", None))


def _cmd_list(args: argparse.Namespace) -> int:
    from .probe import SIGNALS

    table = Table(title="Leak families (go-cases/)")
    for col in ("family", "variants", "signal", "what leaks"):
        table.add_column(col)
    for f in families():
        table.add_row(f.name, "\n".join(f"{v} ({e.verdict})" for v, e in f.expect.items()),
                      SIGNALS[f.signal].label, f.title)
    _out.print(table)
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .toolchain import find_go

    try:
        found = find_go()
    except (GoNotFound, GoTooOld) as exc:
        _err.print(f"leaklab: {escape(str(exc))}", highlight=False)
        return 1
    print(f"leaklab: using {found.version} at {found.go}")
    return 0


def _program_options(args: argparse.Namespace) -> dict:
    """run_program's keywords from --cwd, --env, --load, --rate and the arguments after `--`."""
    from .load import DEFAULT_RATE, Load

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
    from .lab import run_family, run_program
    from .terminal import LiveRuns, verdict_block

    if bool(args.family) == bool(args.program):
        raise BadParameter("name a family (see `leaklab list`) or give --program DIR, not both and not neither")
    program = _program_options(args)
    limits = args.limits
    fams = [] if args.program else families() if args.family == "all" else [get_family(args.family)]
    variants = ["leaky", "fixed"] if args.variant == "both" else [args.variant]
    jobs = [(None, "program")] if args.program else [(f, v) for f in fams for v in variants]
    board = LiveRuns(len(jobs))
    results = []
    with Live(board, console=_err, transient=True, refresh_per_second=8):
        kwargs = dict(limits=limits, out=args.out, live=board.update, profiles=args.diagnose)
        for fam, variant in jobs:
            board.building = str(args.program) if fam is None else f"{fam.name}/{variant}"
            got = [run_program(args.program, **kwargs, **program)] if fam is None else \
                run_family(fam, variant, **kwargs)
            for r in got:
                board.finished(r)
            results += got
    if args.json:
        print(json.dumps({"results": [r.as_dict() for r in results]}, indent=2, allow_nan=False))
    else:
        from .load import describe

        _out.print(verdict_block(results, details=args.details))
        for r in results:
            if r.load:
                _out.print(escape(describe(r.load)), highlight=False)
        _err.print(f"run data: {args.out}/" + ("" if args.details or not args.diagnose else
                                                "  (--details: the diagnosis tables)"))
    return _expected(results, args.expect)


def _expected(results: list, expect: str | None) -> int:
    """0 when every verdict is ``expect`` (or nothing is expected), else 1, saying which differ."""
    differ = [r for r in results if expect and r.verdict != expect]
    for r in differ:
        _err.print(f"leaklab: --expect {expect}: {r.family}/{r.variant} is {r.verdict} ({escape(r.reason)})",
                   highlight=False)
    return 1 if differ else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from . import report
    from .terminal import verdict_block

    with _err.status("executing notebooks") as status:
        made = report.build_report(args.out, args.report, args.limits, timeout=args.timeout, jobs=args.jobs,
                                   progress=lambda msg: status.update(f"executing notebooks: {msg}"))
    _out.print(verdict_block(made.results))
    for problem in made.problems:
        _err.print(f"[yellow]differs from expect.toml:[/] {escape(problem)}", highlight=False)
    print(f"report: {made.index.resolve()}")
    return 1 if made.problems else 0


_OWN = {"list": _cmd_list, "doctor": _cmd_doctor, "run": _cmd_run, "report": _cmd_report}


def _command(name: str):
    """The function behind a command; the others live in their module as ``cmd_<name>``."""
    if name in _OWN:
        return _OWN[name]
    return getattr(importlib.import_module(f".{name}", __package__), f"cmd_{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``leaklab``; returns the exit status.

    Arguments after ``--`` are the program's (``leaklab run --program DIR -- -addr 127.0.0.1:{port}``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    program_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = _parser().parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.program_args = program_args
    if program_args and args.command != "run":
        _err.print(f"[bold red]leaklab: error:[/] arguments after -- are for `leaklab run --program DIR`, not "
                   f"`leaklab {args.command}`", highlight=False)
        return 2
    try:
        with stopping.raising():  # SIGTERM and SIGHUP stop what was started, as Ctrl-C does
            return _main(args)
    except LeakLabError as exc:
        _err.print(f"[bold red]leaklab: error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt as exc:
        _err.print(f"leaklab: {str(exc) or 'interrupted'}; every program the lab was watching was stopped",
                   soft_wrap=True, highlight=False)
        return 128 + stopping.signum_of(exc)


def _main(args: argparse.Namespace) -> int:
    if hasattr(args, "duration"):  # every command that runs programs takes the same run options
        from .lab import check_limits
        args.limits = _limits(args)
        check_limits(args.limits)
    return _command(args.command)(args)


if __name__ == "__main__":
    sys.exit(main())
