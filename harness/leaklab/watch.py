"""Watch a run while it runs: read the probe's samples as they come, judge them at each look of the
sequential verdict, say when the run may stop, and show what it sees (:class:`LiveView`); and, when it
is over, say in words why a run failed (:func:`failure`)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .load import ANSWERED, LoadRun, ready_timeout
from .probe import Samples, SampleStream
from .run import Limits, Outcome
from .runfolder import RunFolder
from .sequential import Sequential
from .verdict import Judgement, signal_points

__all__ = ["LIVE_POINTS", "Live", "LiveView", "Progress", "Watch", "cancelled", "failure", "side_by_side_runs", "work_rate"]

#: How many recent points a live view shows.
LIVE_POINTS = 48

#: A run with profiles (``--diagnose``) is stopped no sooner than this long after its warm-up (the start heap
#: profile is taken at the warm-up's end, or earlier for a server timed from its first answer), even when the
#: verdict is sure sooner: over a shorter window a site's growth is hard to tell from the profile's sampling
#: noise (see :data:`leaklab.profiles.SITE_MIN_SIGMAS`).
PROFILE_WINDOW_S = 2.0
#: And, when the verdict found the heap leaking, no sooner than that rate makes this much growth (within the
#: run's maximum): 64 samples of a 16 KiB-sampled profile, 8 standard deviations of a leak site's noise.
PROFILE_GROWTH_BYTES = 1 << 20
#: Nor longer than while the program's memory is under this share of the run's memory cap: a run stopped at
#: the cap has no end profiles, and its decision would read as stopped by the cap.
PROFILE_HOLD_CAP_SHARE = 0.5

#: ``progress(label, elapsed_s, rss_bytes)``, called while a program runs.
Progress = Callable[[str, float, int], None]


@dataclasses.dataclass(frozen=True)
class LiveView:
    """What a run shows while it runs: the recent points of the signal its verdict reads, and the verdict so far."""

    label: str
    elapsed_s: float
    rss_bytes: int
    signal: str
    recent: tuple[float, ...]  # the last points of ``signal``, oldest first
    verdict: str  # "watching" until the first look, then leak, flat or inconclusive
    rate_per_s: float
    decided: bool


Live = Callable[[LiveView], None]


class Watch:
    """Reads a run's samples while it runs and judges them at each look; says when the run may stop.

    With load, the warm-up starts when the program first answers, so the looks are planned then; the
    load's counts are merged into the samples; a server that never answers, or whose every request
    fails, ends the run with :attr:`problem` set.
    """

    def __init__(self, path: Path, names: list[str], limits: Limits, work: str, load: LoadRun | None = None, *,
                 profiled: bool = False) -> None:
        self.stream = SampleStream(path)
        # A run with profiles goes on after its decision until its heap profiles are PROFILE_WINDOW_S apart.
        self.hold_s = PROFILE_WINDOW_S if profiled else 0.0
        self.names, self.limits, self.work, self.load = names, limits, work, load
        self.sequential = limits.sequential
        self.seq: Sequential | None = None
        self.warmup_s = limits.warmup_s
        self.decision: Judgement | None = None
        self.latest: Judgement | None = None
        self.problem: str | None = None
        self.program_t = 0.0  # the program time of the last sample
        if load is None:
            self._plan(limits.warmup_s)

    def _plan(self, warmup_s: float) -> None:
        self.warmup_s = warmup_s
        window = self.limits.duration_s - warmup_s
        if window <= 0:
            self.problem = (f"the program first answered after {warmup_s - self.limits.warmup_s:.1f} s, which leaves "
                            f"nothing of the {self.limits.duration_s:g} s run to judge after the warm-up: "
                            f"give it a longer --duration")
            return
        self.seq = Sequential(self.names, warmup_s, window, work=self.work or None, settle_s=self.limits.settle_s)

    def tick(self, elapsed: float, rss: int, progress: Progress | None, label: str, live: Live | None) -> bool:
        fresh = self.stream.poll()
        if self.load is not None:
            self._load_tick(elapsed)
        if fresh and self.decision is not None:
            self.program_t = float(self.stream.samples().t[-1])
        elif fresh and self.seq is not None and self.problem is None:
            samples = self.samples()
            self.program_t = float(samples.t[-1])
            if self.seq.due(self.program_t):
                self.latest = self.seq.look(samples)
                if self.latest.decided and self.sequential:
                    self.decision = self.latest
        held = self.program_t < self.warmup_s + self._hold() and rss < PROFILE_HOLD_CAP_SHARE * self.limits.mem_cap_bytes
        done = self.problem is not None or (self.decision is not None and not held)
        if self.load is not None and done:
            # The load ends first, so no request fails as the program ends, and the last profiles are taken without it.
            self.load.stop()
            done = self.load.ended()
        if progress:
            progress(label, elapsed, rss)
        if live:
            live(self.view(label, elapsed, rss))
        return done

    def _hold(self) -> float:
        """How long after the warm-up a decided run goes on (for its profiles): see PROFILE_WINDOW_S."""
        heap = self.decision.signals.get("heap_bytes") if self.decision and self.hold_s else None
        if heap is not None and heap.verdict == "leak" and heap.rate_per_s > 0:
            return max(self.hold_s, PROFILE_GROWTH_BYTES / heap.rate_per_s)
        return self.hold_s

    def _load_tick(self, elapsed: float) -> None:
        load = self.load
        assert load is not None  # called only with load
        load.poll()
        if self.problem is None:
            self.problem = load.problem(elapsed, ready_timeout(self.limits.duration_s, self.limits.warmup_s))
        if self.seq is None and self.problem is None and load.ready_t is not None:
            self._plan(load.ready_t + self.limits.warmup_s)
        if elapsed >= self.limits.duration_s - 2 * self.limits.interval_s:
            load.stop()  # the probe ends the program at its duration: no request is left to fail then

    def samples(self) -> Samples:
        """The samples so far, with the load's columns when there is load."""
        samples = self.stream.samples()
        return self.load.merge(samples) if self.load is not None else samples

    def view(self, label: str, elapsed: float, rss: int) -> LiveView:
        latest = self.decision or self.latest
        name = latest.overall.signal if latest and latest.signals else self.names[0]
        samples = self.stream.samples()
        recent: tuple[float, ...] = ()
        if len(samples) and name in samples.columns:
            _, y, _ = signal_points(samples, name)
            recent = tuple(float(v) for v in y[-LIVE_POINTS:])
        return LiveView(label, elapsed, rss, name, recent, latest.overall.verdict if latest else "watching",
                        latest.overall.rate_per_s if latest else float("nan"), self.decision is not None)

    def judge(self, samples: Samples, *, final: bool) -> Judgement:
        if self.seq is None:  # a loaded program that never answered: judged as if from its start
            self._plan(self.limits.warmup_s)
        assert self.seq is not None  # check_limits keeps the warm-up shorter than the run
        return self.seq.look(samples, final=final)

    def final(self) -> Samples:
        self.stream.poll()
        if self.load is not None:
            self.load.poll()
        return self.samples()


