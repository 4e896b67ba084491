"""The verdict on synthetic curves: the shapes it must tell apart, its reasons, and its cost."""

import time
import tracemalloc

import numpy as np
import pytest

from leaklab.probe import SIGNALS, Samples
from leaklab.verdict import explain, judge, judge_samples, overall

from .series import heap_samples

MiB = 2**20
HEAP = SIGNALS["heap_bytes"]
GOROUTINES = SIGNALS["goroutines"]
t = np.arange(0, 6, 0.05)


def test_steady_rise_is_a_leak_with_its_rate():
    v = judge(t, 5 * MiB + 10 * MiB * t, HEAP, warmup_s=1)
    assert v.verdict == "leak"
    assert v.rate_per_s == pytest.approx(10 * MiB, rel=0.01)
    assert v.rate_low <= v.rate_per_s <= v.rate_high


def test_flat_curve_is_flat_and_says_under_what_threshold():
    v = judge(t, np.full_like(t, 20 * MiB), HEAP, warmup_s=1)
    assert v.verdict == "flat"
    assert "threshold" in v.reason


def test_gc_sawtooth_without_growth_is_flat():
    saw = 20 * MiB + 20 * MiB * ((t % 0.7) / 0.7)
    assert judge(t, saw, HEAP, warmup_s=1).verdict == "flat"


def test_sawtooth_on_a_rising_floor_is_a_leak():
    saw = 20 * MiB * ((t % 0.5) / 0.5) + 8 * MiB * t
    v = judge(t, saw, HEAP, warmup_s=1)
    assert v.verdict == "leak"
    assert v.rate_per_s == pytest.approx(8 * MiB, rel=0.2)


def test_a_leak_whose_collections_grow_rarer_is_still_a_leak_and_a_sparse_step_is_not():
    # A heap whose collections come ever more rarely: live-heap points at 1.0, 1.5, 2.5, 3.5 and 10 s, none
    # in the middle third of the window.
    at = np.array([1.0, 1.5, 2.5, 3.5, 10.0])
    assert judge(at, 5 * MiB + 20 * MiB * at, HEAP, warmup_s=1, settle_s=1).verdict == "leak"
    step = np.where(at < 5, 5 * MiB, 100 * MiB)
    assert judge(at, step, HEAP, warmup_s=1, settle_s=1).verdict != "leak"


def test_a_one_off_step_is_not_a_leak():
    step = np.where(t < 3.5, 10 * MiB, 110 * MiB)  # one big allocation, kept, then nothing
    assert judge(t, step, HEAP, warmup_s=1).verdict != "leak"


def test_growth_that_levels_off_is_flat_once_the_level_is_seen():
    long_t = np.arange(0, 20, 0.05)
    ramp = np.minimum(long_t, 5) * 2 * MiB  # a cache warming to its cap at 5 s
    v = judge(long_t, ramp, HEAP, warmup_s=1)
    assert v.verdict == "flat"
    assert "then levelled" in v.reason


def test_a_late_leak_is_found():
    long_t = np.arange(0, 20, 0.05)
    late = 10 * MiB + np.maximum(long_t - 8, 0) * 1 * MiB  # flat for 8 s, then 1 MiB/s
    assert judge(long_t, late, HEAP, warmup_s=1).verdict == "leak"


def test_too_short_a_run_is_inconclusive():
    short = t[t < 1.1]
    v = judge(short, 10 * MiB * short, HEAP, warmup_s=1)
    assert v.verdict == "inconclusive"
    assert "too few points" in v.reason


def test_warmup_is_ignored():
    y = np.where(t < 4, 20 * MiB * t, 80 * MiB)  # a cache filling up, then full
    assert judge(t, y, HEAP, warmup_s=4).verdict == "flat"
    assert judge(t, y, HEAP, warmup_s=0).verdict == "leak"  # the level is too short to be seen


