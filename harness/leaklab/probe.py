"""Read what the probe (probe.go) wrote: one JSON object per line."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["SIGNALS", "SampleStream", "Samples", "Signal", "read_samples"]


@dataclasses.dataclass(frozen=True)
class Signal:
    """A measured curve: its name and unit, and the rates that make a verdict.

    ``min_rate`` (units per second) is the threshold: growth established above it is a leak, growth
    bounded below it is flat. ``leak_from``, where set, is lower: growth established above it is a leak
    already, and a rate between the two may be called either (an indifference band: a noisy curve whose
    bound cannot be brought under ``leak_from`` in a run is still called flat under ``min_rate``).
    ``fast_rate``: a leak faster than this is called as soon as it is certain, without waiting for the
    growth to persist (see :mod:`leaklab.verdict`). ``per_work_rate``: units kept per unit of the program's
    work above which it leaks.
    """

    name: str
    label: str
    unit: str
    min_rate: float
    fast_rate: float
    per_work_rate: float
    scale: float = 1.0  # divide by this to display in ``display_unit``
    display_unit: str = ""
    work_unit: str = "request"
    #: The smallest spread a curve of this signal is taken to have (a page, a goroutine).
    resolution: float = 4096.0
    leak_from: float = 0.0  # 0: min_rate

    @property
    def leak_rate(self) -> float:
        """Growth established above this is a leak."""
        return self.leak_from or self.min_rate

    def amount(self, value: float, digits: int = 1) -> str:
        """``value`` in display units, e.g. ``"20.5 MiB"``; bytes below 1 MiB as KiB or B."""
        if self.unit == "B" and abs(value) < 2**20 and digits <= 1:
            return f"{value:,.0f} B" if abs(value) < 1024 else f"{value / 1024:,.1f} KiB"
        return f"{value / self.scale:,.{digits}f} {self.display_unit}"

    def rate(self, value: float | None, digits: int = 2) -> str:
        """A growth rate for people, e.g. ``"+20.50 MiB/s"``; ``"-"`` when there is none."""
        if value is None or not math.isfinite(value):
            return "-"
        shown = value / self.scale
        if round(shown, digits) == 0:
            shown = 0.0  # no "-0.00"
        return f"{shown:+,.{digits}f} {self.display_unit}/s"


_MiB = 1024 * 1024

#: The signals a verdict can read.
SIGNALS = {
    "heap_bytes": Signal("heap_bytes", "Go heap (live after each GC)", "B", 100 * 1024, 8 * _MiB, 64, _MiB, "MiB"),
    # A goroutine leak of 4 a second (14,400 an hour) is a leak; a count jumping between 50 and 500 cannot
    # be bounded under that in 30 s: a leak from 1/s, flat under 10/s.
    "goroutines": Signal("goroutines", "goroutines", "goroutines", 10.0, 200.0, 0.01, 1, "goroutines", resolution=0.5,
                         leak_from=1.0),
    # Per request, 1 KiB: RSS moves in 4 KiB pages and C's allocator grows its arenas in steps while it warms
    # up; cgo/fixed, freeing all it allocates at 920 requests/s, crept by up to 393 B per request in its
    # first 2.5 s (12 runs), and the C leaks of the corpus keep 3-64 KiB per request.
    "outside_go_bytes": Signal("outside_go_bytes", "memory outside the Go runtime (RSS - Go mapped)",
                               "B", 256 * 1024, 8 * _MiB, 1024, _MiB, "MiB"),
    "rss_bytes": Signal("rss_bytes", "process RSS", "B", 256 * 1024, 8 * _MiB, 64, _MiB, "MiB"),
}


@dataclasses.dataclass
class Samples:
    """Columns of samples over time (``t`` in seconds since the program started)."""

    columns: dict[str, np.ndarray]
    start: dict
    ended: bool  # the probe wrote its last record: the run reached its duration
    skipped: int = 0  # lines that were not the probe's records

    def __len__(self) -> int:
        return len(self.columns.get("t", ()))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def t(self) -> np.ndarray:
        return self.columns["t"]


class SampleStream:
    """Reads a probe file as it grows, in O(new bytes) per call and 8 bytes per number kept.

    Records that are not the probe's (not JSON, not an object, non-numeric values) are skipped and
    counted in ``skipped``; a last line still being written waits for the next call.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.start: dict = {}
        self.ended = False
        self.skipped = 0
        self._offset = 0
        self._rest = b""
        self._cols: dict[str, np.ndarray] = {}
        self._n = 0

    def poll(self) -> int:
        """Read what was appended since the last call; returns how many samples it added."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        before = self._n
        for line in lines:
            self._record(line)
        return self._n - before

    def _record(self, line: bytes) -> None:
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rec = None
        if not isinstance(rec, dict):
            self.skipped += bool(line.strip())
            return
        kind = rec.pop("type", None)
        if kind == "start":
            self.start = rec
            return
        if kind == "end":
            self.ended = True
            return
        extra = rec.pop("expvar", None)
        if isinstance(extra, dict):
            rec.update({f"expvar.{k}": v for k, v in extra.items()})
        values = {k: float(v) for k, v in rec.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if "t" not in values or not math.isfinite(values["t"]) or (self._n and values["t"] < self._cols["t"][self._n - 1]):
            self.skipped += 1
            return
        self._append(values)

    def _append(self, values: dict[str, float]) -> None:
        if self._cols and self._n == len(self._cols["t"]):
            for k, col in self._cols.items():
                self._cols[k] = np.concatenate([col, np.full(len(col), np.nan)])
        for k in values.keys() - self._cols.keys():
            self._cols[k] = np.full(max(64, len(self._cols.get("t", ()))), np.nan)
        for k, v in values.items():
            self._cols[k][self._n] = v
        self._n += 1

    def samples(self) -> Samples:
        """What was read so far (views, not copies: valid until the next :meth:`poll`)."""
        columns = {k: col[:self._n] for k, col in self._cols.items()}
        if {"rss_bytes", "go_total_bytes", "go_released_bytes"} <= columns.keys():
            mapped = columns["go_total_bytes"] - columns["go_released_bytes"]
            columns["outside_go_bytes"] = columns["rss_bytes"] - mapped
            if "vm_bytes" in columns:  # address space mapped outside the runtime, touched or not
                columns["outside_go_vm_bytes"] = columns["vm_bytes"] - columns["go_total_bytes"]
        columns.setdefault("t", np.array([], dtype=float))
        return Samples(columns=columns, start=self.start, ended=self.ended, skipped=self.skipped)


def read_samples(path: Path) -> Samples:
    """Parse a whole probe file; a truncated last line (the program was killed mid-write) is ignored."""
    stream = SampleStream(path)
    stream.poll()
    return stream.samples()
