"""How the ``leaklab`` command shows runs in a terminal: a live view while they run, then a compact
verdict block that fits 80 columns. Part of the command line (rich lives here and in cli.py only)."""

from __future__ import annotations

import math
import textwrap
import time

from rich.console import Group
from rich.text import Text
from sparklines import sparklines

from .lab import LiveView, Result
from .probe import SIGNALS

__all__ = ["COLOURS", "LiveRuns", "verdict_block"]

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
            from .diagnose import diagnosis_tables  # only when asked: it pulls in the diagnosis renderer
            parts.extend(diagnosis_tables(r))
    return Group(*parts)
