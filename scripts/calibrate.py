"""Calibrate the verdict: run programs whose truth is known, many times, and count what it got wrong.

    .venv/bin/python scripts/calibrate.py families --repeats 20 > families.md
    .venv/bin/python scripts/calibrate.py corpus --repeats 5 --jobs 2 > corpus.md
    .venv/bin/python scripts/calibrate.py corpus --aside --repeats 5      # the held-out set, at the end
    .venv/bin/python scripts/calibrate.py corpus --aside aside-2 --repeats 5  # the second one
    .venv/bin/python scripts/calibrate.py corpus --aside aside-3 --repeats 5  # the third one
    .venv/bin/python scripts/calibrate.py corpus --aside aside-4 --repeats 5  # the fourth one
    .venv/bin/python scripts/calibrate.py corpus --aside aside-5 --repeats 5  # the fifth one

`families` runs every declared variant of every family (`leaklab run` defaults, diagnostics on);
`corpus` runs tests/corpus/*/ (or a held-out set, tests/corpus/aside*/*/) as `leaklab run --program` does, against each
program's truth.toml. Writes Markdown on stdout: the machine's conditions, per program the verdicts
obtained and the time to the verdict, then a confusion matrix. Progress goes to stderr, and every
result to --raw as JSON lines.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

from leaklab import Limits, ProgramFailed, families, run_family, run_program
from leaklab.cli.options import FAMILY_DURATION_S, FAMILY_WARMUP_S, PROGRAM_DURATION_S, PROGRAM_WARMUP_S
from leaklab.probe import read_samples
from leaklab.toolchain import find_go

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
OUTCOMES = ["leak", "flat", "inconclusive", "error"]


def _jobs(args: argparse.Namespace) -> list[tuple[str, str, dict]]:
    """(name, expected, how to run it) for every program to calibrate on."""
    if args.what == "families":
        return [(f"{fam.name}/{v}", fam.expect[v].verdict, {"family": fam, "variant": v})
                for fam in families() for v in fam.variants if fam.expect[v].verdict in ("leak", "flat")]
    root = CORPUS / args.aside if args.aside else CORPUS
    return [(d.name, tomllib.loads((d / "truth.toml").read_text())["verdict"], {"program": d})
            for d in sorted(root.iterdir()) if (d / "truth.toml").is_file()]


def _run_one(how: dict, limits: Limits, out: Path, go, diagnose: bool) -> dict:
    began = time.monotonic()
    try:
        if "family" in how:
            r = run_family(how["family"], how["variant"], limits=limits, out=out, go=go, profiles=diagnose)[0]
        else:
            r = run_program(how["program"], limits=limits, out=out, go=go, profiles=diagnose)
    except ProgramFailed as exc:
        return {"outcome": "error", "reason": str(exc).splitlines()[0], "wall_s": time.monotonic() - began}
    samples = read_samples(Path(r.run_dir) / "samples.jsonl")
    forced = float(samples["forced_gc_s"][-1] / samples.t[-1]) if "forced_gc_s" in samples.columns else None
    return {"outcome": r.verdict, "decided_after_s": r.decided_after_s, "signal": r.signal, "reason": r.reason,
            "rate_per_s": r.rate_per_s, "wall_s": time.monotonic() - began, "stopped": r.stopped,
            "forced_gc_share": forced}


def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return f"{statistics.median(values):.2f} / {p90:.2f} / {values[-1]:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["families", "corpus"])
    held_out = sorted(d.name for d in CORPUS.glob("aside*") if d.is_dir())
    p.add_argument("--aside", nargs="?", const="aside", choices=held_out,
                   help="a held-out set instead: one of the tests/corpus/aside* folders (default: aside)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1, help="programs run at once (default 1)")
    p.add_argument("--duration", type=float, help="maximum seconds per run (default: leaklab run's)")
    p.add_argument("--only", nargs="*", help="only these program names")
    p.add_argument("--diagnose", action=argparse.BooleanOptionalAction, default=None,
                   help="take profiles as leaklab run does (default: on for families, off for the corpus)")
    p.add_argument("--raw", type=Path, help="append every result here as a JSON line")
    args = p.parse_args(argv)
    diagnose = args.diagnose if args.diagnose is not None else args.what == "families"
    duration = args.duration or (FAMILY_DURATION_S if args.what == "families" else PROGRAM_DURATION_S)
    limits = Limits(duration_s=duration, warmup_s=FAMILY_WARMUP_S if args.what == "families" else PROGRAM_WARMUP_S)
    go = find_go()
    jobs = [j for j in _jobs(args) if not args.only or j[0] in args.only]
    work = [(name, exp, how, i) for name, exp, how in jobs for i in range(args.repeats)]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in jobs}
    loads, lock, began = [], threading.Lock(), time.monotonic()
    raw = open(args.raw, "a") if args.raw else None
    with tempfile.TemporaryDirectory(prefix="leaklab-calibrate-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(_run_one, how, limits, Path(tmp) / f"{i}-{name}", go, diagnose): (name, exp)
                   for name, exp, how, i in work}
        for n, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            name, exp = futures[fut]
            got = {"program": name, "expected": exp, **fut.result()}
            with lock:
                results[name].append(got)
                loads.append(os.getloadavg()[0])
            if raw:
                raw.write(json.dumps(got) + "\n")
                raw.flush()
            mark = "ok" if got["outcome"] == exp else "WRONG"
            print(f"[{n}/{len(work)} {time.monotonic() - began:.0f}s] {name}: {got['outcome']} "
                  f"({got.get('decided_after_s')}) {mark}: {got['reason'][:110]}", file=sys.stderr)
    _report(args, jobs, results, loads, go, limits, diagnose, time.monotonic() - began)
    return 0


def _report(args, jobs, results, loads, go, limits, diagnose, wall) -> None:
    total = sum(len(r) for r in results.values())
    right = sum(r["outcome"] == r["expected"] for rs in results.values() for r in rs)
    print(f"{datetime.date.today()}, {go.version}, `scripts/calibrate.py {' '.join(sys.argv[1:])}`: "
          f"{args.repeats} runs of each of {len(jobs)} programs, at most {limits.duration_s:g} s each "
          f"(warm-up {limits.warmup_s:g} s, a sample every {limits.interval_s:g} s, early stop on), "
          f"diagnostics {'on' if diagnose else 'off'}, {args.jobs} at a time, {wall / 60:.1f} min in all, on "
          f"{os.cpu_count()} cores (1-minute load average during the runs: median {statistics.median(loads):.1f}, "
          f"max {max(loads):.1f}).\n")
    print(f"**{right} of {total} right ({100 * right / total:.1f}%).**\n")
    print("| program | truth | verdicts | wrong | decided after, s (median / p90 / max) |")
    print("|---|---|---|---|---|")
    for name, exp, _ in jobs:
        rs = results[name]
        got = Counter(r["outcome"] for r in rs)
        decided = [r["decided_after_s"] for r in rs if r.get("decided_after_s") is not None]
        wrong = sum(r["outcome"] != exp for r in rs)
        print(f"| {name} | {exp} | {', '.join(f'{k} {v}' for k, v in got.most_common())} | "
              f"{wrong or ''} | {_quantiles(decided)} |")
    print("\nConfusion matrix (rows: truth, columns: what the lab said):\n")
    print("| truth \\ verdict | " + " | ".join(OUTCOMES) + " |")
    print("|---|" + "---|" * len(OUTCOMES))
    for truth in OUTCOMES:
        row = Counter(r["outcome"] for rs in results.values() for r in rs if r["expected"] == truth)
        if row:
            print(f"| {truth} | " + " | ".join(str(row.get(o, 0)) for o in OUTCOMES) + " |")
    shares = [r["forced_gc_share"] for rs in results.values() for r in rs if r.get("forced_gc_share") is not None]
    if shares:
        print(f"\nCPU the probe's forced collections took, as a share of one core over each run: median "
              f"{100 * statistics.median(shares):.2f}%, max {100 * max(shares):.2f}%")
    for truth in ("leak", "flat"):
        decided = [r["decided_after_s"] for rs in results.values() for r in rs
                   if r["expected"] == truth and r["outcome"] == truth and r.get("decided_after_s") is not None]
        print(f"\nTime to a right `{truth}` verdict (program seconds, median / p90 / max): {_quantiles(decided)}")


if __name__ == "__main__":
    sys.exit(main())
