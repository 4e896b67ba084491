"""Run one case on several Go toolchains, with and without a GODEBUG setting, and plot them together.

Each cell of the matrix is one toolchain (fetched once and cached by :func:`leaklab.toolchain.fetch_go`),
the go directive the case is built with (the toolchain's own release, recorded in each run's
``meta.json``) and a GODEBUG value. A setting the toolchain predates is "not applicable"; a setting
the toolchain has removed makes the program die at start, which the matrix reports as "unsupported",
not as a crash. Each measured cell is judged against :func:`leaklab.cases.expectation`. This is
``leaklab matrix FAMILY --variant V``; every family on every toolchain is :mod:`leaklab.matrix`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from . import _json
from .cases import Family, expectation, get_family
from .errors import BadParameter, ProgramFailed
from .lab import DEFAULT_OUT, Progress, measure
from .matrix import DEFAULT_VERSIONS, family_limits, judged_curve
from .plot import COLOURS, room_below
from .probe import SIGNALS, read_samples
from .run import Limits
from .runfolder import RunFolder
from .toolchain import fetch_go

__all__ = ["DEFAULT_GODEBUG", "Cell", "load_matrix", "matrix_png", "plot_matrix", "run_matrix"]

#: The old (asynchronous) timer channels; added in Go 1.23, removed in Go 1.27.
DEFAULT_GODEBUG = "asynctimerchan=1"
#: The first release that knows each GODEBUG setting the matrix may be asked for.
_INTRODUCED = {"asynctimerchan": (1, 23)}


@dataclasses.dataclass
class Cell:
    """One toolchain x GODEBUG combination and what it showed."""

    go: str  # the release asked for, e.g. "1.22"
    go_version: str  # the toolchain used, e.g. "go1.22.10"
    go_directive: str
    godebug: str
    status: str  # "measured", "unsupported" or "not applicable"
    expected: str
    verdict: str = ""
    rate_per_s: float = float("nan")
    unit: str = ""
    run_dir: str = ""
    note: str = ""

    @classmethod
    def from_dict(cls, doc: dict) -> "Cell":
        """A cell read back from JSON, where a rate that could not be measured is null."""
        rate = doc.get("rate_per_s")
        return cls(**{**doc, "rate_per_s": float("nan") if rate is None else float(rate)})

    @property
    def label(self) -> str:
        debug = f" + GODEBUG={self.godebug}" if self.godebug else ""
        return f"{self.go_version} (go.mod go {self.go_directive}){debug}"

    @property
    def as_expected(self) -> bool:
        return self.status == "not applicable" or (self.verdict or self.status) == self.expected


def _predates(version: tuple[int, int], godebug: str) -> bool:
    names = [kv.split("=", 1)[0].strip() for kv in godebug.split(",") if kv.strip()]
    return any(version < _INTRODUCED.get(n, (0, 0)) for n in names)


def _cell(fam: Family, variant: str, release: str, godebug: str, limits: Limits, out: Path,
          progress: Progress | None) -> Cell:
    go = fetch_go(release)
    directive = "%d.%d" % go.version_tuple
    exp = expectation(fam, variant, go.version, godebug, directive)
    cell = Cell(go=release, go_version=go.version, go_directive=directive, godebug=godebug, status="measured",
                expected=exp.verdict)
    if godebug and _predates(go.version_tuple, godebug):
        cell.status, cell.expected = "not applicable", "not applicable"
        cell.note = f"{go.version} predates GODEBUG={godebug}: its default already is the old behaviour"
        return cell
    name = f"{go.version}-{godebug.replace('=', '').replace(',', '+') or 'default'}"
    try:
        r = measure(fam.package(variant), f"matrix-{fam.name}-{variant}", name, limits=family_limits(limits),
                    out=out, signal=fam.signal, go=go, env={"GODEBUG": godebug} if godebug else {}, work=fam.work,
                    expected=exp.verdict, go_directive=directive, progress=progress)
    except ProgramFailed as exc:
        if "removed GODEBUG" not in str(exc):
            raise
        fatal = next(line for line in str(exc).splitlines() if "removed GODEBUG" in line)
        cell.status = cell.verdict = "unsupported"
        cell.run_dir, cell.note = exc.run_dir or "", f"the program dies at start: {fatal.strip()}"
        return cell
    cell.verdict, cell.rate_per_s, cell.unit, cell.run_dir = r.verdict, r.rate_per_s, r.unit, r.run_dir
    cell.note = r.reason
    return cell


def run_matrix(family: str, variant: str = "classic", versions: Sequence[str] = DEFAULT_VERSIONS,
               godebug: str = DEFAULT_GODEBUG, *, limits: Limits = Limits(), out: Path = DEFAULT_OUT,
               progress: Progress | None = None) -> list[Cell]:
    """Measure ``variant`` of ``family`` on each Go release in ``versions``, without GODEBUG and with
    ``godebug`` (skipped when empty). Writes ``OUT/matrix-<family>-<variant>/matrix.json``."""
    fam = get_family(family)
    if variant not in fam.expect:
        raise BadParameter(f"family {fam.name!r} has no variant {variant!r}; it has: {', '.join(fam.variants)}")
    if not versions:
        raise BadParameter("give at least one Go release to --go (e.g. --go 1.22 1.26)")
    cells = [_cell(fam, variant, v, dbg, limits, Path(out), progress)
             for v in versions for dbg in dict.fromkeys(["", godebug])]
    folder = Path(out) / f"matrix-{fam.name}-{variant}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "matrix.json").write_text(_json.dumps({
        "family": fam.name, "variant": variant, "signal": fam.signal, "title": fam.title,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": dataclasses.asdict(limits), "cells": [dataclasses.asdict(c) for c in cells]}, indent=2))
    return cells


def load_matrix(folder: Path) -> tuple[dict, list[Cell]]:
    """Read back ``matrix.json``: its header and its cells."""
    doc = json.loads((Path(folder) / "matrix.json").read_text())
    return doc, [Cell.from_dict(c) for c in doc.pop("cells")]


#: A leaking cell is drawn in the lab's colour of leaky programs, a flat one in that of fixed programs.
_COLOUR = {"leak": COLOURS["leaky"], "flat": COLOURS["fixed"]}


def plot_matrix(cells: Sequence[Cell], signal: str = "heap_bytes", title: str = "") -> Figure:
    """The measured cells' curves on the same axes; unsupported and skipped cells listed below."""
    sig = SIGNALS[signal]
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.add_subplot()
    styles = ["-", "--", "-.", ":"]
    gos = list(dict.fromkeys(c.go_version for c in cells))  # one line style per toolchain, colour says the verdict
    for cell in (c for c in cells if c.status == "measured"):
        t, y = judged_curve(read_samples(RunFolder(cell.run_dir).samples), signal)
        label = f"{cell.label}: {cell.verdict} ({sig.rate(cell.rate_per_s)})"
        ax.plot(t, y / sig.scale, styles[gos.index(cell.go_version) % len(styles)], lw=2, marker=".", ms=3,
                color=_COLOUR.get(cell.verdict, "#999999"), label=label)
    others = [f"{c.label}: {c.status} ({c.note})" for c in cells if c.status != "measured"]
    ax.set_xlabel("time since the program started (s)")
    ax.set_ylabel(f"{sig.label} ({sig.display_unit})")
    ax.set_title(title or "The same program on several Go toolchains")
    ax.grid(alpha=0.3)
    ax.legend(title="toolchain (line style), go directive, GODEBUG: verdict (orange leak, blue flat) and slope",
              fontsize=8, title_fontsize=8, loc="upper left")
    if others:
        fig.text(0.01, 0.005, "\n".join(others)[:600], fontsize=7, va="bottom", wrap=True)
        room_below(fig, 0.08)
    return fig


def matrix_png(cells: Sequence[Cell], path: Path, signal: str = "heap_bytes", title: str = "") -> Path:
    """Draw :func:`plot_matrix` into ``path`` (PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_matrix(cells, signal, title).savefig(path, dpi=100)
    return path
