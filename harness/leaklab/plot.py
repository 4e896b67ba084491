"""Pictures of runs: a family's leaky and fixed curves on the same axes, and all families at a glance.

Every function takes :class:`leaklab.lab.Result` objects and reads the samples from each result's
run folder. Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state), so they
can be made in a loop, in a notebook or in a test alike; :func:`save_png` writes one to disk.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._exceptions import LeakLabError
from .lab import Result
from .probe import SIGNALS, Samples, read_samples

__all__ = ["COLOURS", "RunDataMissing", "colour", "family_png", "overview_png", "plot_family", "plot_overview",
           "save_png"]

#: One colour per variant, the same in every figure (Okabe-Ito palette: safe for colour-blind readers).
COLOURS = {"leaky": "#D55E00", "fixed": "#0072B2"}
_OTHER = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
_WARMUP = "#dddddd"


class RunDataMissing(LeakLabError):
    """A result points at a run folder whose samples are gone."""


def colour(variant: str) -> str:
    """The colour of ``variant`` in every figure of the lab."""
    return COLOURS.get(variant) or _OTHER[sum(map(ord, variant)) % len(_OTHER)]


def _samples(result: Result) -> Samples:
    path = Path(result.run_dir) / "samples.jsonl"
    if not path.is_file():
        raise RunDataMissing(f"{result.family}/{result.variant}: no samples at {path}; run "
                             f"`leaklab run {result.family} --out <folder>` again (or check the folder)")
    return read_samples(path)


def _scaled(samples: Samples, name: str) -> np.ndarray:
    return samples[name] / SIGNALS[name].scale


def _rate_text(result: Result) -> str:
    rate = "no rate" if math.isnan(result.rate_per_s) else SIGNALS[result.signal].rate(result.rate_per_s)
    return f"{result.variant}: {rate} ({result.verdict})"


def _warmup(ax: Axes, result: Result, label: bool = True) -> None:
    warmup = _warmup_s(result)
    if warmup > 0:
        ax.axvspan(0, warmup, color=_WARMUP, alpha=0.5, lw=0, label="warm-up (not judged)" if label else None)


def _warmup_s(result: Result) -> float:
    meta = Path(result.run_dir) / "meta.json"
    if meta.is_file():
        return float(json.loads(meta.read_text()).get("parameters", {}).get("warmup_s", 0.0))
    return 0.0


def _signal_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]], signal: str, annotate: bool = True) -> None:
    sig = SIGNALS[signal]
    for result, samples in runs:
        if signal not in samples.columns:
            continue
        y = _scaled(samples, signal)
        ax.plot(samples.t, y, color=colour(result.variant), lw=1.6,
                label=_rate_text(result) if annotate else result.variant)
        if annotate and len(y) and not math.isnan(result.rate_per_s):
            ax.annotate(sig.rate(result.rate_per_s, digits=1), (samples.t[-1], y[-1]),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=9,
                        color=colour(result.variant), fontweight="bold")
    ax.set_ylabel(f"{textwrap.fill(sig.label, 30)}\n[{sig.display_unit}]")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)


def _memory_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]]) -> None:
    """Go heap (solid, GC cycles marked) and process RSS (dashed) of every variant."""
    for result, samples in runs:
        c = colour(result.variant)
        if "heap_bytes" in samples.columns:
            heap = _scaled(samples, "heap_bytes")
            ax.plot(samples.t, heap, color=c, lw=1.6, label=f"{result.variant}: Go heap")
            if "gc_cycles" in samples.columns:
                gc = np.flatnonzero(np.diff(samples["gc_cycles"]) > 0) + 1
                ax.plot(samples.t[gc], heap[gc], ls="none", marker="v", ms=5, color=c, mec="black", mew=0.5,
                        label=f"{result.variant}: a GC cycle ended ({len(gc)})")
        if "rss_bytes" in samples.columns:
            rss = _scaled(samples, "rss_bytes")
            ax.plot(samples.t, rss, color=c, lw=1.4, ls="--", label=f"{result.variant}: process RSS")
            if "heap_bytes" in samples.columns:
                ax.fill_between(samples.t, heap, rss, color=c, alpha=0.08, lw=0)
    ax.set_ylabel("memory [MiB]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _goroutine_panel(ax: Axes, runs: Sequence[tuple[Result, Samples]]) -> None:
    for result, samples in runs:
        if "goroutines" in samples.columns:
            ax.plot(samples.t, samples["goroutines"], color=colour(result.variant), lw=1.6, label=result.variant)
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
    runs = [(r, _samples(r)) for r in results]
    signal = results[0].signal
    fig = Figure(figsize=(11, 9), layout="constrained")
    top, mid, low = fig.subplots(3, 1, sharex=True, height_ratios=[3, 3, 2])
    for ax in (top, mid, low):
        _warmup(ax, results[0], label=ax is top)
    _signal_panel(top, runs, signal)
    top.set_title(f"Verdict signal: {SIGNALS[signal].label}", loc="left", fontsize=10)
    top.legend(loc="upper left", fontsize=9, title="growth of the floor after warm-up", title_fontsize=9)
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
    versions = set()
    for ax, (family, results) in zip(axes, results_by_family.items()):
        runs = [(r, _samples(r)) for r in results]
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
               Patch(color=_WARMUP, label="warm-up, not judged")]
    ax.legend(handles=handles, loc="center", fontsize=10, frameon=False,
              title="Each panel: the signal the\nverdict reads, over time", title_fontsize=10)


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
