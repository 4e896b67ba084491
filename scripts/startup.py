"""How long `leaklab list` and `leaklab --help` take to start: the median of N runs of each.

    .venv/bin/python scripts/startup.py --runs 20

A speed target lives here, not in a timed test: a shared machine makes single timings noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args(argv)
    leaklab = shutil.which("leaklab", path=str(Path(sys.executable).parent)) or "leaklab"
    for command in (["list"], ["--help"]):
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            subprocess.run([leaklab, *command], stdout=subprocess.DEVNULL, check=True, timeout=60)
            times.append(time.perf_counter() - began)
        print(f"leaklab {' '.join(command)}: median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
