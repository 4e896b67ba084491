"""Decide from a curve whether a program leaks: ``leak``, ``flat`` or ``inconclusive``.

The decision reads the curve's *floor*: at each moment, the lowest value the signal reaches from
then on, i.e. what the program never gives back. A garbage collector's sawtooth has a flat floor;
a leak lifts it. After a warm-up, a Theil-Sen slope (robust to outliers) of the floor is the growth
rate. The rate is a leak only when it is above the signal's flat threshold and the growth over the
window stands clear of the noise seen in the same run. A floor that creeps up while the raw curve
shows no significant trend is flat; one that creeps up on a real but noisy trend is inconclusive.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from .probe import SIGNALS, Samples, Signal

__all__ = ["MIN_WINDOW_S", "MIN_SAMPLES", "SignalVerdict", "judge", "judge_samples", "overall"]

#: Shorter steady windows (after the warm-up) are ``inconclusive``.
MIN_WINDOW_S = 1.0
MIN_SAMPLES = 10
#: Growth over the window must exceed this many noise units to be called a leak.
NOISE_FACTOR = 3.0


@dataclasses.dataclass
class SignalVerdict:
    """The verdict on one signal, with the numbers behind it."""

    signal: str
    verdict: str
    rate_per_s: float
    unit: str
    window_s: float
    samples: int
    start: float
    end: float
    noise: float
    reason: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _floor(y: np.ndarray) -> np.ndarray:
    """The lowest value reached from each sample to the end."""
    return np.minimum.accumulate(y[::-1])[::-1]


def judge(t: np.ndarray, y: np.ndarray, signal: Signal, warmup_s: float,
          gc: np.ndarray | None = None, *, floor: bool = True) -> SignalVerdict:
    """Judge one curve ``y(t)``, ignoring the first ``warmup_s`` seconds.

    The floor of the last stretch is not known yet (the next trough is still to come), so the last
    quarter of the window, or one GC period if longer (``gc``: the GC cycle count at each sample), is
    not fitted. ``floor=False`` fits the values themselves: for points that are floors already, such
    as the live heap each GC measured.
    """
    keep = (t >= warmup_s) & np.isfinite(y)
    t, y = t[keep], y[keep]
    min_samples = MIN_SAMPLES if floor else LIVE_HEAP_MIN_GCS
    window = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    base = dict(signal=signal.name, unit=signal.unit, window_s=window, samples=len(t),
                start=float(y[0]) if len(y) else float("nan"), end=float(y[-1]) if len(y) else float("nan"))
    if window < MIN_WINDOW_S or len(t) < min_samples:
        return SignalVerdict(verdict="inconclusive", rate_per_s=float("nan"), noise=float("nan"),
                             reason=f"only {window:.1f} s and {len(t)} samples after the {warmup_s:g} s warm-up; "
                                    f"run for at least {warmup_s + MIN_WINDOW_S + 0.5:g} s", **base)
    if floor:
        cycles = float(gc[keep][-1] - gc[keep][0]) if gc is not None else 0.0
        unknown = max(window / 4, min(window / cycles, window / 2) if cycles >= 1 else 0.0)
        fit = t <= t[-1] - unknown
        slope, _, _, _ = stats.theilslopes(_floor(y)[fit], t[fit])
    else:
        slope, _, _, _ = stats.theilslopes(y, t)
    noise = 1.4826 * float(np.median(np.abs(y - np.median(y - slope * t) - slope * t)))
    growth = slope * window
    rate = f"{signal.amount(slope)}/s"
    what = "floor" if floor else "it"
    if slope < signal.min_rate:
        return SignalVerdict(verdict="flat", rate_per_s=float(slope), noise=noise,
                             reason=f"{what} grows {rate}, under the {signal.amount(signal.min_rate)}/s threshold", **base)
    if growth > NOISE_FACTOR * noise:
        return SignalVerdict(verdict="leak", rate_per_s=float(slope), noise=noise,
                             reason=f"{what} grows {rate}: +{signal.amount(growth)} in {window:.1f} s, "
                                    f"against noise of {signal.amount(noise)}", **base)
    if not _rising(t, y):
        return SignalVerdict(verdict="flat", rate_per_s=float(slope), noise=noise,
                             reason=f"no significant trend: the curve swings by {signal.amount(noise)} around a "
                                    f"steady level ({what} grows {rate})", **base)
    return SignalVerdict(verdict="inconclusive", rate_per_s=float(slope), noise=noise,
                         reason=f"{what} grows {rate} but the curve swings by {signal.amount(noise)}; run longer",
                         **base)


def _rising(t: np.ndarray, y: np.ndarray) -> bool:
    """Whether the raw curve has a significant upward trend (95% Theil-Sen interval above zero).

    Repeated values (a metric that changes only at each GC) count once, so a step curve is not
    mistaken for many independent measurements.
    """
    changed = np.r_[True, np.diff(y) != 0]
    if changed.sum() < 4:
        return False
    _, _, low, _ = stats.theilslopes(y[changed], t[changed], alpha=0.95)
    return bool(low > 0)


#: With this many collections after the warm-up, spread over at least MIN_WINDOW_S, the heap is
#: judged on the live heap each collection measured.
LIVE_HEAP_MIN_GCS = 6


def _after_each_gc(samples: Samples, warmup_s: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The live heap measured by each GC after the warm-up, as (time, bytes) points; None if too few."""
    if not {"gc_cycles", "live_bytes"} <= samples.columns.keys():
        return None
    gc, t = samples["gc_cycles"], samples.t
    new = np.r_[False, np.diff(gc) > 0] & (t >= warmup_s)
    if new.sum() < LIVE_HEAP_MIN_GCS or t[new][-1] - t[new][0] < MIN_WINDOW_S:
        return None
    return t[new], samples["live_bytes"][new]


def judge_samples(samples: Samples, warmup_s: float, names: list[str] | None = None) -> dict[str, SignalVerdict]:
    """Judge every signal in ``names`` (default: all known signals the samples carry).

    The Go heap is judged on the floor of ``heap_bytes`` (objects, dead ones included until swept),
    or, when collections are frequent, on the live heap each GC measured: what a GC finds reachable
    is a floor already, and short-lived garbage (a churning program) never shows in it.
    """
    names = [n for n in (names or SIGNALS) if n in samples.columns]
    gc = samples.columns.get("gc_cycles")
    verdicts = {}
    for n in names:
        live = _after_each_gc(samples, warmup_s) if n == "heap_bytes" else None
        if live:
            verdicts[n] = judge(*live, SIGNALS[n], warmup_s, floor=False)
            verdicts[n].reason = f"live heap after each of {len(live[0])} GCs: {verdicts[n].reason}"
        else:
            verdicts[n] = judge(samples.t, samples[n], SIGNALS[n], warmup_s, gc)
    return verdicts


def overall(verdicts: dict[str, SignalVerdict]) -> SignalVerdict:
    """One verdict for several signals: the strongest leak, else inconclusive if any, else flat."""
    leaks = [v for v in verdicts.values() if v.verdict == "leak"]
    if leaks:
        return max(leaks, key=lambda v: v.rate_per_s / SIGNALS[v.signal].min_rate)
    unsure = [v for v in verdicts.values() if v.verdict == "inconclusive"]
    return unsure[0] if unsure else next(iter(verdicts.values()))
