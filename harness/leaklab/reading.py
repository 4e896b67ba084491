"""How to read a verdict: one family's leaky and fixed runs drawn as the verdict reads them (the live heap each
GC measured, its floor, the window judged), for the report, the workshop deck and labs/README.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .errors import LeakLabError
from .lab import Result
from .plot import (
    COLOURS,
    WARMUP_COLOUR,
    PngFigure,
    colour,
    finite,
    live_after_gc,
    samples_of,
    save_png,
    scaled,
    warmup_s,
)
from .probe import SIGNALS, Samples

__all__ = ["READING_PNG", "plot_reading", "reading_figure", "save_reading"]

#: The picture of the report's and labs/README's "Reading a verdict", inside the checkout.
READING_PNG = Path("docs") / "img" / "reading-a-verdict.png"


def _floor(y: np.ndarray) -> np.ndarray:
    """At each moment, the lowest value the curve still reaches later: what the program never gives back."""
    return np.minimum.accumulate(y[::-1])[::-1] if len(y) else y


def _reading_panel(ax: Axes, result: Result, samples: Samples, until: float, title: str, note: str) -> None:
    """One run's heap as the verdict reads it, up to ``until`` seconds."""
    sig, c, warmup = SIGNALS["heap_bytes"], colour(result.variant), warmup_s(result)
    keep = samples.t <= until
    t, heap = samples.t[keep], scaled(samples, "heap_bytes")[keep]
    gc_t, live = live_after_gc(samples)
    gc_t, live = gc_t[gc_t <= until], live[gc_t <= until]
    ax.axvspan(0, warmup, color=WARMUP_COLOUR, alpha=0.5, lw=0, label="warm-up: not judged")
    ax.plot(t, heap, color=c, lw=1.0, alpha=0.45, label="Go heap as sampled: garbage comes and goes")
    ax.plot(t, _floor(heap), color=c, lw=1.2, ls="--", label="its floor, the lowest it goes from then on (read on RSS and goroutines)")
    ax.plot(gc_t, live, ls="none", marker="o", ms=6, color=c, mec="black", mew=0.6, zorder=4,
            label="live heap measured by each GC")
    judged = gc_t >= warmup
    if judged.sum() >= 2:
        t0, level = float(gc_t[judged][0]), float(live[judged][0])
        span = np.array([t0, max(until, t0 + 0.5)])
        ax.plot(span, level + sig.min_rate / sig.scale * (span - t0), color="black", lw=1.2, ls=":",
                label=f"growth at the threshold ({sig.rate(sig.min_rate, digits=1)})", zorder=3)
        trend = np.polyfit(gc_t[judged], live[judged], 1) if judged.sum() >= 3 else None
        if trend is not None:
            spread = 1.4826 * float(np.median(np.abs(live[judged] - np.polyval(trend, gc_t[judged]))))
            spread = max(spread, 0.02 * (float(np.max(live[judged])) or 1.0))
            span = np.array([warmup, span[1]])
            line = np.polyval(trend, span)
            ax.fill_between(span, line - 3 * spread, line + 3 * spread, color=c, alpha=0.12, lw=0,
                            label="noise: how far the points swing around their trend")
    decided = result.decided_after_s if finite(getattr(result, "decided_after_s", None)) else None
    if decided is not None and decided <= until:
        ax.axvline(decided, color="black", lw=1.0, alpha=0.7)
        ax.annotate(f"decided after {decided:.1f} s", (decided, 0.45), xycoords=("data", "axes fraction"),
                    xytext=(-3, 0), textcoords="offset points", ha="right", va="center", rotation=90, fontsize=9,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.set_xlim(0, max(until, warmup + 1.0) * 1.02)
    # The scale of what is judged: garbage far above the live heap runs off the top (clipped), and the
    # top leaves room for the note.
    judged_top = max([float(np.max(live)) if len(live) else 0.0, level + sig.min_rate / sig.scale * (until - t0)
                      if judged.sum() >= 2 else 0.0, 1e-3])
    raw_top = float(np.max(heap)) if len(heap) else 0.0
    ax.set_ylim(0, (judged_top * 2.4) if raw_top > 2 * judged_top else max(raw_top, judged_top) * 1.6)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold",
                 color=COLOURS["leaky"] if result.verdict == "leak" else COLOURS["fixed"] if result.verdict == "flat"
                 else "black")
    ax.text(0.02, 0.97, note, transform=ax.transAxes, va="top", ha="left", fontsize=9, wrap=True,
            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#bbbbbb", alpha=0.9))
    ax.set_xlabel("time since the program started [s]")
    ax.grid(alpha=0.3)


#: What each verdict looks like on the reading picture.
_READING_NOTES = {
    "leak": "The points climb away from the threshold line,\nfar more than their noise: growth established\n"
            "above the threshold.",
    "flat": "The points stay within their noise, below\nthe threshold line: growth bounded below it.",
    "inconclusive": "When the run ended the growth was neither\nestablished above the threshold nor bounded\n"
                    "below it: inconclusive (run longer).",
}


def plot_reading(leaky: Result, fixed: Result, *, wide: bool = True) -> Figure:
    """How to read a verdict, drawn from one family's real leaky and fixed runs (a heap family).

    Left, the leaky run: the live heap each GC measured climbs away from the threshold, so the
    growth is established above it: ``leak``. Middle, the fixed run: the points stay within their noise
    and below the threshold: ``flat``. (Each panel is titled with its run's own verdict and says what
    that verdict means, whatever it came out as.) Right, the leaky run as it looked before the lab could tell
    (half way to its decision, or after two collections): neither yet, which a run that ends there
    reports as ``inconclusive``. ``wide=False`` puts the panels two by two (for a slide).
    """
    if leaky.signal != "heap_bytes":
        raise LeakLabError(f"the reading picture is drawn from a family judged on the Go heap, not {leaky.family}")
    runs = {"leaky": (leaky, samples_of(leaky)), "fixed": (fixed, samples_of(fixed))}
    if wide:
        fig = Figure(figsize=(15, 4.8), layout="constrained")
        left, mid, right = fig.subplots(1, 3)
    else:
        fig = Figure(figsize=(12, 8), layout="constrained")
        left, mid, right, key = fig.subplots(2, 2).ravel()
        key.axis("off")
    for ax, variant in ((left, "leaky"), (mid, "fixed")):
        result, samples = runs[variant]
        _reading_panel(ax, result, samples, float(samples.t[-1]), f"{result.verdict}: {result.family}/{variant}",
                       _READING_NOTES.get(result.verdict, result.reason))
    result, samples = runs["leaky"]
    gc_t, _ = live_after_gc(samples)
    after = gc_t[gc_t >= warmup_s(result)]
    decided = result.decided_after_s if finite(getattr(result, "decided_after_s", None)) else None
    early = float(after[1]) + 0.05 if len(after) > 1 else float(samples.t[-1]) / 2  # two collections judged
    if decided is not None and early >= decided:
        early = (warmup_s(result) + decided) / 2
    shown = copy.copy(result)
    shown.verdict = "inconclusive"
    seen = int(((after >= 0) & (after <= early)).sum())
    _reading_panel(right, shown, samples, early, f"not yet: the same leaky run at {early:.1f} s",
                   f"{seen} collections after the warm-up: too few to tell.\nThe growth is neither established "
                   "above the\nthreshold nor bounded below it, so the lab\nkeeps watching; a run that ends here "
                   "is\ninconclusive (run longer).")
    handles, labels = left.get_legend_handles_labels()
    if wide:
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    else:
        key.legend(handles, labels, loc="center", fontsize=11, frameon=False)
    left.set_ylabel("Go heap [MiB]")
    fig.suptitle(f"Reading a verdict: {leaky.family}, leaky and fixed ({leaky.go_version})", fontsize=13)
    return fig


def reading_figure(results: Mapping[str, Sequence[Result]] | Sequence[Result], family: str = "timer", *,
                   wide: bool = True) -> PngFigure:
    """:func:`plot_reading` of ``family``'s runs (a list of its results, or the overview's dict), for a notebook."""
    runs = results.get(family, []) if isinstance(results, Mapping) else results
    by_variant = {r.variant: r for r in runs}
    if not {"leaky", "fixed"} <= by_variant.keys():
        raise LeakLabError(f"the reading picture needs the leaky and fixed runs of {family}")
    return PngFigure.of(plot_reading(by_variant["leaky"], by_variant["fixed"], wide=wide), dpi=80 if not wide else 100)


def save_reading(runs: Path | str = "runs", path: Path | str | None = None, family: str = "timer") -> Path:
    """Draw :func:`plot_reading` from the runs of ``family`` under ``runs`` (``leaklab run timer --out RUNS``)
    into ``path`` (default :data:`READING_PNG` of the checkout)."""
    from .lab import load_result
    from .paths import content

    leaky, fixed = (load_result(Path(runs) / family / v) for v in ("leaky", "fixed"))
    return save_png(plot_reading(leaky, fixed), path or content(*READING_PNG.parts))