def failure(outcome: Outcome, run_dir: Path, samples: int, limits: Limits, ended: bool = True,
             last_t: float = 0.0, watch: Watch | None = None) -> str | None:
    # Its last words: what it wrote on stderr, else on stdout (where a test binary reports a failure).
    tail = RunFolder(run_dir).last_words(15)
    if outcome.interrupted:
        return None
    if outcome.timed_out:
        return (f"the program was still running {limits.grace_s:g} s after its {limits.duration_s:g} s run "
                f"and was killed; {samples} samples kept")
    if outcome.capped:
        return None
    if watch is not None and watch.load is not None:
        problem = _load_failure(outcome, watch, ended, tail)
        if problem:
            return problem
    if outcome.returncode not in (0, None):
        how = (f"was killed by signal {-outcome.returncode}" if outcome.returncode < 0
               else f"exited with status {outcome.returncode}")
        return f"the program {how} after {outcome.wall_s:.1f} s ({samples} samples kept). Its last words:\n{tail}"
    if not ended and not outcome.stopped_early and last_t < limits.warmup_s:
        what = ("without producing a single sample" if samples <= 1 else
                f"before the {limits.warmup_s:g} s warm-up ended ({samples} samples)")
        return (f"the program exited on its own after {outcome.wall_s:.1f} s {what}: a program must keep working "
                f"until the lab stops it (does main return at once?)" + (f"\n{tail}" if tail else ""))
    return None


def _load_failure(outcome: Outcome, watch: Watch, ended: bool, tail: str) -> str | None:
    """Why a loaded run failed: the server never answered, every request failed, or the program left."""
    words = f" Its last words:\n{tail}" if tail else " It printed nothing."
    if watch.problem:
        return watch.problem + words
    if outcome.stopped_early or ended:
        return None
    load = watch.load
    assert load is not None  # only a loaded run gets here
    how = (f"was killed by signal {-(outcome.returncode or 0)}" if (outcome.returncode or 0) < 0
           else f"exited with status {outcome.returncode}")
    if load.ready_t is None:
        return f"the program {how} after {outcome.wall_s:.1f} s, before it answered {', '.join(load.load.urls)}.{words}"
    sent, answered, failed = load.counts
    return (f"the program {how} after {outcome.wall_s:.1f} s while under load ({answered:,} of {sent:,} requests "
            f"answered, {failed:,} failed): a server must keep serving until the lab stops it.{words}")


def work_rate(samples: Samples, work: str) -> float | None:
    """Completed work per second: answered requests under load, else the expvar counter the program publishes."""
    column = work if work == ANSWERED else f"expvar.{work}"
    if not work or column not in samples.columns or len(samples) < 2:
        return None
    seen = np.isfinite(samples[column])  # a counter of a package initialised after the probe's first sample
    done, t = samples[column][seen], samples.t[seen]
    if work == ANSWERED:  # from the first answer on: before it, the server was starting
        began = np.flatnonzero(done > 0)
        if len(began) < 2:
            return None
        i = max(began[0] - 1, 0)
        done, t = done[i:], t[i:]
    if len(done) < 2:
        return None
    return float((done[-1] - done[0]) / (t[-1] - t[0]))


def side_by_side_runs(run: Callable, items: Sequence) -> list:
    """``run(item, cancel)`` for each item at once, in threads; on Ctrl-C (which only the main thread sees)
    every run is stopped through ``cancel`` and kept as ``.failed``, then the interrupt goes on."""
    cancel = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(len(items)) as pool:
        futures = [pool.submit(run, item, cancel) for item in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            cancel.set()
            raise


def cancelled(event: threading.Event | None) -> bool:
    """Whether ``event`` (a run's ``cancel``) was set."""
    return event is not None and event.is_set()
