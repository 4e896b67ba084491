"""Pictures of runs: a family's leaky and fixed curves on the same axes, and all families at a glance.

Every function takes :class:`leaklab.lab.Result` objects and reads the samples from each result's
run folder. Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state), so they
can be made in a loop, in a notebook or in a test alike; :func:`save_png` writes one to disk. How to
read a verdict, drawn from a family's runs, is :mod:`leaklab.reading`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from .errors import LeakLabError, RunDataMissing
from .lab import Result
from .probe import SIGNALS, Samples, read_samples
from .runfolder import RunFolder

__all__ = ["COLOURS", "WARMUP_COLOUR", "PngFigure", "colour", "family_png", "finite", "live_after_gc", "overview_png",
           "plot_family", "plot_overview", "room_below", "samples_of", "save_png", "scaled", "warmup_s", "zorder"]

#: One colour per variant, the same in every figure (Okabe-Ito palette: safe for colour-blind readers).
COLOURS = {"leaky": "#D55E00", "fixed": "#0072B2"}
_OTHER = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
WARMUP_COLOUR = "#dddddd"


def room_below(fig: Figure, share: float) -> None:
    """Keep the bottom ``share`` of a figure with the constrained layout free, for a note under its axes."""
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, share, 1, 1 - share))


def colour(variant: str) -> str:
    """The colour of ``variant`` in every figure of the lab."""
    return COLOURS.get(variant) or _OTHER[sum(map(ord, variant)) % len(_OTHER)]


def zorder(variant: str) -> float:
    """Where ``variant`` is drawn: the leaky curve above the fixed one, which would otherwise hide it
    wherever they overlap (the goroutine counts of most families)."""
    return 3.0 if variant == "leaky" else 2.5 if variant == "fixed" else 2.0


def samples_of(result: Result) -> Samples:
    """The samples of ``result``'s run; :class:`RunDataMissing` when its folder lost them."""
    path = RunFolder(result.run_dir).samples
    if not path.is_file():
        raise RunDataMissing(f"{result.family}/{result.variant}: no samples at {path}; run "
                             f"`leaklab run {result.family} --out <folder>` again (or check the folder)", path=path)
    return read_samples(path)


def scaled(samples: Samples, name: str) -> np.ndarray:
    """Signal ``name`` in the unit its axis shows (MiB, goroutines)."""
    return samples[name] / SIGNALS[name].scale


def live_after_gc(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    """The live heap each garbage collection measured: the samples at which the GC count went up."""
    if not {"gc_cycles", "live_bytes"} <= samples.columns.keys():
        return np.array([]), np.array([])
    new = np.r_[False, np.diff(samples["gc_cycles"]) > 0]
    return samples.t[new], samples["live_bytes"][new] / SIGNALS["heap_bytes"].scale


def _digits(signal: str, digits: int) -> int:
    """Goroutines are whole: their rates are shown without decimals."""
    return 0 if SIGNALS[signal].display_unit == "goroutines" else digits


def _rate_text(result: Result) -> str:
    sig = SIGNALS[result.signal]
    rate = sig.rate(result.rate_per_s, digits=_digits(result.signal, 2)) if finite(result.rate_per_s) else "no rate"
    return f"{result.variant}: {rate} ({result.verdict})"


def _warmup(ax: Axes, result: Result, label: bool = True) -> None:
    warmup = warmup_s(result)
    if warmup > 0:
        ax.axvspan(0, warmup, color=WARMUP_COLOUR, alpha=0.5, lw=0, label="warm-up (not judged)" if label else None)


def warmup_s(result: Result) -> float:
    """The warm-up of ``result``'s run (not judged); from its meta.json for runs saved before results
    carried it; 0 when unknown."""
    if result.warmup_s is not None:
        return result.warmup_s
    return float(RunFolder(result.run_dir).read_meta().get("parameters", {}).get("warmup_s", 0.0))


def _signal_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]], signal: str, annotate: bool = True) -> None:
    sig = SIGNALS[signal]
    ends = []
    for result, samples in runs:
        if signal not in samples.columns:
            continue
        y = scaled(samples, signal)
        ax.plot(samples.t, y, color=colour(result.variant), lw=1.6, zorder=zorder(result.variant),
                label=_rate_text(result) if annotate else result.variant)
        if signal == "heap_bytes":  # what the verdict reads on the heap: the live heap each GC measured
            gc_t, live = live_after_gc(samples)
            ax.plot(gc_t, live, ls="none", marker="o", ms=4, color=colour(result.variant), mec="black", mew=0.4,
                    zorder=zorder(result.variant) + 0.1)
        if annotate and len(y) and finite(result.rate_per_s):
            ends.append((result, float(samples.t[-1]), float(y[-1])))
    label = "Go heap: sampled (line),\nlive after each GC (dots)" if signal == "heap_bytes" else textwrap.fill(sig.label, 30)
    ax.set_ylabel(f"{label}\n[{sig.display_unit}]")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.margins(x=0.02)
    ax.grid(alpha=0.3)
    for result, t_end, y_end in ends:
        _end_label(ax, sig.rate(result.rate_per_s, digits=_digits(signal, 1)), t_end, y_end, colour(result.variant),
                   zorder(result.variant))


