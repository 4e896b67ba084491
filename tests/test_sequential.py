"""leaklab.sequential: when a run may stop, and the error rates of stopping early."""

import math
from collections import Counter

import numpy as np
import pytest

from leaklab.probe import SIGNALS, Samples
from leaklab.sequential import Sequential, look_times, settle_for
from leaklab.verdict import ALPHA

from .series import MiB, flat_noise, heap_samples, outside_go, sequential

t = np.arange(0, 6, 0.05)


def test_memory_touched_inside_a_mapping_made_earlier_is_watched_until_it_levels():
    # One 192 MiB mmap at start, written 16 MiB/s until it is full at 12 s of a 30 s run: no early leak,
    # and flat once the level is seen.
    times = np.arange(0, 30, 0.05)
    resident = 3 * MiB + np.minimum(times, 12) * 16 * MiB
    run = sequential(outside_go(times, resident, np.full_like(times, 400 * MiB)), ["outside_go_bytes"], 29)
    assert run.overall.verdict == "flat"
    assert "levelled" in run.overall.reason


def test_memory_outside_go_that_grows_with_its_mappings_is_a_leak_early():
    # C memory taken from the allocator: the mapped space grows with what becomes resident.
    times = np.arange(0, 30, 0.05)
    resident = 3 * MiB + times * 14 * MiB
    run = sequential(outside_go(times, resident, 400 * MiB + times * 14 * MiB), ["outside_go_bytes"], 29)
    assert run.overall.verdict == "leak"
    assert run.t < 10


def test_growth_inside_a_mapping_that_never_levels_is_still_a_leak_at_the_end():
    times = np.arange(0, 30, 0.05)
    samples = outside_go(times, 3 * MiB + times * 2 * MiB, np.full_like(times, 400 * MiB))
    run = sequential(samples, ["outside_go_bytes"], 29)
    assert run.overall.verdict == "leak"
    assert run.t >= 29  # not called before the end: it might have levelled
    assert "mapped before" in run.overall.reason


def test_a_fast_leak_is_called_early_and_a_flat_curve_after_the_settle_time():
    fast = sequential(heap_samples(t, 5 * MiB + 20 * MiB * t, every=0.1), ["heap_bytes"], window=5)
    assert fast.overall.verdict == "leak"
    assert fast.t < 1 + settle_for(5)  # before a slow one may be called
    flat = sequential(heap_samples(t, np.full_like(t, 5 * MiB), every=0.1), ["heap_bytes"], window=5)
    assert flat.overall.verdict == "flat"
    assert 1 + settle_for(5) <= flat.t < 5


def test_a_slow_leak_of_200_KiB_per_second_is_found_within_30_s():
    long_t = np.arange(0, 30, 0.05)
    rng = np.random.default_rng(7)
    live = 20 * MiB + 200 * 1024 * long_t + rng.normal(0, 64 * 1024, len(long_t))
    got = sequential(heap_samples(long_t, live, every=0.5), ["heap_bytes"], window=29)
    assert got.overall.verdict == "leak"


@pytest.mark.timeout(120)
def test_flat_noise_is_never_called_a_leak_over_many_looks():
    # 200 runs of a flat, noisy curve, each looked at ~60 times: the union bound says at most ALPHA of them
    # may be called a leak; with 200 runs, that allows 2 and expects none.
    long_t = np.arange(0, 30, 0.05)
    got = Counter()
    for seed in range(200):
        live = flat_noise(np.random.default_rng(seed), len(long_t))
        got[sequential(heap_samples(long_t, live, every=0.25), ["heap_bytes"], window=29).overall.verdict] += 1
    assert got["leak"] <= max(2, math.ceil(ALPHA * 200)), got
    assert got["flat"] >= 150, got



def goroutines(times: np.ndarray, count: np.ndarray) -> Samples:
    return Samples({"t": times, "goroutines": count}, {}, True)


def test_a_slow_goroutine_leak_of_3_per_second_is_found_within_30_s():
    # One goroutine every third of a second that never ends, beside 8 that come and go.
    long_t = np.arange(0, 30, 0.05)
    count = 12 + np.floor(3 * long_t) + np.random.default_rng(3).integers(0, 9, len(long_t))
    got = sequential(goroutines(long_t, count), ["goroutines"], window=29)
    assert got.overall.verdict == "leak" and got.decided, got.overall.reason
    assert got.overall.rate_low > SIGNALS["goroutines"].leak_rate and got.overall.rate_high < SIGNALS["goroutines"].min_rate


