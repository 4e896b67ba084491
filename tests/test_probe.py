"""The probe: what it samples from a program it was built into."""

import json
import subprocess
import time

import numpy as np
import psutil
import pytest

from leaklab import Limits, get_family, measure
from leaklab.build import build
from leaklab.probe import read_samples

from .conftest import FIXTURES


@pytest.fixture(scope="module")
def syncmap_run(tmp_path_factory, go):
    out = tmp_path_factory.mktemp("probe")
    fam = get_family("syncmap")
    measure(fam.package("leaky"), "syncmap", "leaky", limits=Limits(duration_s=2.5, interval_s=0.05, sequential=False), out=out,
            signal="heap_bytes", go=go, profiles=True, work="requests")
    return out / "syncmap" / "leaky"


@pytest.mark.slow
def test_samples_carry_every_signal_at_the_interval(syncmap_run):
    s = read_samples(syncmap_run / "samples.jsonl")
    assert s.ended and s.start["go"].startswith("go1.")
    for name in ("heap_bytes", "live_bytes", "heap_objects", "goroutines", "gc_cycles", "stack_bytes",
                 "rss_bytes", "outside_go_bytes", "finalizers_queued", "cleanups_executed", "expvar.requests"):
        assert name in s.columns, name
    assert 0.04 < np.median(np.diff(s.t)) < 0.08
    assert 35 <= len(s) <= 55
    assert np.all(np.diff(s["expvar.requests"]) >= 0) and s["expvar.requests"][-1] > 10_000
    assert s["heap_bytes"][-1] > s["heap_bytes"][0] + 16 * 2**20
    assert np.all(s["rss_bytes"] > 0)


@pytest.mark.slow
def test_profiles_are_written_on_request(syncmap_run):
    for name in ("heap-start.txt", "heap-end.txt", "goroutines.txt"):
        assert (syncmap_run / name).stat().st_size > 0, name
    assert "goroutine 1 [" in (syncmap_run / "goroutines.txt").read_text()


@pytest.mark.slow
def test_without_its_environment_the_probe_stays_silent(go, tmp_path):
    binary = build(FIXTURES / "heap_leak", tmp_path / "bin", go)
    proc = subprocess.Popen([str(binary)], cwd=tmp_path)
    try:  # it runs as it would without the lab: it leaks (16 MiB resident) and writes nothing
        deadline = time.monotonic() + 30
        while psutil.Process(proc.pid).memory_info().rss < 16 * 2**20:
            assert proc.poll() is None and time.monotonic() < deadline, "the program did not run"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_a_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "samples.jsonl"
    rows = [{"type": "start", "go": "go1.26"}, {"t": 0.05, "heap_bytes": 1, "rss_bytes": 10, "go_total_bytes": 8,
            "go_released_bytes": 2, "expvar": {"requests": 3}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"t": 0.1, "heap_')
    s = read_samples(path)
    assert len(s) == 1 and not s.ended
    assert s["outside_go_bytes"][0] == 10 - (8 - 2)
    assert s["expvar.requests"][0] == 3


def test_records_that_are_not_the_probes_are_skipped_and_counted(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"type": "start", "go": "go1.26"}\n{"t": 0.1, "heap_bytes": 10}\nhello from the program\n'
                    '[1, 2]\n{"t": "soon"}\n{"t": 0.05, "heap_bytes": 9}\n{"t": 0.2, "heap_bytes": 12, "x": true}\n')
    s = read_samples(path)
    assert list(s.t) == [0.1, 0.2] and list(s["heap_bytes"]) == [10, 12]
    assert s.skipped == 4  # the text, the list, the non-numeric time and the one going back in time


def test_a_growing_file_is_read_incrementally_and_a_partial_line_waits(tmp_path):
    from leaklab.probe import SampleStream
    path = tmp_path / "samples.jsonl"
    path.write_text('{"t": 0.1, "goroutines": 3}\n{"t": 0.2, "gorout')
    stream = SampleStream(path)
    assert stream.poll() == 1
    with open(path, "a") as f:
        f.write('ines": 4}\n' + "".join(f'{{"t": {0.3 + i / 10}, "goroutines": 5}}\n' for i in range(100)))
    assert stream.poll() == 101
    s = stream.samples()
    assert len(s) == 102 and s["goroutines"][1] == 4 and np.all(np.diff(s.t) > 0)


@pytest.mark.slow
def test_the_probe_forces_collections_when_the_runtime_runs_none_and_counts_their_cost(go, tmp_path):
    measure(FIXTURES / "cgo_leak", "fx", "quiet", limits=Limits(duration_s=4, warmup_s=1, sequential=False),
            out=tmp_path, go=go)
    s = read_samples(tmp_path / "fx" / "quiet" / "samples.jsonl")
    forced, cost = s["forced_gcs"][-1], s["forced_gc_s"][-1]
    # A program that allocates nothing on the Go heap still gets its live heap measured, at least once a second
    # (a forced collection costs 1-6 ms of CPU here, and the probe spends at most 1% of a core on them).
    assert forced >= 3
    assert s["gc_cycles"][-1] >= forced
    assert cost / s.t[-1] < 0.01  # under 1% of a core
    cpu = s["cpu_s"]  # the process's own CPU time: it grows, by less than the wall time of a program that idles
    assert np.all(np.diff(cpu) >= 0) and 0 < cpu[-1] - cpu[0] < s.t[-1] - s.t[0]


@pytest.mark.slow
def test_thread_stacks_are_not_counted_as_address_space_mapped_outside_go(go, tmp_path):
    measure(FIXTURES / "thread_stacks", "fx", "threads", limits=Limits(duration_s=3.5, warmup_s=0.5, sequential=False),
            out=tmp_path, go=go)
    s = read_samples(tmp_path / "fx" / "threads" / "samples.jsonl")
    threads = s["expvar.threads"][np.isfinite(s["expvar.threads"])]
    assert threads[-1] >= 24  # its 24 locked goroutines each got a thread, with a stack of ~8 MiB
    vm = s["outside_go_vm_bytes"]
    # A thread is not the program mapping more memory: its stack (above its guard page) is left out.
    assert vm[-1] - vm[0] < 4 << 20