def finite(value) -> bool:
    """Whether ``value`` is a number that is neither NaN nor an infinity."""
    return value is not None and math.isfinite(value)


def _end_label(ax: Axes, text: str, t: float, y: float, c: str, z: float) -> None:
    """The rate at the end of a curve, inside the frame: right-aligned on the curve's last point and
    above it, or below it when the point is near the top."""
    low, high = ax.get_ylim()
    above = (y - low) < 0.85 * (high - low)
    ax.annotate(text, (t, y), xytext=(-3, 5 if above else -5), textcoords="offset points", ha="right",
                va="bottom" if above else "top", fontsize=9, color=c, fontweight="bold", zorder=z + 1,
                annotation_clip=True, bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.6))


def _memory_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]]) -> None:
    """Go heap (solid, GC cycles marked) and process RSS (dashed) of every variant."""
    for result, samples in runs:
        c = colour(result.variant)
        if "heap_bytes" in samples.columns:
            heap = scaled(samples, "heap_bytes")
            ax.plot(samples.t, heap, color=c, lw=1.6, zorder=zorder(result.variant), label=f"{result.variant}: Go heap")
            if "gc_cycles" in samples.columns:
                gc = np.flatnonzero(np.diff(samples["gc_cycles"]) > 0) + 1
                ax.plot(samples.t[gc], heap[gc], ls="none", marker="v", ms=5, color=c, mec="black", mew=0.5,
                        zorder=zorder(result.variant) + 0.1, label=f"{result.variant}: a GC cycle ended ({len(gc)})")
        if "rss_bytes" in samples.columns:
            rss = scaled(samples, "rss_bytes")
            ax.plot(samples.t, rss, color=c, lw=1.4, ls="--", zorder=zorder(result.variant),
                    label=f"{result.variant}: process RSS")
            if "heap_bytes" in samples.columns:
                ax.fill_between(samples.t, heap, rss, color=c, alpha=0.08, lw=0)
    ax.set_ylabel("memory [MiB]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _goroutine_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]]) -> None:
    for result, samples in runs:
        if "goroutines" in samples.columns:
            ax.plot(samples.t, samples["goroutines"], color=colour(result.variant), lw=1.6,
                    zorder=zorder(result.variant), label=result.variant)
    ax.set_ylabel("goroutines\n[count]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def plot_family(results: Sequence[Result], title: str | None = None) -> Figure:
    """One family: its verdict signal, Go heap against RSS, and goroutines, leaky and fixed overlaid.

    The top panel is the curve the verdict reads, each variant's growth rate and verdict in the
    legend. The middle panel puts the Go heap (GC cycles marked) beside the process RSS, so memory
    that grows outside Go (cgo) shows as a widening gap. The bottom panel counts goroutines.
    """
    if not results:
        raise LeakLabError("plot_family needs at least one result (did the run fail?)")
    runs = [(r, samples_of(r)) for r in results]
    signal = results[0].signal
    fig = Figure(figsize=(11, 9), layout="constrained")
    top, mid, low = fig.subplots(3, 1, sharex=True, height_ratios=[3, 3, 2])
    for ax in (top, mid, low):
        _warmup(ax, results[0], label=ax is top)
    _signal_panel(top, runs, signal)
    top.set_title(f"Verdict signal: {SIGNALS[signal].label}", loc="left", fontsize=10)
    top.legend(loc="best", fontsize=9, title="growth after the warm-up (the verdict)", title_fontsize=9)
    _memory_panel(mid, runs)
    mid.set_title("Go heap (solid, \u25bc = a GC cycle ended) vs process RSS (dashed); "
                  "the shaded gap is memory the Go heap does not account for", loc="left", fontsize=10)
    mid.legend(loc="upper left", fontsize=8, ncol=2)
    _goroutine_panel(low, runs)
    low.set_title("Goroutines", loc="left", fontsize=10)
    low.legend(loc="best", fontsize=9)
    low.set_xlabel("time since the program started [s]")
    fig.suptitle(title or f"{results[0].family}: leaky vs fixed ({results[0].go_version})", fontsize=13)
    return fig


def plot_overview(results_by_family: Mapping[str, Sequence[Result]]) -> Figure:
    """All families as small multiples: each family's verdict signal, leaky and fixed overlaid."""
    if not results_by_family:
        raise LeakLabError("plot_overview needs the results of at least one family")
    n = len(results_by_family)
    cols = min(3, n)
    rows = math.ceil((n + 1) / cols) if n >= 3 else 1
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    versions: set[str] = set()
    for ax, (family, results) in zip(axes, results_by_family.items(), strict=False):
        runs = [(r, samples_of(r)) for r in results]
        versions.update(r.go_version for r in results)
        _warmup(ax, results[0], label=False)
        _signal_panel(ax, runs, results[0].signal)
        verdicts = ", ".join(f"{r.variant} {r.verdict}" for r in results)
        ax.set_title(f"{family}\n{verdicts}", fontsize=10)
        ax.set_xlabel("time [s]")
    for ax in axes[n:]:
        ax.axis("off")
    if len(axes) > n:
        _key(axes[n])
    fig.suptitle(f"Go Leak Lab: the five leak families, leaky vs fixed ({', '.join(sorted(versions))})",
                 fontsize=13)
    return fig


def _key(ax: Axes) -> None:
    """A legend panel that says what the colours and the grey band mean."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color=COLOURS["leaky"], lw=2, label="leaky variant"),
               Line2D([], [], color=COLOURS["fixed"], lw=2, label="fixed variant"),
               Patch(color=WARMUP_COLOUR, label="warm-up, not judged")]
    ax.legend(handles=handles, loc="center", fontsize=10, frameon=False,
              title="Each panel: the signal the\nverdict reads, over time", title_fontsize=10)


@dataclass
class PngFigure:
    """A figure as PNG bytes, shown by a notebook (and embedded in the report) without pyplot."""

    data: bytes

    @classmethod
    def of(cls, fig: Figure, dpi: int = 100) -> PngFigure:
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return cls(buf.getvalue())

    def _repr_png_(self) -> bytes:
        return self.data


def save_png(fig: Figure, path: Path | str, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG file (parent folders created) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def family_png(results: Sequence[Result]) -> Path:
    """Where a family's figure goes: next to its run folders, ``OUT/<family>/<family>.png``."""
    return Path(results[0].run_dir).parent / f"{results[0].family}.png"


def overview_png(results_by_family: Mapping[str, Sequence[Result]]) -> Path:
    """Where the overview figure goes: ``OUT/overview.png``, beside the family folders."""
    first = next(iter(results_by_family.values()))
    return Path(first[0].run_dir).parent.parent / "overview.png"