def test_the_heap_is_judged_on_the_live_heap_not_on_garbage():
    # Churn with rare collections: heap_bytes climbs between GCs, the live heap stays put.
    heap = 1 * MiB + 30 * MiB * ((t % 2.5) / 2.5)
    cols = {"t": t, "heap_bytes": heap, "live_bytes": np.full_like(t, 0.2 * MiB), "gc_cycles": np.floor(t * 5)}
    v = judge_samples(Samples(cols, {}, True), warmup_s=1)["heap_bytes"]
    assert v.verdict == "flat"
    assert "live heap" in v.reason


def test_memory_outside_go_never_counts_below_its_level_at_start():
    # The runtime maps 100 MiB at 0.5 s and the program touches it over 4 s: RSS - mapped climbs back to
    # where it started, which is no C memory at all.
    outside = np.where(t < 0.5, 3 * MiB, 3 * MiB - 100 * MiB + np.minimum(t - 0.5, 4) * 25 * MiB)
    v = judge_samples(Samples({"t": t, "outside_go_bytes": outside}, {}, True), 1.0)["outside_go_bytes"]
    assert v.verdict == "flat"


def test_memory_outside_go_that_the_go_runtime_had_free_is_not_called_a_leak():
    # RSS - mapped climbs 1.5 MiB over the window as a churning heap first touches its free pages (the
    # runtime's free memory swings 1-4 MiB with each collection): no C memory. The same climb with the
    # runtime holding almost nothing free is memory outside Go.
    outside = 2 * MiB + np.clip(t - 1.0, 0, None) * 0.3 * MiB
    churn = 1 * MiB + 3 * MiB * (np.sin(t * 7) > 0)
    for free, verdict in ((churn, "inconclusive"), (np.full_like(t, 64 * 1024), "leak")):
        cols = {"t": t, "outside_go_bytes": outside, "go_free_bytes": free}
        early = judge_samples(Samples(cols, {}, True), 1.0, final=False)["outside_go_bytes"]
        last = judge_samples(Samples(cols, {}, True), 1.0)["outside_go_bytes"]
        assert (early.verdict, last.verdict, early.decided) == (verdict, verdict, verdict == "leak"), last.reason
    cols = {"t": t, "outside_go_bytes": outside, "go_free_bytes": churn}
    reason = judge_samples(Samples(cols, {}, True), 1.0)["outside_go_bytes"].reason
    assert "no more than the 4.0 MiB the Go runtime had mapped and not in use" in reason and "run longer" in reason


def test_overall_names_the_signal_that_grows():
    cols = {"t": t, "heap_bytes": np.full_like(t, 10 * MiB), "goroutines": 4 + 1000 * t,
            "outside_go_bytes": np.full_like(t, 3 * MiB)}
    verdicts = judge_samples(Samples(cols, {}, True), warmup_s=1)
    assert overall(verdicts).signal == "goroutines"
    assert overall(verdicts).verdict == "leak"
    cols["goroutines"] = np.full_like(t, 4)
    assert overall(judge_samples(Samples(cols, {}, True), warmup_s=1)).verdict == "flat"


def test_the_strongest_leak_is_the_one_furthest_above_the_rate_it_leaks_from():
    # Goroutines at 6/s are six times the 1/s they leak from; the heap at 150 KiB/s, 1.5 times its 100 KiB/s.
    long_t = np.arange(0, 30, 0.05)
    cols = {"t": long_t, "heap_bytes": 10 * MiB + 150 * 1024 * long_t, "goroutines": 4 + np.floor(6 * long_t)}
    verdicts = judge_samples(Samples(cols, {}, True), warmup_s=1)
    assert {v.verdict for v in verdicts.values()} == {"leak"}
    assert overall(verdicts).signal == "goroutines"


