"""Decide from a program's curves whether it leaks (``leak``, ``flat`` or ``inconclusive``), and when.

**What is judged.** Each signal is reduced to points that show what the program keeps:

- the Go heap: the live heap each garbage collection measured (``/gc/heap/live``). Dead objects never
  count, and the probe forces a collection when the runtime has not run one for a while (at most 1%
  of the time), so even a program that barely allocates gives points. Toolchains without the metric
  are judged on the floor of ``heap_bytes``;
- goroutines: the count at each sample;
- memory outside the Go runtime: RSS minus what the runtime has mapped, never counted below its level
  at start (Go memory mapped but not yet touched makes the difference dip, and touching it is not C
  memory coming back), and not called a leak while it has grown by no more than the runtime's free
  memory, which the program may be touching for the first time.

**How.** The window after the warm-up is cut into at most :data:`BLOCKS` equal blocks and each block's
lowest point is kept: the floor, what the program never gives back in that stretch. A Theil-Sen slope
of those floors, with its Kendall confidence interval, is the growth rate. It is computed over the whole
window and over its recent half, so a leak that starts late is seen and growth that levels off is not
called a leak. Where the program counts its work (expvar ``requests``), the same floors are also
judged against the work done: memory kept per request (a leak when it is above the signal's
``per_work_rate`` and the growth per second is not negligible, over a quarter of the flat threshold).

When a run may stop on these verdicts, and what that costs in error rates, is :mod:`leaklab.sequential`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from .probe import SIGNALS, Samples, Signal

__all__ = ["ALPHA", "BLOCKS", "Judgement", "SignalVerdict", "explain", "judge", "judge_samples", "overall",
           "signal_points"]

#: The chance of a wrong call of each kind (leak on a flat program, flat on a leaking one) over a whole run.
ALPHA = 0.01
#: The window is judged on at most this many block floors, and on no fewer than MIN_POINTS.
BLOCKS = 24
MIN_POINTS = 3


@dataclasses.dataclass
class SignalVerdict:
    """The verdict on one signal, with the numbers behind it (rates in units per second)."""

    signal: str
    verdict: str  # leak, flat, inconclusive
    rate_per_s: float
    unit: str
    window_s: float
    samples: int  # points judged (for the heap: collections)
    start: float  # the floor at the start and the end of the window
    end: float
    reason: str
    rate_low: float = math.nan  # confidence bounds of the rate the verdict rests on
    rate_high: float = math.nan
    per_work: float | None = None  # units kept per unit of work, where the program counts its work
    decided: bool = False  # certain (an early stop may rest on it), not only the best word at the end

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class _Fit:
    slope: float
    low: float
    high: float
    points: int


def _floors(t: np.ndarray, y: np.ndarray, x: np.ndarray, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """The lowest point of each of at most BLOCKS equal blocks of [start, end]: (x at that point, floor).

    ``x`` is what the floors are judged against: time, or the work done. Empty blocks are dropped.
    On a sawtooth, blocks are long enough to hold a trough each (see :func:`_sawtooth_period`).
    """
    keep = (t >= start) & (t <= end)
    t, y, x = t[keep], y[keep], x[keep]
    if len(t) < 2:
        return x, y
    period = _sawtooth_period(t, y)
    if len(t) <= BLOCKS and not period:
        return x, y  # few points (a collection's live heap, each a floor already): each is its own block
    blocks = min(BLOCKS, len(t) // 2) if len(t) > BLOCKS else len(t)
    if period:
        blocks = max(min(MIN_POINTS, blocks), min(blocks, int((end - start) / (1.5 * period))))
    edges = np.searchsorted(t, np.linspace(start, end, blocks + 1)[1:-1])
    cuts = np.unique(np.r_[0, edges])
    cuts = cuts[cuts < len(t)]
    lows = np.minimum.reduceat(y, cuts)
    at = [c + int(np.argmin(y[c:d])) for c, d in zip(cuts, np.r_[cuts[1:], len(t)], strict=True)]
    return x[at], lows


def _sawtooth_period(t: np.ndarray, y: np.ndarray) -> float:
    """The median time between troughs when the curve is a sawtooth (its troughs lie far closer to each
    other than to its crests), else 0. A block must then be 1.5 periods long, so that none misses its
    trough and shows a crest for a floor."""
    troughs = np.flatnonzero((y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])) + 1
    if len(troughs) < 3:
        return 0.0
    spread = np.subtract(*np.percentile(y, [90, 10]))
    if spread <= 0 or np.subtract(*np.percentile(y[troughs], [90, 10])) > spread / 4:
        return 0.0
    return float(np.median(np.diff(t[troughs])))


#: From this many floors on, their spread is measured robustly (a block that missed the trough of a
#: sawtooth sits high above the others and must not widen the interval); below it, by the standard deviation.
ROBUST_FROM = 8


def _fit(x: np.ndarray, y: np.ndarray, alpha: float, resolution: float) -> _Fit | None:
    """Theil-Sen slope of ``y`` against ``x``, with Student-t bounds at one-sided level ``alpha``.

    The spread of the residuals is 1.4826 times their median absolute deviation (their standard
    deviation with fewer than ROBUST_FROM points), and never less than the signal's ``resolution``, so
    a perfectly straight curve does not claim infinite precision.
    """
    n = len(x)
    if n < MIN_POINTS or np.ptp(x) <= 0:
        return None
    dx, dy = x[:, None] - x, y[:, None] - y  # Theil-Sen: the median of the slopes between all pairs
    slope = float(np.median(dy[dx > 0] / dx[dx > 0]))
    resid = y - slope * x
    resid = resid - np.median(resid)
    spread = 1.4826 * float(np.median(np.abs(resid))) if n >= ROBUST_FROM else \
        math.sqrt(float(resid @ resid) / (n - 2))
    xc = x - x.mean()
    half = float(stats.t.ppf(1 - alpha, n - 2)) * max(spread, resolution) / math.sqrt(float(xc @ xc))
    return _Fit(slope, slope - half, slope + half, n)


def _persists(x: np.ndarray, y: np.ndarray, slope: float, *, sparse: bool = True) -> bool:
    """Whether growth is spread over the window: each third's floor rises on the one before by at least
    a quarter of its share. A one-off step, or growth that stopped, fails."""
    if len(x) < 3 or slope <= 0:
        return False
    edges = np.linspace(x[0], x[-1], 4)
    thirds = [y[(x >= lo) & (x <= hi)] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    if any(len(part) == 0 for part in thirds):
        if not sparse:
            return False
        # Points too sparse for thirds of time (a growing heap collects ever more rarely): thirds of the points.
        groups = np.array_split(np.arange(len(x)), 3)
        lows, starts = [float(y[g].min()) for g in groups], [float(x[g[0]]) for g in groups]
        return all(lows[i + 1] - lows[i] > slope * (starts[i + 1] - starts[i]) / 4 for i in range(2))
    lows = [float(part.min()) for part in thirds]
    share = slope * (edges[1] - edges[0])
    return lows[1] - lows[0] > share / 4 and lows[2] - lows[1] > share / 4


def signal_points(samples: Samples, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The points a signal is judged on, and what they are called in a reason."""
    t = samples.t
    if name == "heap_bytes" and {"gc_cycles", "live_bytes"} <= samples.columns.keys():
        gc = samples["gc_cycles"]
        new = np.r_[False, np.diff(gc) > 0] & np.isfinite(samples["live_bytes"])
        return t[new], samples["live_bytes"][new], "live heap after each GC"
    y = samples[name]
    if name == "outside_go_bytes" and len(y) and np.isfinite(y[0]):
        y = np.maximum(y, y[0])
    ok = np.isfinite(y)
    return t[ok], y[ok], "floor"


