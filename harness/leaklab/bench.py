"""sync.Map against map+RWMutex: run the Go benchmark of go-cases/bench, find the crossover, plot it.

The benchmark (``go-cases/bench/syncmap_test.go``) measures ns per operation for each key count, write
ratio and map. The crossover is the write ratio at which the RWMutex map overtakes sync.Map,
interpolated between the two measured ratios around it; it depends on the machine and the Go version,
which every result carries.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import os
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from . import _json
from .cases import cases_dir as default_cases_dir
from .errors import BenchFailed
from .paths import content
from .plot import colour
from .toolchain import GoToolchain, find_go

__all__ = ["bench_png_path", "BenchResult", "bench_png", "crossover", "describe", "load_bench", "plot_bench",
           "run_bench"]

#: Where ``leaklab bench`` draws its plot by default (docs/img/ of this checkout, wherever it is run from).
def bench_png_path() -> Path:
    """Where the committed benchmark picture lives: docs/img/ of the checkout."""
    return content("docs", "img", "bench-syncmap.png")

_LINE = re.compile(r"^BenchmarkMaps/keys=(\d+)/writes=(\d+)%/(\S+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns/op"
                   r"(?:\s+([\d.]+) cores)?")
IMPLS = ("sync.Map", "RWMutex")


@dataclasses.dataclass
class BenchResult:
    """Median ns/op per (keys, write %, map), with where and when it was measured.

    ``cores`` is how many CPU cores each case really used (median, same keys as ``ns_per_op``); with no
    writes neither map blocks, so far fewer than ``procs`` (GOMAXPROCS) there means other programs
    were taking the CPUs.
    """

    ns_per_op: dict[str, dict[str, dict[str, float]]]  # keys -> impl -> write% -> ns/op
    go_version: str
    date: str
    cpus: int
    benchtime: str
    count: int
    cores: dict[str, dict[str, dict[str, float]]] = dataclasses.field(default_factory=dict)
    procs: int = 0

    def crossovers(self) -> dict[int, float | None]:
        """Write % at which RWMutex overtakes sync.Map, per key count (None: no crossover measured)."""
        return {int(k): crossover(v) for k, v in self.ns_per_op.items()}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _parse(text: str) -> tuple[dict[str, dict[str, dict[str, list[tuple[float, float]]]]], int]:
    """keys -> impl -> write% -> [(ns/op, cores), ...], and GOMAXPROCS (0 when not printed)."""
    runs: dict = {}
    procs = 0
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m:
            keys, writes, impl, maxprocs, ns, cores = m.groups()
            procs = int(maxprocs or 1)
            runs.setdefault(keys, {}).setdefault(impl, {}).setdefault(writes, []).append(
                (float(ns), float(cores or "nan")))
    return runs, procs


def _medians(runs: dict, index: int) -> dict[str, dict[str, dict[str, float]]]:
    return {k: {i: {w: statistics.median(v[index] for v in vs) for w, vs in ws.items()} for i, ws in imps.items()}
            for k, imps in runs.items()}


def crossover(by_impl: dict[str, dict[str, float]]) -> float | None:
    """The write % where sync.Map stops being faster, interpolated; None if it never changes sides."""
    sm, rw = by_impl.get("sync.Map", {}), by_impl.get("RWMutex", {})
    ratios = sorted(set(sm) & set(rw), key=float)
    diff = [(float(w), sm[w] - rw[w]) for w in ratios]  # > 0: RWMutex faster
    for (w0, d0), (w1, d1) in itertools.pairwise(diff):
        if d0 <= 0 < d1:
            return w0 + (w1 - w0) * (-d0) / (d1 - d0)
    return None


def run_bench(keys: Sequence[int] = (), benchtime: str = "0.3s", count: int = 3, go: GoToolchain | None = None,
              cases_dir: Path | None = None) -> BenchResult:
    """Run the benchmark (all key counts, or only ``keys``) and keep the median of ``count`` runs."""
    go = go or find_go()
    pattern = "BenchmarkMaps/" + (f"^keys=({'|'.join(str(k) for k in keys)})$/" if keys else "")
    cmd = [go.go, "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", str(count), "./bench/"]
    cases_dir = cases_dir or default_cases_dir()
    proc = go.run(*cmd[1:], cwd=cases_dir, timeout=1800)
    runs, procs = _parse(proc.stdout)
    if proc.returncode != 0 or not runs:
        output = (proc.stdout + proc.stderr).strip()[-1500:]
        raise BenchFailed(f"`{' '.join(cmd)}` failed in {cases_dir}:\n{output}", output=output)
    return BenchResult(ns_per_op=_medians(runs, 0), cores=_medians(runs, 1), procs=procs, go_version=go.version,
                       cpus=os.cpu_count() or 0, benchtime=benchtime, count=count,
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def load_bench(path: Path) -> BenchResult:
    """Read a result :func:`bench_png` saved (a number it could not measure is null there, NaN here)."""
    doc = json.loads(Path(path).read_text())
    for table in ("ns_per_op", "cores"):
        doc[table] = {k: {impl: {w: float("nan") if v is None else v for w, v in by_write.items()}
                          for impl, by_write in by_impl.items()} for k, by_impl in doc.get(table, {}).items()}
    return BenchResult(**doc)


def describe(by_impl: dict[str, dict[str, float]]) -> str:
    w = crossover(by_impl)
    if w is not None:
        return f"RWMutex overtakes sync.Map at ~{w:.0f}% writes"
    sm, rw = by_impl.get("sync.Map", {}), by_impl.get("RWMutex", {})
    wins = sum(sm[r] < rw[r] for r in set(sm) & set(rw))
    return (f"no crossover: sync.Map faster at {wins} of {len(set(sm) & set(rw))} ratios, "
            f"never switching from sync.Map to RWMutex as writes grow")


def plot_bench(result: BenchResult) -> Figure:
    """ns/op against the share of writes, one panel per key count, the crossover marked."""
    panels = sorted(result.ns_per_op, key=int)
    fig = Figure(figsize=(5 * len(panels), 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, keys in zip(axes, panels, strict=True):
        for impl in IMPLS:
            points = sorted((float(w), ns) for w, ns in result.ns_per_op[keys].get(impl, {}).items())
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color=colour(impl),
                    label=impl if impl == "sync.Map" else "map + sync.RWMutex")
        cross = crossover(result.ns_per_op[keys])
        if cross is not None:
            ax.axvline(cross, color="#555555", ls="--", lw=1, label=f"crossover ~{cross:.0f}% writes")
        ax.set_xscale("symlog", linthresh=1)
        ticks = sorted({int(float(w)) for ws in result.ns_per_op[keys].values() for w in ws})
        ax.set_xlim(0, max(ticks) * 1.1)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("share of operations that are writes (%)")
        ax.set_ylabel("time per operation (ns, lower is faster)")
        ax.set_title(f"{int(keys):,} keys: {describe(result.ns_per_op[keys])}", fontsize=9, wrap=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"sync.Map vs map+RWMutex, {result.cpus} CPUs, {result.go_version}, measured "
                 f"{result.date[:10]} (median of {result.count} x {result.benchtime})", fontsize=10)
    return fig


def bench_png(result: BenchResult, path: Path) -> Path:
    """Draw :func:`plot_bench` into ``path`` (PNG) and save the numbers beside it (``.json``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_bench(result).savefig(path, dpi=100)
    path.with_suffix(".json").write_text(_json.dumps(result.as_dict(), indent=2))
    return path
