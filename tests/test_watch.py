"""leaklab.watch: what a run counts as its work, watched while it runs."""

import json

import numpy as np

from leaklab.probe import Samples
from leaklab.run import Limits
from leaklab.watch import PROFILE_WINDOW_S, Watch, work_rate


def test_the_work_rate_under_load_counts_from_the_first_answer():
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    answered = np.array([0, 0, 0, 100, 200, 300.0])  # the server answered from t = 1.0 on, 200 a second
    samples = Samples(columns={"t": t, "load.answered": answered}, start={}, ended=True)
    assert work_rate(samples, "load.answered") == 200
    assert work_rate(Samples(columns={"t": t, "load.answered": np.zeros(6)}, start={}, ended=True),
                     "load.answered") is None
    assert work_rate(samples, "requests") is None


def test_the_work_rate_skips_samples_taken_before_the_counter_existed():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    samples = Samples(columns={"t": t, "expvar.leaklab_iterations": np.array([np.nan, 10, 30, 50])}, start={},
                      ended=True)
    assert work_rate(samples, "leaklab_iterations") == 20


def _leaking_goroutines(path, until_s: float, *, interval: float = 0.05) -> None:
    """A probe file of a program whose goroutines grow by 200 a second, up to program time ``until_s``."""
    lines = [json.dumps({"type": "start", "go": "go1.26", "pid": 1, "metrics": ["goroutines"]})]
    lines += [json.dumps({"t": round(i * interval, 3), "goroutines": 10 + 200 * i * interval})
              for i in range(int(until_s / interval) + 1)]
    path.write_text("\n".join(lines) + "\n")


def _first_stop(tmp_path, profiled: bool, rss: int) -> tuple[float, float | None]:
    """Feed a Watch the samples up to each program time in turn: (when it first says stop, its decision time)."""
    limits = Limits(duration_s=10, interval_s=0.05, warmup_s=1, settle_s=0.5)
    watch = Watch(tmp_path / "samples.jsonl", ["goroutines"], limits, "", profiled=profiled)
    for step in range(1, 200):
        _leaking_goroutines(tmp_path / "samples.jsonl", step * 0.05)
        if watch.tick(step * 0.05, rss, None, "t/leaky", None):
            return round(step * 0.05, 2), watch.decision.t if watch.decision else None
    raise AssertionError("never stopped")


def test_a_run_with_profiles_goes_on_after_its_decision_until_its_profiles_are_apart(tmp_path):
    stopped, decided = _first_stop(tmp_path, profiled=False, rss=1 << 20)
    assert decided is not None and stopped == round(decided, 2) and decided < 1 + PROFILE_WINDOW_S
    stopped, decided = _first_stop(tmp_path, profiled=True, rss=1 << 20)
    assert decided < 1 + PROFILE_WINDOW_S <= stopped < 1 + PROFILE_WINDOW_S + 0.1
    # but not towards the memory cap: a run stopped there would have no end profiles
    stopped, decided = _first_stop(tmp_path, profiled=True, rss=400 << 20)  # the cap is 512 MiB
    assert stopped == round(decided, 2)
