"""When a run may stop: looking at a program's curves while it runs, with the error rates kept.

:class:`Sequential` looks at the curves while the program runs and stops it once a verdict is
certain:

- ``leak``: the lower bound of the growth rate is above the signal's threshold over the whole window and
  over its recent half (for goroutines, the rate they leak from, 1/s: see ``Signal.leak_from``);
- ``flat``: the upper bound over the recent half is below the threshold (for goroutines, 10/s); measured
  on enough points and below the rate a leak is called from, this wins over growth earlier in the
  window, reported as "grew by X, then levelled";
- memory outside Go that becomes resident while the address space mapped outside Go does not grow (a
  big mmap written into gradually) is not called a leak before the maximum duration: it is bounded by
  a mapping that may fill up and level (see :func:`leaklab.verdict.judge_samples`);
- growth must persist for ``settle_s`` before either is said early (half of it for a leak faster than
  the signal's ``fast_rate``); a leak must also show in every third of the window, so a one-off step or
  a ramp that stopped is not one. At the maximum duration the verdict is ``inconclusive`` if neither
  holds.

Looking many times inflates false alarms. The error rate :data:`ALPHA` of each kind is spent as in a
group-sequential design: half on the last look, at the maximum duration, and half shared evenly by the
``K - 1`` looks planned before it; within a look, shared by the :data:`TESTS` tests made on each signal
judged. By the union bound (a Bonferroni boundary), the chance of any wrong call over the whole run
stays below ``ALPHA``, however many times the run was looked at and however many signals it has. Judging ``n``
samples costs O(n) time and memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .probe import SIGNALS, Samples
from .verdict import ALPHA, Judgement, SignalVerdict, judge_samples, overall

__all__ = ["LOOK_GROWTH", "LOOK_STEP_S", "TESTS", "Sequential", "look_times", "settle_for"]

#: The tests one look makes on one signal: the whole window, its recent half, and per unit of work.
TESTS = 3
#: Looks happen every LOOK_STEP_S of program time, or every LOOK_GROWTH of the window if that is longer.
LOOK_STEP_S = 0.25
LOOK_GROWTH = 0.05


def look_times(window_s: float) -> list[float]:
    """The windows (seconds after the warm-up) at which a run of at most ``window_s`` is looked at."""
    looks, w = [], LOOK_STEP_S
    while w < window_s:
        looks.append(w)
        w += max(LOOK_STEP_S, LOOK_GROWTH * w)
    return [*looks, window_s]


def settle_for(window_s: float) -> float:
    """How long growth must persist before an early verdict: a third of the longest window, 1.5 to 10 s.

    A leak faster than the signal's ``fast_rate`` needs half of that: a cache or a pool that fills up
    fast and then levels off looks like a fast leak until it levels.
    """
    return min(10.0, max(1.5, window_s / 3))


class Sequential:
    """Looks at a run's samples as they come, and says when the verdict is certain.

    ``window_s`` is the longest window the run can have (its maximum duration less the warm-up); it
    fixes the looks and so each look's share of :data:`ALPHA`.
    """

    def __init__(self, names: Sequence[str], warmup_s: float, window_s: float, *, work: str | None = None,
                 settle_s: float | None = None) -> None:
        self.names, self.warmup_s, self.work = list(names), warmup_s, work
        self.looks = look_times(window_s)
        # Half the error rate for the last look, where a noisy curve needs it; the rest shared by the others.
        # Each look makes up to TESTS tests per signal, and any may make the call: each gets its share.
        shares = TESTS * len(self.names)
        self.alpha = ALPHA / 2 / max(1, len(self.looks) - 1) / shares
        self.alpha_last = ALPHA / 2 / shares
        self.settle_s = settle_s if settle_s is not None else settle_for(window_s)
        self._next = 0

    def due(self, now: float) -> bool:
        """Whether a look is due at program time ``now``."""
        return self._next < len(self.looks) and now - self.warmup_s >= self.looks[self._next]

    def look(self, samples: Samples, *, final: bool = False) -> Judgement:
        """Judge the samples so far; ``decided`` when the run may stop."""
        now = float(samples.t[-1]) if len(samples) else 0.0
        while self._next < len(self.looks) and now - self.warmup_s >= self.looks[self._next]:
            self._next += 1
        verdicts = judge_samples(samples, self.warmup_s, self.names, work=self.work,
                                 alpha=self.alpha_last if final else self.alpha, settle_s=self.settle_s, final=final)
        if not verdicts:
            empty = SignalVerdict(signal=self.names[0], verdict="inconclusive", rate_per_s=math.nan,
                                  unit=SIGNALS[self.names[0]].unit, window_s=0.0, samples=0, start=math.nan,
                                  end=math.nan, reason="no sample was taken")
            return Judgement({}, empty, False, now)
        chosen = overall(verdicts)
        decided = any(v.verdict == "leak" for v in verdicts.values()) or all(
            v.verdict == "flat" for v in verdicts.values())
        return Judgement(verdicts, chosen, decided, now)
