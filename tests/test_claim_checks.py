"""The judges of the claims (leaklab.claim_checks), fed synthetic numbers: each verdict follows the measurement,
and what the lab expects follows the toolchain measured."""

import dataclasses

import pytest

from leaklab.bench import crossover
from leaklab.claim_runs import CLAIMS, evaluate
from leaklab.claims import claims_markdown
from leaklab.godebug import Cell

BY_ID = {c.id: c for c in CLAIMS}


def _verdict(claim_id, numbers):
    return BY_ID[claim_id].judge(numbers)[0]


def _bench(sync_map, rwmutex, cores=2.0):
    ratios = ["0", "1", "5", "10", "25", "50", "100"]
    return {"keys": 100, "procs": 2, "ns_per_op": {"sync.Map": dict(zip(ratios, sync_map, strict=True)),
                                                   "RWMutex": dict(zip(ratios, rwmutex, strict=True))},
            "cores": {"sync.Map": {"0": cores}, "RWMutex": {"0": 2.0}}}


@pytest.mark.parametrize("sync_map, rwmutex, verdict", [
    ([10, 12, 15, 30, 40, 60, 90], [30, 25, 20, 20, 20, 20, 20], "confirmed"),  # they cross at ~7%
    ([10, 30, 40, 50, 60, 70, 80], [30, 20, 20, 20, 20, 20, 20], "corrected"),  # RWMutex ahead from 1%
    ([10, 12, 15, 16, 18, 30, 40], [30, 25, 20, 20, 20, 20, 20], "corrected"),  # sync.Map ahead up to 25%
    ([10, 10, 10, 10, 10, 10, 10], [20, 20, 20, 20, 20, 20, 20], "corrected"),  # sync.Map ahead everywhere
    ([30, 30, 30, 30, 10, 10, 10], [20, 20, 20, 20, 20, 20, 20], "refuted"),  # the other way round
])
def test_bench_verdict_compares_the_measured_winners_with_the_article(sync_map, rwmutex, verdict):
    numbers = _bench(sync_map, rwmutex)
    assert _verdict("syncmap-vs-rwmutex", numbers) == verdict


def test_a_bench_short_of_cores_is_inconclusive_and_expected_so():
    finding = evaluate(BY_ID["syncmap-vs-rwmutex"], _bench([30] * 7, [20] * 7, cores=1.0), "go1.26.8")
    assert (finding.verdict, finding.expected) == ("inconclusive", "inconclusive")
    assert "only 1.0 of 2 cores" in finding.measured
    quiet = evaluate(BY_ID["syncmap-vs-rwmutex"], _bench([30] * 7, [20] * 7, cores=1.9), "go1.26.8")
    assert (quiet.verdict, quiet.expected, quiet.as_expected) == ("corrected", "confirmed", False)


def test_bench_sentence_gives_the_crossover():
    numbers = _bench([10, 12, 15, 30, 40, 60, 90], [30, 25, 20, 20, 20, 20, 20])
    assert crossover(numbers["ns_per_op"]) == pytest.approx(5 + 5 * 5 / 15)
    assert "overtakes sync.Map at ~7% writes" in BY_ID["syncmap-vs-rwmutex"].judge(numbers)[1]


def _cell(go_version, godebug, verdict, expected, directive=None):
    status = verdict if verdict in ("unsupported", "not applicable") else "measured"
    return dataclasses.asdict(Cell(go=go_version[2:6], go_version=go_version, go_directive=directive or go_version[2:6],
                                   godebug=godebug, status=status, expected=expected, verdict=verdict,
                                   rate_per_s=8e6 if verdict == "leak" else 0.0))


def test_timer_verdict_is_corrected_only_when_exactly_the_old_timers_leak():
    old, new, debug = (_cell("go1.22.10", "", "leak", "leak"), _cell("go1.26.8", "", "flat", "flat"),
                       _cell("go1.26.8", "asynctimerchan=1", "leak", "leak"))
    assert _verdict("ticker-time-after", {"cells": [old, new, debug]}) == "corrected"
    assert _verdict("ticker-time-after", {"cells": [old, {**new, "verdict": "leak"}, debug]}) == "confirmed"
    assert _verdict("ticker-time-after", {"cells": [{**old, "verdict": "flat"}, new, {**debug, "verdict": "flat"}]}) \
        == "refuted"
    assert _verdict("ticker-time-after", {"cells": [{**old, "verdict": "flat"}, new, debug]}) == "inconclusive"
    assert _verdict("ticker-time-after", {"cells": [_cell("go1.26.8", "", "leak", "leak", "1.22"), new]}) == "corrected"


