"""``leaklab check`` and ``leaklab workshop``: a learner's fix judged, and an instructor's slides and handout."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .options import add_run_options, run_limits

__all__ = ["add_commands"]

#: workshop.WORKSHOP_LIMITS and its folder, kept here so that `leaklab --help` does not import the workshop.
_WORKSHOP_RUNS = dict(duration=12.0, warmup=2.0, interval=0.1, out=Path("workshop"), fixed_window=True)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``check`` and ``workshop`` to the subcommands ``sub``."""
    chk = sub.add_parser("check", help="check your fix of an exercise (labs/exercises/FAMILY); exit 0 when fixed")
    chk.add_argument("family", help="a family from `leaklab list`")
    chk.add_argument("--path", type=Path, metavar="DIR", help="folder of your main.go (default: the starter)")
    chk.add_argument("--hint", action="store_true", help="give the second hint at once (it comes by itself when the "
                     "same program still leaks on the next check)")
    add_run_options(chk)
    chk.set_defaults(handler=_cmd_check)
    ws = sub.add_parser("workshop", help="classroom runs of every family, then slides and a handout (workshop/)")
    ws.add_argument("--family", action="append", help="only this family (repeatable; default: all)")
    ws.add_argument("--start", default="09:00", help="start time for the agenda, HH:MM (default %(default)s)")
    ws.add_argument("--exercises-only", action="store_true",
                    help="only regenerate labs/notebooks/exercises from the solution notebooks")
    add_run_options(ws)
    ws.add_argument("--pictures", type=Path, metavar="DIR", help="also copy the family figures here "
                    "(labs/img) with captions.md")
    ws.set_defaults(handler=_cmd_workshop, **_WORKSHOP_RUNS)


def _cmd_check(args: argparse.Namespace) -> int:
    """``leaklab check FAMILY [--path DIR] [--hint]``: exit 0 only when the leak is fixed and the work still done.

    The family, the folder and the limits are checked before anything is printed or built.
    """
    from .. import _json
    from ..check import check_fix, format_report, validate

    limits = run_limits(args)
    fam, path = validate(args.family, args.path)
    where = args.path or f"the starter of {fam.name}"
    print(f"leaklab: building {where} and running it for {limits.duration_s:g} s...", file=sys.stderr)
    report = check_fix(fam.name, path, limits=limits, out=args.out, more=args.hint)
    print(_json.dumps({"results": [report.as_dict()]}, indent=2) if args.json else format_report(report))
    return 0 if report.passed else 1


def _cmd_workshop(args: argparse.Namespace) -> int:
    """``leaklab workshop``: run the families and render the slides and handout into ``--out``, with progress."""
    from ..cases import families, get_family
    from ..deck import parse_start
    from ..exercises import prepare_exercises
    from ..labs_pages import publish_pictures
    from ..workshop import run_workshop
    from .terminal import WorkshopProgress

    if args.exercises_only:
        for path in prepare_exercises():
            print(path)
        return 0
    limits = run_limits(args)
    parse_start(args.start)
    fams = [get_family(n) for n in args.family] if args.family else families()  # unknown: fails before any run
    started = time.monotonic()
    with WorkshopProgress(2 * len(fams), limits) as shown:
        made = run_workshop(args.out, limits=limits, names=[f.name for f in fams], start=args.start,
                            progress=shown.tick, step=shown.step)
    for name in ("slides.html", "handout.html"):
        print(f"{name}: {made[name]}")
    if args.pictures:
        print(f"pictures: {publish_pictures(Path(args.out), args.pictures)}")
    took = time.monotonic() - started
    print(f"leaklab workshop: ready in {took // 60:.0f} min {took % 60:.0f} s; open slides.html from disk "
          "(no network needed)", file=sys.stderr)
    return 0
