"""Read what the probe (probe.go) wrote: one JSON object per line."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["SIGNALS", "Samples", "Signal", "read_samples"]


@dataclasses.dataclass(frozen=True)
class Signal:
    """A measured curve: how to call it, its unit, and the growth rate below which it is flat."""

    name: str
    label: str
    unit: str
    min_rate: float  # units per second
    scale: float = 1.0  # divide by this to display in ``display_unit``
    display_unit: str = ""

    def amount(self, value: float, digits: int = 1) -> str:
        """``value`` in display units, e.g. ``"20.5 MiB"``."""
        return f"{value / self.scale:,.{digits}f} {self.display_unit}"

    def rate(self, value: float, digits: int = 2) -> str:
        """A growth rate for people, e.g. ``"+20.50 MiB/s"``; ``"-"`` when there is none."""
        if value is None or math.isnan(value):
            return "-"
        return f"{value / self.scale:+,.{digits}f} {self.display_unit}/s"


_MiB = 1024 * 1024

#: The signals a verdict can read. Rates below ``min_rate`` are flat whatever the statistics say.
SIGNALS = {
    "heap_bytes": Signal("heap_bytes", "Go heap (objects)", "B", 0.5 * _MiB, _MiB, "MiB"),
    "goroutines": Signal("goroutines", "goroutines", "goroutines", 10.0, 1, "goroutines"),
    "outside_go_bytes": Signal("outside_go_bytes", "memory outside the Go runtime (RSS - Go mapped)",
                               "B", 0.5 * _MiB, _MiB, "MiB"),
    "rss_bytes": Signal("rss_bytes", "process RSS", "B", 0.5 * _MiB, _MiB, "MiB"),
}


@dataclasses.dataclass
class Samples:
    """Columns of samples over time (``t`` in seconds since the program started)."""

    columns: dict[str, np.ndarray]
    start: dict
    ended: bool  # the probe wrote its last record: the run reached its duration

    def __len__(self) -> int:
        return len(self.columns.get("t", ()))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def t(self) -> np.ndarray:
        return self.columns["t"]


def read_samples(path: Path) -> Samples:
    """Parse a probe file; a truncated last line (the program was killed mid-write) is ignored."""
    start, ended, rows = {}, False, []
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = rec.get("type")
        if kind == "start":
            start = rec
        elif kind == "end":
            ended = True
        else:
            rec.update({f"expvar.{k}": v for k, v in rec.pop("expvar", {}).items()})
            rows.append(rec)
    names = sorted({k for r in rows for k in r})
    columns = {n: np.array([r.get(n, np.nan) for r in rows], dtype=float) for n in names}
    if {"rss_bytes", "go_total_bytes", "go_released_bytes"} <= columns.keys():
        mapped = columns["go_total_bytes"] - columns["go_released_bytes"]
        columns["outside_go_bytes"] = columns["rss_bytes"] - mapped
    columns.setdefault("t", np.array([], dtype=float))
    return Samples(columns=columns, start=start, ended=ended)