@dataclasses.dataclass
class Judgement:
    """Every signal's verdict at one look, and whether the run may stop on them."""

    signals: dict[str, SignalVerdict]
    overall: SignalVerdict
    decided: bool
    t: float


def judge(t: np.ndarray, y: np.ndarray, signal: Signal, warmup_s: float, *, now: float | None = None,
          work: np.ndarray | None = None, alpha: float = ALPHA, settle_s: float = 2.0, final: bool = True,
          what: str = "floor") -> SignalVerdict:
    """Judge the points ``y(t)`` of one signal after ``warmup_s``, up to ``now`` (default: the last point).

    ``alpha`` is this look's share of the error rate; ``final`` waives ``settle_s`` (the run is over).
    ``work``: the work counter at each point, to judge what is kept per unit of work as well.
    """
    now = float(t[-1]) if now is None and len(t) else (now or 0.0)
    window = now - warmup_s
    whole = _floors(t, y, t, warmup_s, now)
    recent = _floors(t, y, t, warmup_s + window / 2, now)
    res = signal.resolution
    fw, fr = _fit(*whole, alpha, res), _fit(*recent, alpha, res)
    judged = int(np.sum((t >= warmup_s) & (t <= now)))
    base: dict[str, Any] = dict(signal=signal.name, unit=signal.unit, window_s=max(window, 0.0), samples=judged,
                start=float(whole[1][0]) if len(whole[1]) else math.nan,
                end=float(whole[1][-1]) if len(whole[1]) else math.nan)
    growth = float(np.median(recent[1]) - whole[1][0]) if len(recent[1]) and len(whole[1]) else 0.0
    if fw is None:
        return SignalVerdict(verdict="inconclusive", rate_per_s=math.nan, reason=(
            f"too few points to judge: {judged} ({what}) in {max(window, 0):.1f} s after the "
            f"{warmup_s:g} s warm-up; run longer"), **base)
    per_work = shown = None
    if work is not None:
        per_work = _fit(*_floors(t, y, work, warmup_s + window / 2, now), alpha, 0.0)
        # What the reason shows per unit of work: over the whole window when the recent half has too few points.
        shown = per_work or _fit(*_floors(t, y, work, warmup_s, now), alpha, 0.0)
    # A level is only believed once it has lasted as long as the growth before it: the recent half lies
    # wholly on it. A map's storage grows in steps as it doubles, each level as long as all that came before.
    rise = float(np.median(whole[1][-3:]) - whole[1][0]) if len(whole[1]) else 0.0
    young = bool(rise > signal.min_rate * window and len(recent[1])
                 and recent[1].min() < whole[1][0] + (1 - LEVEL_BAND) * rise)
    # Growth that began late must persist for as long from its start as growth from the warm-up must, and
    # being fast does not shorten that: a late one-off build looks the same as a late leak until it ends.
    began = _growth_start(*whole) if len(whole[1]) else warmup_s
    grown_s = now - began if began - warmup_s > settle_s / 2 else None
    # A leak that started late: on points dense enough for thirds of the recent half.
    if fr is not None and fr.low > fw.low and _persists(*recent, fr.slope, sparse=False):
        return _decide(signal, fr, fr, per_work, shown, True, {**base, "growth": growth}, window, settle_s, final,
                       what, young=young, grown_s=grown_s)
    return _decide(signal, fw, fr, per_work, shown, _persists(*whole, fw.slope), {**base, "growth": growth}, window,
                   settle_s, final, what, young=young, grown_s=grown_s)


