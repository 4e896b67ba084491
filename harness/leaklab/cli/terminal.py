"""How the ``leaklab`` command shows runs in a terminal: a live view while they run, then a compact
verdict block that fits 80 columns, the diagnosis tables, and the workshop's progress. Part of the
command line: rich is imported by the cli package only."""

from __future__ import annotations

import math
import textwrap
import time

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sparklines import sparklines

from ..lab import LiveView, Result
from ..probe import SIGNALS
from ..run import Limits
from .console import err

__all__ = ["COLOURS", "LiveRuns", "WorkshopProgress", "diagnosis_tables", "verdict_block"]

#: The lab's colour-blind-safe pair (Okabe-Ito), as in the plots: orange leaks, blue is flat.
COLOURS = {"leak": "#D55E00", "flat": "#0072B2", "inconclusive": "#E69F00", "watching": "grey50"}
_WIDTH = 80


def _spark(values: tuple[float, ...], width: int, signal: str) -> str:
    """The recent points as a sparkline, on a scale no finer than ten seconds of growth at the threshold,
    so that noise on a flat curve looks flat."""
    if len(values) < 2:
        return " " * width
    shown = list(values[-width:])
    low = min(shown)
    high = max(max(shown), low + 10 * SIGNALS[signal].min_rate)
    return sparklines(shown, minimum=low, maximum=high)[0].rjust(width)


def _rate(signal: str, value: float) -> str:
    if not math.isfinite(value):
        return ""
    return SIGNALS[signal].rate(value, 0 if SIGNALS[signal].unit == "goroutines" else 2)


