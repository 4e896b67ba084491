"""What the notebooks call: run a family and record it, reuse its runs, show them as a table and a figure.

A family notebook makes three calls: :func:`run_and_record` (run both variants, write the record
``OUT/<family>/measured.json``, :mod:`leaklab.records`), :func:`table` and :func:`figure` (show, and save
the PNG next to the run data). The overview notebook calls :func:`overview`, which reuses the run folders
the family notebooks left (running only the families that have none) and writes ``OUT/overview.json``.
The notebooks are executed by :mod:`leaklab.notebook_exec` and checked by :mod:`leaklab.records`.
"""

from __future__ import annotations

import html
import io
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from . import _json
from .cases import families, get_family
from .lab import Result, load_result, run_family
from .notebook_exec import check_parameters
from .probe import SIGNALS
from .records import DEFAULT_VARIANTS, OVERVIEW_RECORD, record, record_of
from .run import Limits
from .runfolder import RunFolder

__all__ = ["Picture", "figure", "load_results", "overview", "overview_figure", "run_and_record", "table"]


def _limits(duration: float, interval: float, warmup: float) -> Limits:
    check_parameters({"duration": duration, "interval": interval, "warmup": warmup})
    return Limits(duration_s=float(duration), interval_s=float(interval), warmup_s=float(warmup))


def run_and_record(name: str, *, duration: float = 4.0, interval: float = 0.05, warmup: float = 0.5,
               out: str | Path = "runs") -> list[Result]:
    """Run a family's leaky and fixed variants and record what was measured in ``OUT/<family>/measured.json``."""
    live = _live_figure()
    results = run_family(name, limits=_limits(duration, interval, warmup), out=Path(out), profiles=True,
                         live=live, side_by_side=live is None)
    record(results)
    return results


def _live_figure():
    """In a notebook run by hand, a figure of the running program's signal, redrawn once a second; in a
    batch run (``leaklab report``, papermill under it: $LEAKLAB_BATCH) or outside a kernel, nothing."""
    if os.environ.get("LEAKLAB_BATCH"):
        return None
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return None
    if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
        return None
    from matplotlib.figure import Figure

    from .plot import COLOURS
    fig = Figure(figsize=(7, 2.4), layout="constrained")
    ax = fig.subplots()
    handle = display(Image(data=_png(fig)), display_id=True)
    drawn = [0.0]

    def draw(view) -> None:
        if time.monotonic() - drawn[0] < 1.0 and not view.decided:
            return
        drawn[0] = time.monotonic()
        sig = SIGNALS[view.signal]
        ax.clear()
        colour = COLOURS.get(view.label.rsplit("/", 1)[-1], "#555555")
        shown = [v / sig.scale for v in view.recent]
        ax.plot(shown, color=colour, lw=2)
        if shown:  # no finer than ten seconds of growth at the threshold: noise on a flat curve looks flat
            ax.set_ylim(min(shown), max(max(shown), min(shown) + 10 * sig.min_rate / sig.scale) * 1.02)
        ax.set_title(f"{view.label}, {sig.label}, after {view.elapsed_s:.1f} s: {view.verdict}"
                     + (f", {sig.rate(view.rate_per_s)}" if math.isfinite(view.rate_per_s) else ""), loc="left")
        ax.set_xlabel("its last points (oldest on the left)")
        ax.set_ylabel(sig.display_unit)
        handle.update(Image(data=_png(fig)))
    return draw


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def load_results(out: str | Path, name: str) -> list[Result] | None:
    """The results a previous run of family ``name`` left in ``out``, or ``None`` if a variant is missing."""
    fam = get_family(name)
    dirs = [Path(out) / fam.name / v for v in DEFAULT_VARIANTS]
    if not all(RunFolder(d).result.is_file() for d in dirs):
        return None
    return [load_result(d) for d in dirs]


def overview(*, duration: float = 4.0, interval: float = 0.05, warmup: float = 0.5,
             out: str | Path = "runs") -> dict[str, list[Result]]:
    """Every family's results: reused from ``out`` when a family notebook already ran it, else run now."""
    by_family = {}
    for fam in families():
        by_family[fam.name] = (load_results(out, fam.name)
                               or run_and_record(fam.name, duration=duration, interval=interval, warmup=warmup, out=out))
    path = Path(out) / OVERVIEW_RECORD
    path.write_text(_json.dumps({name: record_of(rs) for name, rs in by_family.items()}, indent=2))
    return by_family


class _Table:
    """An HTML table of verdicts that a notebook (and the HTML report) shows as its output."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.results = list(results)

    def _rows(self) -> Iterable[list[str]]:
        for r in self.results:
            sig = SIGNALS[r.signal]
            rate = sig.rate(r.rate_per_s)
            expected = "" if r.expected is None else ("as expected" if r.expected == r.verdict
                                                      else f"expected {r.expected}")
            yield [r.family, r.variant, r.verdict + (" (memory cap hit)" if r.capped else ""), expected,
                   sig.label, rate, r.reason]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("family", "variant", "verdict", "expected?", "signal", "growth", "why"))
        body = "".join(
            f'<tr class="verdict-{html.escape(row[2].split()[0])}">' + "".join(f"<td>{html.escape(c)}</td>" for c in row)
            + "</tr>" for row in self._rows())
        return f'<table class="leaklab-verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        return "\n".join("  ".join(row[:6]) for row in self._rows())


def table(results: Sequence[Result] | Mapping[str, Sequence[Result]]) -> _Table:
    """The verdicts as a table (a list of results, or the dict :func:`overview` returns)."""
    if isinstance(results, Mapping):
        results = [r for rs in results.values() for r in rs]
    return _Table(results)


class Picture:
    """A figure saved as PNG; a notebook shows the very file that was written (``fig`` keeps the Figure)."""

    def __init__(self, fig, path: Path) -> None:
        self.fig, self.path = fig, Path(path)

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<figure saved as {self.path}>"


def figure(results: Sequence[Result]) -> Picture:
    """The family's figure (see :func:`leaklab.plot.plot_family`), saved as ``OUT/<family>/<family>.png``."""
    from . import plot
    fig = plot.plot_family(results)
    return Picture(fig, plot.save_png(fig, plot.family_png(results)))


def overview_figure(results_by_family: Mapping[str, Sequence[Result]]) -> Picture:
    """All families as small multiples, saved as ``OUT/overview.png``."""
    from . import plot
    fig = plot.plot_overview(results_by_family)
    return Picture(fig, plot.save_png(fig, plot.overview_png(results_by_family)))