#: Growth starts where the floor last stood within this share of its rise, and a level is the floors
#: within it of the top.
LEVEL_BAND = 0.1


def _growth_start(x: np.ndarray, y: np.ndarray) -> float:
    """When the growth the floors end on began: the last floor within LEVEL_BAND of the rise above the first."""
    rise = float(np.median(y[-3:]) - y[0])
    if rise <= 0:
        return float(x[0])
    return float(x[np.flatnonzero(y <= y[0] + LEVEL_BAND * rise)[-1]])


def _decide(signal: Signal, fw: _Fit, fr: _Fit | None, pw: _Fit | None, shown: _Fit | None, persists: bool,
            base: dict, window: float, settle_s: float, final: bool, what: str, *, young: bool = False,
            grown_s: float | None = None) -> SignalVerdict:
    """The verdict from the fits: ``pw`` (per unit of work, recent half) decides, ``shown`` is what the reason
    and ``per_work`` show. ``young``: the signal grew and its level has not lasted as long as the growth.
    ``grown_s``: how long a growth that began late has lasted (None: it began with the window)."""
    r0, r_leak, rate = signal.min_rate, signal.leak_rate, signal.rate
    late = grown_s is not None
    grown_s = window if grown_s is None else grown_s
    settled, grown = final or window >= settle_s, final or grown_s >= settle_s
    base = dict(base)
    growth = base.pop("growth")
    nums = dict(rate_per_s=fw.slope, rate_low=fw.low, rate_high=fw.high,
                per_work=shown.slope if shown is not None else None, **base)
    kept = f"; keeps {signal.amount(shown.slope, 2 if signal.unit == 'goroutines' else 0)} per {signal.work_unit}" \
        if shown is not None and shown.slope > 0 else ""
    fast = not late and window >= settle_s / 2 and fw.low > signal.fast_rate
    # Levelled: the recent half, on enough points and on the level, bounds the growth below the rate a leak is
    # called from, whatever came before.
    levelled = fr is not None and fr.points >= ROBUST_FROM and fr.high < r_leak and not young
    over = f"the last {grown_s:.1f} s" if late else f"{window:.1f} s"
    if fw.low > r_leak and persists and (grown or fast) and not (levelled and settled):
        return SignalVerdict(verdict="leak", decided=True, reason=(
            f"{what} grows {rate(fw.slope)} (at least {rate(fw.low)}) over {over}, in every third of "
            f"it{kept}"), **nums)
    if pw is not None and pw.low > signal.per_work_rate and fw.slope > r0 / 4 and persists and grown:
        return SignalVerdict(verdict="leak", decided=True, reason=(
            f"{what} keeps {signal.amount(pw.slope, 0)} per {signal.work_unit} (at least "
            f"{signal.amount(pw.low, 0)}): {rate(fw.slope)} over {window:.1f} s"), **nums)
    work_bounded = pw is None or pw.high < signal.per_work_rate or final
    # Bounded over the recent half; or over the whole window, with no established growth in the recent half.
    bounded = fw.high < r0 if fr is None else (fr.high < r0 or (fw.high < r0 and fr.low <= 0))
    if bounded and settled and work_bounded and not young:
        grew = f"grew by {signal.amount(growth)}, then levelled: " if growth > r0 * window else ""
        under = f"the {rate(r0)} threshold" if r_leak == r0 else \
            f"the {rate(r0)} bound for flat (a leak is called from {rate(r_leak)} when it persists)"
        if fw.high < r0:
            why = f"{grew}{what} grows {rate(fw.slope)}, at most {rate(fw.high)} over {window:.1f} s, under {under}"
        else:
            assert fr is not None
            nums.update(rate_per_s=fr.slope, rate_low=fr.low, rate_high=fr.high)
            why = (f"{grew}{what} grows {rate(fr.slope)}, at most {rate(fr.high)} over the last "
                   f"{window / 2:.1f} s, under {under}")
        return SignalVerdict(verdict="flat", decided=True, reason=why + kept, **nums)
    span = f"{rate(fw.low)} .. {rate(fw.high)}"
    if bounded and young:
        told = f"it grew by {signal.amount(growth)} and has not been level for as long as it grew"
    elif fw.low > r_leak and not grown:
        told = f"growth that began {grown_s:.1f} s ago, watched for {settle_s:.1f} s before it is called a leak"
    elif fw.low > r_leak and not persists:
        told = "above the threshold, but not in every third of the window (a step, or a ramp that stopped)"
    elif r_leak == r0:
        told = f"not yet told apart from the {rate(r0)} threshold"
    else:
        told = f"neither established above {rate(r_leak)} (a leak) nor bounded under {rate(r0)} (flat) yet"
    return SignalVerdict(verdict="inconclusive", reason=(
        f"{what} grows {span} over {over}: {told}"
        + ("; run longer (--duration)" if final else "")), **nums)