@pytest.mark.timeout(120)
def test_a_goroutine_count_jumping_between_50_and_500_is_never_a_leak():
    # A new random target every 250 ms, no trend: its floors scatter by ~100 goroutines, so its bound may stay
    # above the leak rate for the whole run; it must never be called a leak, and is mostly flat.
    long_t = np.arange(0, 30, 0.05)
    got = Counter()
    for seed in range(40):
        targets = np.random.default_rng(seed).integers(50, 501, 120)
        count = targets[np.minimum((long_t / 0.25).astype(int), 119)].astype(float)
        got[sequential(goroutines(long_t, count), ["goroutines"], window=29).overall.verdict] += 1
    assert got["leak"] == 0 and got["flat"] >= 30, got


def test_a_pool_that_doubles_to_64_goroutines_in_3_s_is_flat_once_it_levels():
    long_t = np.arange(0, 30, 0.05)
    count = 2 + np.minimum(2 ** np.floor(long_t / 0.5), 64)
    got = sequential(goroutines(long_t, count), ["goroutines"], window=29)
    assert got.overall.verdict == "flat" and got.decided, got.overall.reason
    assert got.t > 1 + 3  # not before it levelled


def map_staircase(times: np.ndarray) -> np.ndarray:
    """A map that is never pruned, grown 4,000 keys a second from the start: its slot storage doubles
    each time it fills (at 1.5, 3, 6, 12 and 24 s), and in between only its keys grow, 64 KiB/s, under
    the 100 KiB/s threshold. On average it keeps 250 KiB/s; each level lasts as long as all before it."""
    steps = sum(np.where(times >= 1.5 * 2**k, 0.19 * MiB * 2**k, 0.0) for k in range(5))
    return 0.5 * MiB + 64 * 1024 * times + steps


def test_a_map_growing_in_doubling_steps_is_never_called_flat():
    long_t = np.arange(0, 30, 0.05)
    got = sequential(heap_samples(long_t, map_staircase(long_t), every=0.4), ["heap_bytes"], window=29)
    assert got.overall.verdict == "leak", got.overall.reason


def test_a_map_staircase_seen_to_its_end_is_a_leak_though_its_last_half_looks_level():
    # 30 s seen whole (a fixed window): the step at 24 s falls in the recent half, on a level that had
    # lasted 12 s; judged at the end, as a notebook does.
    long_t = np.arange(0, 26, 0.05)
    got = sequential(heap_samples(long_t, map_staircase(long_t), every=0.4), ["heap_bytes"], window=25)
    final = Sequential(["heap_bytes"], 1.0, 25).look(heap_samples(long_t, map_staircase(long_t), every=0.4),
                                                     final=True)
    assert final.overall.verdict == "leak", final.overall.reason
    assert got.overall.verdict == "leak", got.overall.reason


def test_a_one_off_build_that_starts_late_is_flat_once_its_level_is_seen():
    # Quiet for 8 s, then an index built at 10 MiB/s until 12 s, then only read: never a leak, and flat
    # once the level has lasted as long as what came before it.
    long_t = np.arange(0, 30, 0.05)
    live = 1 * MiB + np.clip(long_t - 8, 0, 4) * 10 * MiB
    got = sequential(heap_samples(long_t, live, every=0.2), ["heap_bytes"], window=29)
    assert got.overall.verdict == "flat", got.overall.reason
    assert "grew by" in got.overall.reason
    assert got.t > 12 + 4


def test_a_leak_that_starts_late_is_watched_from_its_start_then_called():
    long_t = np.arange(0, 30, 0.05)
    live = 1 * MiB + np.maximum(long_t - 8, 0) * 10 * MiB
    got = sequential(heap_samples(long_t, live, every=0.2), ["heap_bytes"], window=29)
    assert got.overall.verdict == "leak", got.overall.reason
    assert 8 + settle_for(29) <= got.t < 29
    assert "over the last" in got.overall.reason


def test_looks_are_logarithmic_in_the_duration():
    assert len(look_times(5)) == 20
    assert len(look_times(3600)) < 200
    assert look_times(29)[-1] == 29
