"""The report's page for the example service (go-cases/06-service): a leak that needs load to show.

The service is not a family (its ``expect.toml`` says ``family = false``): it needs a port and
requests. :func:`run_service` measures it three ways, as labs/06-your-program.md does with
``leaklab run --program DIR --load URL``: the leaky service under load, the leaky service with no
load, the fixed service under load. It records them in ``OUT/service/measured.json``, which
:func:`check` compares with ``expect.toml`` (``verdict`` under load, ``idle`` without, the growth
band under load). :func:`table` and :func:`figure` show them, per second and per request.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import math
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from . import _json
from .cases import cases_dir
from .lab import Result, load_result, measure
from .load import Load
from .plot import COLOURS, save_png
from .probe import SIGNALS, read_samples
from .run import Limits
from .runfolder import RunFolder
from .watch import side_by_side_runs

__all__ = ["FAMILY", "RUNS", "SETTLE_S", "Run", "check", "figure", "load_results", "run_service", "spec", "table"]

#: The folder in OUT the runs and the record go to, and the "family" the runs are filed under.
FAMILY = "service"
_RECORD = "measured.json"
#: The lab's own service is steady once it answers (the warm-up starts at its first answer), so it settles
#: as a family does rather than as an unknown program (a third of the window).
SETTLE_S = 1.5


@dataclasses.dataclass(frozen=True)
class Run:
    """One of the page's runs: which program, with load or without, and its name in OUT/service/."""

    name: str
    variant: str
    loaded: bool

    @property
    def label(self) -> str:
        return f"{self.variant}, {'under load' if self.loaded else 'no load'}"


#: The three runs of the page, in the order they run and are shown.
RUNS = (Run("leaky", "leaky", True), Run("leaky-no-load", "leaky", False), Run("fixed", "fixed", True))


def _folder() -> Path:
    return cases_dir() / "06-service"


def spec() -> dict:
    """The service's ``expect.toml``: its arguments, its load and what each variant should show."""
    return tomllib.loads((_folder() / "expect.toml").read_text())


def _expected(run: Run, doc: dict) -> str:
    want = doc["variants"][run.variant]
    return want["verdict"] if run.loaded else want["idle"]


def run_service(*, duration: float = 10.0, interval: float = 0.05, warmup: float = 1.0,
                out: str | Path = "runs") -> list[Result]:
    """Run :data:`RUNS` (each until its verdict is certain, at most ``duration`` s) and record them."""
    doc = spec()
    limits = Limits(duration_s=float(duration), interval_s=float(interval), warmup_s=float(warmup), settle_s=SETTLE_S)
    load = Load(tuple(doc["load"]["urls"]), int(doc["load"]["rate"]))

    def one(run: Run, cancel: threading.Event) -> Result:
        return measure(_folder() / run.variant, FAMILY, run.name, limits=limits, out=Path(out), signal=doc["signal"],
                       profiles=True, expected=_expected(run, doc), work="requests", args=doc["args"],
                       cwd=_folder() / run.variant, load=load if run.loaded else None, cancel=cancel)

    # Each run has a port of its own ({port}): side by side, as a family's variants in a batch run.
    results = side_by_side_runs(one, RUNS)
    _record(results, Path(out) / FAMILY / _RECORD)
    return results


def _per_request(result: Result) -> float | None:
    heap = result.signals.get(result.signal, {})
    return heap.get("per_work")


def _record(results: Sequence[Result], path: Path) -> None:
    meta = json.loads(RunFolder(results[0].run_dir).meta.read_text())
    path.write_text(_json.dumps({
        "family": FAMILY, "go_version": results[0].go_version,
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": meta.get("parameters", {}), "godebug": meta.get("godebug", ""),
        "goexperiment": meta.get("goexperiment", ""),
        "variants": {r.variant: {"verdict": r.verdict, "signal": r.signal, "rate_per_s": r.rate_per_s,
                                 "per_request": _per_request(r), "answered_per_s": r.work_rate_per_s,
                                 "decided_after_s": r.decided_after_s, "reason": r.reason, "run_dir": r.run_dir,
                                 "load": r.load} for r in results}}, indent=2))


def load_results(out: str | Path) -> list[Result] | None:
    """The page's runs as :func:`run_service` left them in ``out``, or None if one is missing."""
    dirs = [Path(out) / FAMILY / run.name for run in RUNS]
    return [load_result(d) for d in dirs] if all(RunFolder(d).result.is_file() for d in dirs) else None