def _work_at(samples: Samples, t: np.ndarray, work: str | None) -> np.ndarray | None:
    col = f"expvar.{work}" if work else None
    if not col or col not in samples.columns or not np.isfinite(samples[col]).any():
        return None
    done = samples[col]
    ok = np.isfinite(done)
    return np.interp(t, samples.t[ok], done[ok])


def judge_samples(samples: Samples, warmup_s: float, names: Sequence[str] | None = None, *, work: str | None = None,
                  alpha: float = ALPHA, settle_s: float = 2.0, final: bool = True,
                  now: float | None = None) -> dict[str, SignalVerdict]:
    """Judge every signal in ``names`` (default: all known signals the samples carry) up to ``now``."""
    names = [n for n in (names or SIGNALS) if n in samples.columns]
    verdicts = {}
    for n in names:
        t, y, what = signal_points(samples, n)
        if now is not None:
            t, y = t[t <= now], y[t <= now]
        verdicts[n] = judge(t, y, SIGNALS[n], warmup_s, now=now if now is not None else
                            (float(samples.t[-1]) if len(samples) else 0.0), work=_work_at(samples, t, work),
                            alpha=alpha, settle_s=settle_s, final=final, what=what)
        for rule in (_inside_mapping, _go_untouched) if n == "outside_go_bytes" else ():
            if verdicts[n].verdict == "leak":
                verdicts[n] = rule(samples, verdicts[n], warmup_s, now, final)
    return verdicts