def test_timer_expectation_depends_on_the_toolchains_in_the_matrix():
    new127 = _cell("go1.27.3", "", "flat", "flat")
    removed = _cell("go1.27.3", "asynctimerchan=1", "unsupported", "unsupported")
    finding = evaluate(BY_ID["ticker-time-after"], {"cells": [new127, removed]}, "go1.27.3")
    assert (finding.verdict, finding.expected, finding.as_expected) == ("refuted", "refuted", True)
    wrong = evaluate(BY_ID["ticker-time-after"], {"cells": [_cell("go1.22.10", "", "flat", "leak"),
                                                            _cell("go1.26.8", "", "flat", "flat")]}, "go1.26.8")
    assert (wrong.verdict, wrong.expected, wrong.as_expected) == ("refuted", "corrected", False)
    assert "(expected leak)" in wrong.measured


_FLAT = {"leaky": "flat", "fixed": "flat"}
_DONE = {"requests": 1000, "handled": 1000}


@pytest.mark.parametrize("claim_id, numbers, verdict", [
    ("unhashable-key", {"syncmap_panics": True, "map_refused": True}, "refuted"),
    ("unhashable-key", {"syncmap_panics": False, "map_refused": True}, "inconclusive"),
    ("check-then-act", {"leaky": {"requests": 90, "resurrected": 3, "lost": 1}, "fixed": {"requests": 90}},
     "corrected"),
    ("check-then-act", {"leaky": {"requests": 90}, "fixed": {"requests": 90}}, "inconclusive"),
    ("check-then-act", {"leaky": {"requests": 90, "lost": 4}, "fixed": {"requests": 90, "lost": 2}}, "confirmed"),
    ("defer-stop-panic", {"panic": True, "goexit": True}, "refuted"),
    ("defer-stop-panic", {"panic": False, "goexit": True}, "confirmed"),
    ("closed-channel-worker", {"seconds": {"leaky": 3, "fixed": 3}, "cpu_s": {"leaky": 2.0, "fixed": 0.0}, "goroutines": _FLAT,
                               "leaky": {"requests": 1000, "handled": 9e6}, "fixed": _DONE},
     "refuted"),
    ("closed-channel-worker", {"seconds": 3, "cpu_s": {"leaky": 0.0, "fixed": 0.0}, "goroutines": _FLAT,
                               "leaky": _DONE, "fixed": _DONE},
     "confirmed"),
    ("finalizer-one-side", {"heap_verdict": "leak", "rate_per_s": 9e6, "released": 0, "requests": 500}, "refuted"),
    ("finalizer-one-side", {"heap_verdict": "flat", "rate_per_s": 0.0, "released": 500, "requests": 500}, "confirmed"),
    ("finalizer-one-side", {"heap_verdict": "leak", "rate_per_s": 9e6, "released": 20, "requests": 500},
     "inconclusive"),
    ("finalizer-at-exit", {"runs": 3, "crashes": 0, "ran": [10, 20, 30], "after_last_line": 5}, "refuted"),
    ("finalizer-at-exit", {"runs": 3, "crashes": 0, "ran": [100_000] * 3, "after_last_line": 0}, "inconclusive"),
    ("finalizer-at-exit", {"runs": 3, "crashes": 1, "ran": [10, 20, 30], "after_last_line": 0}, "inconclusive"),
    ("cgo-keepalive", {"leaky": {"requests": 900, "wrong": 40}, "fixed": {"requests": 900, "wrong": 0}}, "corrected"),
    ("cgo-keepalive", {"leaky": {"requests": 900, "wrong": 40}, "fixed": {"requests": 900, "wrong": 3}}, "refuted"),
    ("cgo-keepalive", {"leaky": {"requests": 900, "wrong": 0}, "fixed": {"requests": 900, "wrong": 0}}, "inconclusive"),
])
def test_each_verdict_follows_the_numbers(claim_id, numbers, verdict):
    finding = evaluate(BY_ID[claim_id], numbers, "go1.26.8")
    assert finding.verdict == verdict and finding.as_expected == (verdict == finding.expected)
    assert finding.measured in claims_markdown([finding])


def test_the_benchmark_expectation_follows_the_sync_map_of_the_go_measured():
    quiet = {"procs": 2, "cores": {"sync.Map": {"0": 1.9}, "RWMutex": {"0": 1.9}}}
    assert BY_ID["syncmap-vs-rwmutex"].expected({**quiet, "go_version": "go1.22.10"}) == "corrected"
    assert BY_ID["syncmap-vs-rwmutex"].expected({**quiet, "go_version": "go1.24.11"}) == "confirmed"
    assert BY_ID["syncmap-vs-rwmutex"].expected({**quiet}) == "confirmed"  # saved before versions were recorded
    busy = {**quiet, "cores": {"sync.Map": {"0": 0.5}, "RWMutex": {"0": 0.5}}, "go_version": "go1.22.10"}
    assert BY_ID["syncmap-vs-rwmutex"].expected(busy) == "inconclusive"