def check(out: str | Path) -> list[str]:
    """How the recorded runs differ from ``expect.toml``, one sentence each (empty: as expected)."""
    path = Path(out) / FAMILY / _RECORD
    if not path.is_file():
        return [f"{FAMILY}: no {_RECORD} in {path.parent} (did notebooks/06-service.ipynb run?)"]
    recorded, doc = json.loads(path.read_text())["variants"], spec()
    sig = SIGNALS[doc["signal"]]
    problems = []
    for run in RUNS:
        got, want = recorded.get(run.name), _expected(run, doc)
        where = f"{FAMILY}/{run.name} ({run.label})"
        if got is None:
            problems.append(f"{where}: nothing recorded (expected verdict {want!r})")
            continue
        if got["verdict"] != want:
            problems.append(f"{where}: expected verdict {want!r}, measured {got['verdict']!r} ({got['reason']})")
        lo, hi = doc["variants"][run.variant]["rate"]
        rate = got["rate_per_s"]
        if run.loaded and (rate is None or not lo <= rate <= hi):
            shown = "no rate" if rate is None else sig.rate(rate)
            problems.append(f"{where}: expected growth in {sig.rate(lo)} .. {sig.rate(hi)}, measured {shown}")
        if run.loaded and want == "leak" and not (got["per_request"] or 0) > sig.per_work_rate:
            problems.append(f"{where}: expected more than {sig.amount(sig.per_work_rate)} kept per request, "
                            f"measured {sig.amount(got['per_request'] or 0)}")
    return problems


class _Table:
    """The page's verdicts: per second and per request, with the load each run was given."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.results = list(results)

    def _rows(self) -> list[list[str]]:
        rows = []
        for run, r in zip(RUNS, self.results, strict=True):
            sig = SIGNALS[r.signal]
            per = _per_request(r)
            load = (f"{r.load['answered_per_s']:.0f} req/s answered, {r.load['failed']} failed, "
                    f"p99 {r.load['latency_ms']['p99']:.1f} ms" if r.load else "none")
            rows.append([run.label, load, r.verdict, "as expected" if r.expected == r.verdict else f"expected {r.expected}",
                         sig.rate(r.rate_per_s), sig.amount(per) if per is not None and math.isfinite(per) else "-",
                         f"{r.decided_after_s:.1f} s" if r.decided_after_s is not None else f"not ({r.stopped})",
                         r.reason])
        return rows

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("program", "load", "verdict", "expected?", "Go heap growth",
                                                 "kept per request", "decided after", "why"))
        body = "".join(f'<tr class="verdict-{html.escape(row[2])}">' + "".join(f"<td>{html.escape(c)}</td>" for c in row)
                       + "</tr>" for row in self._rows())
        return f'<table class="leaklab-verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        return "\n".join("  ".join(row[:7]) for row in self._rows())


def table(results: Sequence[Result]) -> _Table:
    """The verdicts of :func:`run_service`'s runs as a table."""
    return _Table(results)


def _live_heap(result: Result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At each collection: time, live heap (bytes) and requests answered so far (0 without load)."""
    s = read_samples(RunFolder(result.run_dir).samples)
    new = np.r_[False, np.diff(s["gc_cycles"]) > 0]
    # The service counts the requests it answered (expvar), as the load driver does; the two agree.
    done = np.nan_to_num(s["expvar.requests"]) if "expvar.requests" in s.columns else np.zeros(len(s))
    return s.t[new], s["live_bytes"][new], done[new]


def plot(results: Sequence[Result]) -> Figure:
    """Left: the live heap after each collection against time; right: against the requests answered."""
    sig = SIGNALS["heap_bytes"]
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    by_time, by_work = fig.subplots(1, 2)
    for run, r in zip(RUNS, results, strict=True):
        t, live, done = _live_heap(r)
        style = dict(color=COLOURS[run.variant], ls="-" if run.loaded else "--", lw=1.8, marker="o" if run.loaded else "s",
                     ms=4, mfc=COLOURS[run.variant] if run.loaded else "white")
        per = _per_request(r)
        by_time.plot(t, live / sig.scale, **style, label=f"{run.label}: {r.verdict}, {sig.rate(r.rate_per_s)}")
        if run.loaded:
            by_work.plot(done, live / 2**10, **style, label=f"{run.label}: {r.verdict}, "
                         + (f"{sig.amount(per)} kept per request" if per is not None else "no rate"))
    by_time.set(title="Per second: the live heap after each GC over time", xlabel="time since the service started [s]",
                ylabel="Go heap, live after each GC [MiB]")
    by_work.set(title="Per request: the same live heap against the requests answered",
                xlabel="requests answered so far", ylabel="Go heap, live after each GC [KiB]")
    by_time.legend(title=f"{results[0].go_version}, {results[0].load['answered_per_s'] if results[0].load else 0:.0f} "
                   "requests/s", fontsize=9, title_fontsize=9, loc="upper left")
    by_work.legend(fontsize=9, loc="upper left")
    for ax in (by_time, by_work):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle("The example service: leaky (orange) and fixed (blue) under load; leaky with no load (dashed)",
                 fontsize=12)
    return fig


def figure(results: Sequence[Result]):
    """:func:`plot`, saved as ``OUT/service/service.png`` (a :class:`leaklab.notebooks.Picture`)."""
    from .notebooks import Picture
    fig = plot(results)
    return Picture(fig, save_png(fig, Path(results[0].run_dir).parent / "service.png"))