class LiveRuns:
    """A rich renderable: the finished runs, a line each, and the running one with its curve."""

    def __init__(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        self.done: list[Result] = []
        self.view: LiveView | None = None
        self.building = ""

    def update(self, view: LiveView) -> None:
        self.view, self.building = view, ""

    def finished(self, result: Result) -> None:
        self.done.append(result)
        self.view = None

    def __rich__(self) -> Group:
        lines = [Text.assemble((f"{r.family}/{r.variant}"[:21].ljust(22), "bold"),
                               (r.verdict.upper().ljust(13), COLOURS.get(r.verdict, "")),
                               _rate(r.signal, r.rate_per_s).ljust(21),
                               f"{r.decided_after_s or r.duration_s:.1f} s") for r in self.done]
        v = self.view
        if v is not None:
            unit = SIGNALS[v.signal]
            now = unit.amount(v.recent[-1], 0 if unit.unit == "goroutines" else 1) if v.recent else ""
            lines.append(Text.assemble((v.label[:21].ljust(22), "bold"), (_spark(v.recent, 20, v.signal), COLOURS[
                "leak" if v.verdict == "leak" else "flat" if v.verdict == "flat" else "watching"]), " ",
                now.rjust(16), " ", _rate(v.signal, v.rate_per_s).rjust(19)))
            state = (f"decided: {v.verdict}" if v.decided else "watching, no look yet" if v.verdict == "watching"
                     else f"watching; so far {v.verdict}")
            lines.append(Text(f"  {unit.label}; {state}; {v.elapsed_s:.1f} s, RSS {v.rss_bytes / 2**20:,.0f} MiB",
                              style="grey50"))
        elif len(self.done) < self.total:
            lines.append(Text(f"  building {self.building}...", style="grey50"))
        lines.append(Text(f"  {len(self.done)} of {self.total} runs, {time.monotonic() - self.started:.0f} s",
                          style="grey50"))
        return Group(*lines)


def _diagnosis_line(r: Result) -> list[str]:
    """One line each for the growing allocation site and goroutine group, and the leak profile."""
    out = []
    site = next((s for s in (r.top_sites or []) if s.get("bytes", 0) > 0), None)
    if site:
        out.append(f"grows at {site['site']} (+{SIGNALS['heap_bytes'].amount(site['bytes'])})")
    group = next((g for g in (r.top_goroutines or []) if g.get("growing")), None)
    if group:
        out.append(f"goroutines pile up at {group['site']} ({group['wait']}, +{group['growth']:,})")
    profile = r.leak_profile or {}
    if profile.get("available") and profile.get("total"):
        out.append(f"goroutine leak profile: {profile['total']:,} leaked, at {profile['sites'][0]['site']}")
    return out


def verdict_block(results: list[Result], *, details: bool = False) -> Group:
    """The verdicts as a block that fits 80 columns: a headline per run, its reason wrapped, the diagnosis
    in a line or two (``details``: also the diagnosis tables)."""
    parts: list = []
    for r in results:
        mark = r.verdict.upper() + (" (capped)" if r.capped else "")
        when = (f"decided after {r.decided_after_s:.1f} s" if r.decided_after_s is not None
                else f"{r.stopped}, {r.duration_s:.1f} s")
        expected = "" if r.expected in (None, r.verdict) else f"  expected {r.expected}"
        parts.append(Text.assemble((f"{r.family}/{r.variant}".ljust(22), "bold"), (mark.ljust(13), COLOURS.get(
            r.verdict, "")), _rate(r.signal, r.rate_per_s).ljust(21), when, (expected, "bold")))
        body = [f"{SIGNALS[r.signal].label}: {r.reason}", *_diagnosis_line(r)]
        for para in body:
            parts.append(Text(textwrap.fill(para, _WIDTH - 2, initial_indent="  ", subsequent_indent="    ")))
        if details:
            parts.extend(diagnosis_tables(r))
    return Group(*parts)


def diagnosis_tables(result: Result) -> list[Table]:
    """The diagnosis of one run as rich tables (shown under the verdicts of ``leaklab run --details``);
    empty when the run was made without profiles."""
    if result.top_sites is None:
        return []
    from ..diagnosis_report import DiagnosisReport

    tables = []
    for title, head, rows in DiagnosisReport([result], []).sections():
        table = Table(*head, title=escape(title))
        for row in rows:
            table.add_row(*map(escape, row))
        tables.append(table)
    return tables


class WorkshopProgress:
    """What ``leaklab workshop`` shows on stderr while it prepares: a bar over the runs and the steps after
    them in a terminal, one line per step in a log (``make workshop > log``)."""

    def __init__(self, runs: int, limits: Limits, console: Console | None = None) -> None:
        from ..workshop import AFTER_RUNS  # the workshop's steps after the runs, and their weights

        self.runs, self.limits, self.console, self.after = runs, limits, console or err, AFTER_RUNS
        self.total = limits.duration_s * (runs + sum(AFTER_RUNS.values()))
        self.done, self.current, self.count = 0.0, "", 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> WorkshopProgress:
        guess = 1.05 * self.total + 2 * self.runs  # the runs, the steps after them, and the builds
        about = f"about {guess // 60:.0f} min {guess % 60:.0f} s" if guess >= 60 else f"about {guess:.0f} s"
        self.console.print(f"leaklab workshop: {self.runs} runs of up to {self.limits.duration_s:g} s each (a run stops "
                           f"once its verdict is certain), then the deck: {about} at most", highlight=False)
        if self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rss]}"),
                                TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("preparing", total=self.total, rss="")
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def tick(self, name: str, elapsed: float, rss: int) -> None:
        """While a program runs (the ``progress`` of :func:`run_workshop`)."""
        if name != self.current:
            self.current, self.count = name, self.count + 1
            self._say(f"running {name} ({self.count} of {self.runs})")
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=(self.count - 1) * self.limits.duration_s + min(elapsed, self.limits.duration_s),
                            rss=f"RSS {rss / 2**20:,.0f} MiB")

    def step(self, what: str) -> None:
        """Before each family and each step after the runs (the ``step`` of :func:`run_workshop`)."""
        if what in self.after:
            before = list(self.after.values())[:list(self.after).index(what)]
            self.done = self.limits.duration_s * (self.runs + sum(before))
            if self.bar is not None and self.task is not None:
                self.bar.update(self.task, completed=self.done, rss="")
            self._say(what)
        elif self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=what)

    def _say(self, what: str) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=what)
        else:
            self.console.print(f"leaklab workshop: {what}", highlight=False)
