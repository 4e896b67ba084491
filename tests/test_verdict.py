"""The verdict on synthetic curves: rising, flat, sawtooth, noisy, too short."""

from collections import Counter

import numpy as np
import pytest

from leaklab.probe import SIGNALS, Samples
from leaklab.verdict import judge, judge_samples, overall

MiB = 2**20
HEAP = SIGNALS["heap_bytes"]
t = np.arange(0, 4, 0.05)


def _verdicts(make_curve, runs=50):
    """How often each verdict comes out over many random curves."""
    return Counter(judge(t, make_curve(np.random.default_rng(seed)), HEAP, warmup_s=1).verdict for seed in range(runs))


def test_steady_rise_is_a_leak_with_its_rate():
    v = judge(t, 5 * MiB + 10 * MiB * t, HEAP, warmup_s=1)
    assert v.verdict == "leak"
    assert v.rate_per_s == pytest.approx(10 * MiB, rel=0.01)


def test_flat_curve_is_flat():
    assert judge(t, np.full_like(t, 20 * MiB), HEAP, warmup_s=1).verdict == "flat"


def test_gc_sawtooth_without_growth_is_flat():
    saw = 20 * MiB + 20 * MiB * ((t % 0.7) / 0.7)
    gc = np.floor(t / 0.7)
    assert judge(t, saw, HEAP, warmup_s=1, gc=gc).verdict == "flat"


def test_sawtooth_on_a_rising_floor_is_a_leak():
    saw = 20 * MiB * ((t % 0.5) / 0.5) + 8 * MiB * t
    v = judge(t, saw, HEAP, warmup_s=1, gc=np.floor(t / 0.5))
    assert v.verdict == "leak"
    assert v.rate_per_s == pytest.approx(8 * MiB, rel=0.2)


def test_noise_alone_is_flat():
    got = _verdicts(lambda rng: 30 * MiB + rng.normal(0, 2 * MiB, len(t)))
    assert got["leak"] == 0 and got["flat"] >= 48, got


def test_a_real_rise_buried_in_large_swings_is_mostly_inconclusive_and_rarely_a_leak():
    got = _verdicts(lambda rng: 50 * MiB + 5 * MiB * t + rng.normal(0, 8 * MiB, len(t)))
    assert got["inconclusive"] > 25 and got["leak"] <= 5, got


def _aliased_batches(rng):
    """The live heap of a program that fills and drops a batch: each GC lands at a random point of it."""
    gc_times = np.sort(rng.uniform(0, 4, 40))
    values = rng.uniform(0, 16 * MiB, len(gc_times))
    idx = np.searchsorted(gc_times, t, side="right") - 1
    return np.where(idx >= 0, values[np.maximum(idx, 0)], 0.0)


def test_swings_that_alias_with_the_samples_are_flat():
    # Random values can line up into a rise by chance; on 50 short runs that may happen once.
    got = _verdicts(_aliased_batches)
    assert got["leak"] <= 1 and got["flat"] >= 47, got


def test_too_short_a_run_is_inconclusive():
    short = t[t < 1.5]
    v = judge(short, 10 * MiB * short, HEAP, warmup_s=1)
    assert v.verdict == "inconclusive"
    assert "at least" in v.reason


def test_warmup_is_ignored():
    y = np.where(t < 2.5, 20 * MiB * t, 50 * MiB)  # a cache filling up, then full
    assert judge(t, y, HEAP, warmup_s=2.5).verdict == "flat"
    assert judge(t, y, HEAP, warmup_s=0).verdict == "leak"


def test_frequent_collections_judge_the_live_heap():
    heap = 1 * MiB + 3 * MiB * ((t % 1.6) / 1.6)  # a slow rise of unswept objects, reset every 1.6 s
    cols = {"t": t, "heap_bytes": heap, "live_bytes": np.full_like(t, 0.2 * MiB), "gc_cycles": np.floor(t * 10)}
    v = judge_samples(Samples(cols, {}, True), warmup_s=1)["heap_bytes"]
    assert v.verdict == "flat"
    assert "live heap" in v.reason


def test_overall_names_the_signal_that_grows():
    cols = {"t": t, "heap_bytes": np.full_like(t, 10 * MiB), "goroutines": 4 + 1000 * t,
            "outside_go_bytes": np.full_like(t, 3 * MiB)}
    verdicts = judge_samples(Samples(cols, {}, True), warmup_s=1)
    assert overall(verdicts).signal == "goroutines"
    assert overall(verdicts).verdict == "leak"
    cols["goroutines"] = np.full_like(t, 4)
    assert overall(judge_samples(Samples(cols, {}, True), warmup_s=1)).verdict == "flat"


def test_a_few_forced_collections_do_not_hide_a_leak():
    # Profiling forces a GC or two: the live heap then has only a few steps, and the heap floor decides.
    heap = 10 * MiB + 14 * MiB * t
    gc = np.searchsorted([1.0, 1.2, 2.0, 3.8], t, side="right").astype(float)
    live = np.array([0, 11.5, 14.5, 27.2, 52.9])[gc.astype(int)] * MiB
    v = judge_samples(Samples({"t": t, "heap_bytes": heap, "live_bytes": live, "gc_cycles": gc}, {}, True), 1)
    assert v["heap_bytes"].verdict == "leak"
    assert v["heap_bytes"].rate_per_s == pytest.approx(14 * MiB, rel=0.05)