def test_a_goroutine_step_is_flat_over_the_recent_half_and_names_both_rates():
    long_t = np.arange(0, 30, 0.05)
    v = judge_samples(Samples({"t": long_t, "goroutines": np.where(long_t < 15, 20.0, 260.0)}, {}, True), 1.0)
    assert v["goroutines"].verdict == "flat" and "over the last 14.5 s" in v["goroutines"].reason
    assert "+10.00 goroutines/s bound for flat (a leak is called from +1.00 goroutines/s" in v["goroutines"].reason


def test_when_all_is_flat_the_signal_that_grew_and_levelled_tells_the_story():
    # A 64 MiB mapping written in the first 4 s of 30, RSS with it; the Go heap and goroutines never move.
    long_t = np.arange(0, 30, 0.05)
    outside = 3 * MiB + np.minimum(long_t, 4) * 16 * MiB
    cols = {"t": long_t, "heap_bytes": np.full_like(long_t, 10 * MiB), "goroutines": np.full_like(long_t, 4),
            "outside_go_bytes": outside, "rss_bytes": outside + 10 * MiB}
    seen = judge_samples(Samples(cols, {}, True), warmup_s=1)
    chosen = explain(overall(seen), seen)
    assert (chosen.verdict, chosen.signal) == ("flat", "outside_go_bytes"), chosen.reason
    assert "then levelled" in chosen.reason and "touching memory the runtime had already mapped" not in chosen.reason


def test_memory_kept_per_request_is_a_leak_below_the_per_second_threshold():
    # 180 B per request at 500 requests/s is 88 KiB/s: under the per-second threshold, over the per-request one.
    long_t = np.arange(0, 20, 0.05)
    samples = heap_samples(long_t, 5 * MiB + 180 * 500 * long_t, work_rate=500)
    v = judge_samples(samples, 1.0, ["heap_bytes"], work="requests")["heap_bytes"]
    assert v.verdict == "leak"
    assert v.per_work == pytest.approx(180, rel=0.1)
    assert "per request" in v.reason
    honest = heap_samples(long_t, np.full_like(long_t, 5 * MiB), work_rate=500)
    assert judge_samples(honest, 1.0, ["heap_bytes"], work="requests")["heap_bytes"].verdict == "flat"


def test_a_leak_whose_recent_half_has_too_few_collections_still_says_what_it_keeps_per_request():
    # Collections every 0.6 s: two in the last half of a 2 s window, too few for a fit per request there.
    short_t = np.arange(0, 3, 0.05)
    samples = heap_samples(short_t, 5 * MiB + 20 * MiB * short_t, every=0.6, work_rate=500)
    v = judge_samples(samples, 1.0, ["heap_bytes"], work="requests")["heap_bytes"]
    assert v.verdict == "leak"
    assert v.per_work == pytest.approx(20 * MiB / 500, rel=0.2) and "per request" in v.reason, v.reason


@pytest.mark.timeout(60)
def test_an_hour_of_samples_is_judged_in_under_a_second_and_100_MiB():
    n = 72_000  # one hour at 20 Hz
    rng = np.random.default_rng(1)
    times = np.arange(n) * 0.05
    cols = {"t": times, "gc_cycles": np.floor(times * 2), "live_bytes": 50 * MiB + rng.normal(0, MiB, n),
            "heap_bytes": 60 * MiB + rng.normal(0, MiB, n), "goroutines": 40 + rng.integers(0, 5, n),
            "outside_go_bytes": 3 * MiB + rng.normal(0, 64 * 1024, n)}
    samples = Samples(cols, {}, True)
    tracemalloc.start()
    began = time.perf_counter()
    verdicts = judge_samples(samples, 1.0, work=None)
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert set(verdicts) == {"heap_bytes", "goroutines", "outside_go_bytes"}
    assert elapsed < 1.0, elapsed
    assert peak < 100 * MiB, peak / MiB


def test_reasons_never_print_nan_and_results_are_strict_json():
    v = judge(t[t < 1.1], t[t < 1.1], HEAP, warmup_s=1)
    assert "nan" not in v.reason.lower()
    assert v.as_dict()["rate_per_s"] is None
