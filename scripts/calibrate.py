"""Calibrate the verdict: run every variant of every family N times and count wrong verdicts.

    .venv/bin/python scripts/calibrate.py --repeats 20 --duration 4 >> docs/calibration.md

Writes a Markdown report on stdout (progress on stderr): per variant, the verdicts obtained, the
spread of the measured rates, and the wall time per run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from leaklab import Limits, families, run_family
from leaklab.probe import SIGNALS
from leaklab.toolchain import find_go


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--duration", type=float, default=Limits.duration_s)
    p.add_argument("--diagnose", action=argparse.BooleanOptionalAction, default=True,
                   help="take the profiles `leaklab run` takes by default (forced GCs, finer heap sampling)")
    args = p.parse_args(argv)
    go = find_go()
    limits = Limits(duration_s=args.duration)
    rows, loads = [], []
    with tempfile.TemporaryDirectory() as out:
        for fam in families():
            for variant in fam.variants:
                verdicts, rates, walls = Counter(), [], []
                for i in range(args.repeats):
                    began = time.monotonic()
                    r = run_family(fam, variant, limits=limits, out=Path(out), go=go, profiles=args.diagnose)[0]
                    walls.append(time.monotonic() - began)
                    loads.append(os.getloadavg()[0])
                    verdicts[r.verdict] += 1
                    rates.append(r.rate_per_s / SIGNALS[r.signal].scale)
                    print(f"{fam.name}/{variant} {i + 1}/{args.repeats}: {r.verdict}", file=sys.stderr)
                wrong = args.repeats - verdicts[fam.expect[variant].verdict]
                rows.append((fam.name, variant, fam.expect[variant].verdict, dict(verdicts), wrong,
                             min(rates), statistics.median(rates), max(rates), SIGNALS[fam.signal].display_unit,
                             statistics.median(walls)))
    print(f"{datetime.date.today()}, {go.version}, {args.repeats} runs per variant of "
          f"{args.duration:g} s (warm-up {limits.warmup_s:g} s, sample every {limits.interval_s:g} s), "
          f"diagnostics {'on' if args.diagnose else 'off'}, run one after another on this machine "
          f"({os.cpu_count()} cores; 1-minute load average during the runs: median {statistics.median(loads):.1f}, "
          f"max {max(loads):.1f}).\n")
    print("| family | variant | expected | verdicts | wrong | rate min / median / max | wall s (median) |")
    print("|---|---|---|---|---|---|---|")
    for fam, var, exp, got, wrong, lo, med, hi, unit, wall in rows:
        print(f"| {fam} | {var} | {exp} | {', '.join(f'{k} {v}' for k, v in got.items())} | {wrong} | "
              f"{lo:,.2f} / {med:,.2f} / {hi:,.2f} {unit}/s | {wall:.1f} |")
    total = sum(r[4] for r in rows)
    print(f"\nWrong verdicts: {total} of {len(rows) * args.repeats}.")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