def _go_untouched(samples: Samples, v: SignalVerdict, warmup_s: float, now: float | None,
                  final: bool) -> SignalVerdict:
    """Memory outside Go is RSS less what the runtime has mapped: a lower bound, since memory the runtime
    mapped may not have been touched yet, and it rises as the program first touches it (a heap churning
    through its free pages). Growth is only outside Go beyond what could be that: the runtime's free
    memory (mapped, unused, not returned), at most, over the window: it swings with each collection.
    Less than that is not a leak, at the end either (inconclusive: run longer)."""
    if "go_free_bytes" not in samples.columns:
        return v
    t, free = samples.t, samples["go_free_bytes"]
    ok = (t >= warmup_s) & (t <= (now if now is not None else np.inf)) & np.isfinite(free)
    most = float(free[ok].max()) if ok.any() else math.nan
    if not math.isfinite(most) or not math.isfinite(v.end - v.start) or v.end - v.start > most:
        return v
    unit = SIGNALS[v.signal].amount
    why = (f"; but it grew {unit(v.end - v.start)}, no more than the {unit(most)} the Go runtime had mapped "
           f"and not in use, which the program may be touching for the first time")
    return dataclasses.replace(v, verdict="inconclusive", decided=False,
                               reason=v.reason + why + ("; run longer (--duration)" if final else ""))


#: Memory outside Go that becomes resident while the address space mapped outside Go grows by less than
#: this share of it is memory mapped earlier being touched: bounded by that mapping, until it grows.
MAPPED_SHARE = 0.1


def _inside_mapping(samples: Samples, v: SignalVerdict, warmup_s: float, now: float | None,
                    final: bool) -> SignalVerdict:
    """A leak outside Go that happens inside address space mapped before the window (a big mmap being
    written into, say) is not called early: it is bounded by that mapping, which may fill up and level.
    The run goes on to its maximum unless the mapped space starts growing; at the end the verdict stands,
    and says so."""
    if "outside_go_vm_bytes" not in samples.columns:
        return v
    t, vm = samples.t, samples["outside_go_vm_bytes"]
    ok = np.isfinite(vm) & (t >= warmup_s) & (t <= (now if now is not None else np.inf))
    if ok.sum() < 2 or not math.isfinite(v.end - v.start) or v.end <= v.start:
        return v
    mapped, touched = float(vm[ok][-1] - vm[ok][0]), v.end - v.start
    if mapped >= MAPPED_SHARE * touched:
        return v
    unit = SIGNALS[v.signal].amount
    seen = (f"; it grows inside memory mapped before (resident +{unit(touched)}, address space mapped outside "
            f"Go {'+' if mapped >= 0 else ''}{unit(mapped)})")
    if final:
        return dataclasses.replace(v, reason=v.reason + seen + ", and it had not levelled when the run ended")
    return dataclasses.replace(v, verdict="inconclusive", decided=False,
                               reason=v.reason + seen + ": watching until it levels or the mapping grows")


def explain(chosen: SignalVerdict, seen: dict[str, SignalVerdict]) -> SignalVerdict:
    """The chosen verdict, its reason saying which signal it believes when RSS tells another story."""
    rss = seen.get("rss_bytes")
    if rss is None or chosen.signal == "rss_bytes" or rss.verdict == chosen.verdict or rss.verdict != "leak":
        return chosen
    signal = SIGNALS["rss_bytes"]
    outside = seen.get("outside_go_bytes")
    if chosen.verdict == "flat" and outside is not None and outside.end - outside.start > (rss.end - rss.start) / 2:
        note = f"; RSS grew {signal.amount(rss.end - rss.start)} with memory outside Go, and levelled with it"
    elif chosen.verdict == "flat":
        note = (f"; RSS grows {signal.rate(rss.rate_per_s)}, but neither the Go heap nor memory outside it "
                f"does: the program is touching memory the runtime had already mapped (bounded by what it "
                f"mapped), and the verdict believes the Go heap")
    else:
        note = f"; RSS grows {signal.rate(rss.rate_per_s)} too"
    return dataclasses.replace(chosen, reason=chosen.reason + note)


def overall(verdicts: dict[str, SignalVerdict]) -> SignalVerdict:
    """One verdict for several signals: the strongest leak, else inconclusive if any, else flat."""
    leaks = [v for v in verdicts.values() if v.verdict == "leak"]
    if leaks:
        return max(leaks, key=lambda v: v.rate_low / SIGNALS[v.signal].leak_rate)
    unsure = [v for v in verdicts.values() if v.verdict == "inconclusive"]
    if unsure:
        return unsure[0]
    # All flat: the one that grew and levelled tells the story, if one did.
    grew = [v for v in verdicts.values() if v.end - v.start > SIGNALS[v.signal].min_rate * v.window_s]
    return max(grew, key=lambda v: (v.end - v.start) / SIGNALS[v.signal].min_rate) if grew else \
        next(iter(verdicts.values()))
