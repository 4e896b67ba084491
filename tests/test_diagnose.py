"""The diagnostics name the leaking line in every leaky variant and show no growth in every fixed one."""

import io
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from leaklab import LeakLabError, Limits, get_family, run_family
from leaklab.diagnose import (
    _run_briefly,
    asan_leaks,
    c_allocations,
    cgocheck_demo,
    check_finalizers,
    leak_profile_blind_spots,
    report,
    vet,
)
from leaklab.errors import DiagnosisMissing
from leaklab.probe import SIGNALS
from leaklab.profiles import (
    SITE_MIN_RATE,
    SITE_MIN_SIGMAS,
    Frame,
    _parse_goroutines,
    _window,
    diagnose,
    goroutine_groups,
    heap_growth,
    leak_profile,
    leak_profile_env,
    leak_profile_supported,
)
from leaklab.toolchain import GoToolchain
from leaklab.watch import PROFILE_WINDOW_S

from .conftest import FIXTURES

LIMITS = Limits(duration_s=10, interval_s=0.05, warmup_s=1)  # a maximum: runs stop once certain
CASES = Path(__file__).resolve().parent.parent / "go-cases"


def _line(family: str, variant: str, text: str) -> int:
    """The line of the case's main.go that holds ``text`` (exactly once), so no line number is hard-coded."""
    lines = [n for n, ln in enumerate((get_family(family).package(variant) / "main.go").read_text().splitlines(), 1)
             if text in ln]
    assert len(lines) == 1, f"{text!r} should appear once in {family}/{variant}/main.go"
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, go):
    """Every family with a Go-heap or goroutine signal, both variants, with profiles; two runs at a time."""
    out = tmp_path_factory.mktemp("diagnose")
    jobs = [(f, v) for f in ("syncmap", "timer", "goroutine", "finalizer") for v in ("leaky", "fixed")]
    with ThreadPoolExecutor(2) as pool:
        done = pool.map(lambda job: run_family(job[0], job[1], limits=LIMITS, out=out, go=go, profiles=True)[0], jobs)
        return {(r.family, r.variant): r for r in done}


# The allocation that leaks, found in the source by its text.
LEAKING_ALLOCATION = {
    "syncmap": ("main.handle", "answer := make([]byte, 1024)"),
    "timer": ("main.handle", "buf := make([]byte, 16<<10)"),
    "goroutine": ("main.work", "result := make([]byte, 1024)"),
    "finalizer": ("main.newNode", "n := &node{buf: make([]byte, 8<<10)}"),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(LEAKING_ALLOCATION))
def test_the_top_growing_site_of_a_leaky_variant_is_the_leaking_allocation(runs, family):
    function, text = LEAKING_ALLOCATION[family]
    top = runs[(family, "leaky")].top_sites[0]
    assert (top["function"], top["line"]) == (function, _line(family, "leaky", text)), top
    assert top["site"] == f"{function} main.go:{top['line']}"
    # Growth per second of the profiles' window, not bytes (these leak >= 1.4 MiB/s); a run sure right after its
    # warm-up goes on until its profiles are PROFILE_WINDOW_S apart, so the growth stands out of sampling noise.
    r = runs[(family, "leaky")]
    window = _window(Path(r.run_dir))
    # (the start profile comes at the first sample after the warm-up, after its GC: a sample and a GC late)
    assert window >= PROFILE_WINDOW_S - 0.25, (window, r.decided_after_s)
    assert top["bytes"] / window > SITE_MIN_RATE and top["bytes"] > SITE_MIN_SIGMAS * top["noise_bytes"], (top, window)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(LEAKING_ALLOCATION))
def test_nothing_grows_in_a_fixed_variant(runs, family):
    r = runs[(family, "fixed")]
    assert r.top_sites == [], r.top_sites
    assert not any(g["growing"] for g in r.top_goroutines), r.top_goroutines
    assert r.leak_profile["total"] == 0


@pytest.mark.slow
def test_the_blocked_workers_are_the_largest_goroutine_group_and_the_leak_profile_finds_them(runs, go):
    r = runs[("goroutine", "leaky")]
    line = _line("goroutine", "leaky", "results <- result")
    top = r.top_goroutines[0]
    assert (top["fingerprint"], top["growing"]) == (f"main.work main.go:{line} chan send", True)
    assert top["count"] > 1000 and top["growth"] > 500
    lp = r.leak_profile
    assert lp["available"] == leak_profile_supported(go)
    if lp["available"]:
        assert lp["sites"][0]["site"] == f"main.work main.go:{line}"
        assert lp["total"] >= 0.9 * top["count"]
        assert "still reachable" in lp["misses"] and "spins" in lp["misses"]


@pytest.mark.slow
def test_the_leak_profile_is_there_from_go_1_26_and_its_experiment_is_recorded_in_provenance(runs, go):
    r = runs[("goroutine", "leaky")]
    meta = json.loads((Path(r.run_dir) / "meta.json").read_text())
    assert r.leak_profile["available"] is (go.version_tuple >= (1, 26))  # 1.26 with the experiment, 1.27+ always
    assert ("goroutineleakprofile" in meta["goexperiment"].split(",")) is (go.version_tuple == (1, 26))
    if go.version_tuple < (1, 26):  # reported as missing, not as "no leak"
        assert "not available" in repr(report([r], checks=False))


@pytest.mark.slow
def test_the_cli_shows_the_diagnosis_under_the_verdicts(runs):
    from rich.console import Console

    from leaklab.cli.terminal import diagnosis_tables
    console = Console(width=160, record=True, file=io.StringIO())
    for table in diagnosis_tables(runs[("syncmap", "leaky")]) + diagnosis_tables(runs[("syncmap", "fixed")]):
        console.print(table)
    text = console.export_text()
    assert f"main.handle main.go:{_line('syncmap', 'leaky', 'make([]byte, 1024)')}" in text
    assert f"no site grows faster than {SIGNALS['heap_bytes'].rate(SITE_MIN_RATE)}" in text


@pytest.mark.slow
def test_the_cli_summary_names_the_leaking_line_in_80_columns(runs):
    from rich.console import Console

    from leaklab.cli.terminal import verdict_block
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(verdict_block([runs[("syncmap", "leaky")], runs[("syncmap", "fixed")]]))
    text = console.export_text()
    assert f"grows at main.handle main.go:{_line('syncmap', 'leaky', 'make([]byte, 1024)')}" in text
    assert "LEAK" in text and "FLAT" in text
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.slow
def test_the_notebook_report_shows_the_leaking_line_and_what_the_leak_profile_misses(runs):
    page = report([runs[("goroutine", "leaky")], runs[("goroutine", "fixed")]], checks=False)._repr_html_()
    line = _line("goroutine", "leaky", "results <- result")
    assert f"main.work main.go:{line}" in page and "chan send" in page and "still reachable" in page


@pytest.mark.slow
def test_the_leak_profile_misses_reachable_channels_and_spinning_goroutines(go):
    if not leak_profile_supported(go):
        pytest.skip(f"{go.version} has no goroutine leak profile")
    spots = {b["case"]: b for b in leak_profile_blind_spots(seconds=2.0, go=go)}
    assert spots["reachable"]["group"].endswith("chan send") and spots["reachable"]["count"] > 300
    assert spots["spin"]["group"].startswith("main.worker ") and spots["spin"]["count"] == 1
    assert all(b["available"] and b["leak_profile_total"] == 0 for b in spots.values()), spots


@pytest.mark.slow
def test_checkfinalizers_stops_the_leaky_cycle_and_names_both_finalizers(go):
    leaky = check_finalizers(get_family("finalizer").package("leaky"), seconds=1.0, go=go)
    assert leaky["crashed"] and leaky["returncode"] != 0
    lines = {_line("finalizer", "leaky", "runtime.SetFinalizer(session"),
             _line("finalizer", "leaky", "runtime.SetFinalizer(conn")}
    assert {int(i["site"].rsplit(":", 1)[1]) for i in leaky["issues"]} == lines
    fixed = check_finalizers(get_family("finalizer").package("fixed"), seconds=1.0, go=go)
    assert (fixed["crashed"], fixed["issues"], fixed["returncode"]) == (False, [], 0)


@pytest.mark.slow
def test_asan_reports_the_c_memory_of_the_leaky_cgo_case_only(go):
    leaky = asan_leaks(get_family("cgo").package("leaky"), seconds=1.0, go=go)
    if not leaky["available"]:
        pytest.skip(f"go build -asan does not work here: {leaky['report']}")
    assert leaky["bytes"] > 1024 * 1024 and "LeakSanitizer" in leaky["report"]
    assert asan_leaks(get_family("cgo").package("fixed"), seconds=1.0, go=go)["bytes"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("fixture, limits, message", [
    ("hang", Limits(duration_s=0.2, warmup_s=0, grace_s=0.3), "still running 0.3 s after its 0.2 s"),
    ("runaway", Limits(duration_s=10, warmup_s=0, mem_cap_bytes=64 * 2**20), "over the 64 MiB memory cap"),
])
def test_a_program_a_check_runs_is_stopped_at_the_limits_and_nothing_is_left_running(go, fixture, limits, message):
    with pytest.raises(LeakLabError, match=message):
        _run_briefly(FIXTURES / fixture, limits, go=go)
    assert not [p for p in psutil.Process().children(recursive=True) if p.name() == "binary"]


def test_the_source_scan_names_the_unfreed_c_allocation():
    line = _line("cgo", "leaky", "C.malloc(size)")
    assert c_allocations(get_family("cgo").package("leaky")) == [
        {"site": f"main.handle main.go:{line}", "call": "C.malloc", "freed": False}]
    assert all(a["freed"] for a in c_allocations(get_family("cgo").package("fixed")))


@pytest.mark.slow
def test_cgocheck_panics_on_an_unpinned_pointer_and_the_pinner_makes_it_legal(go):
    demo = cgocheck_demo(go=go)
    assert demo["unpinned"]["returncode"] != 0 and "unpinned Go pointer" in demo["unpinned"]["message"]
    assert demo["pinned"] == {"returncode": 0, "message": "C read 42"}


def test_vet_flags_the_lost_cancel_demo_but_not_the_timer_case(go):
    demo = CASES / "02-timer" / "testdata" / "lostcancel"
    source = (demo / "main.go").read_text().splitlines()
    forgotten = {n for n, ln in enumerate(source, 1) if ":= context.WithTimeout" in ln}
    found = vet(demo, go=go)
    assert len(forgotten) == 2 and {f["line"] for f in found if "cancel" in f["message"]} >= forgotten
    assert vet(get_family("timer").package("leaky"), go=go) == []  # vet cannot see an unstopped AfterFunc


# -- parsers, on text written here -----------------------------------------------------------------

DUMP = """goroutine 7 [chan send, 2 minutes]:
main.work(0x2, 0xc000010000)
\t/src/app/main.go:25 +0x90
created by main.handle in goroutine 6
\t/src/app/main.go:33 +0x6f

goroutine 8 [chan send]:
main.work(0x4, 0xc000010100)
\t/src/app/main.go:25 +0x90
created by main.handle in goroutine 6
\t/src/app/main.go:33 +0x6f

goroutine 1 [sleep]:
time.Sleep(0x3b9aca00)
\t/go/src/runtime/time.go:300 +0x10
main.main()
\t/src/app/main.go:40 +0x20

goroutine 20 [running]:
main.leaklabLoop(0x1)
\t/src/app/zz_leaklab_probe.go:115 +0xd87
"""


def test_goroutines_are_grouped_by_stack_and_wait_reason_and_the_probe_is_left_out(tmp_path):
    parsed = _parse_goroutines(DUMP)
    assert parsed[0] == ("chan send", (Frame("main.work", "/src/app/main.go", 25),
                                       Frame("main.handle", "/src/app/main.go", 33)))
    (tmp_path / "goroutines.txt").write_text(DUMP)
    groups = goroutine_groups(tmp_path, goroot="/go")
    assert [(g["fingerprint"], g["count"]) for g in groups] == [("main.work main.go:25 chan send", 2),
                                                                 ("main.main main.go:40 sleep", 1)]
    assert not any(g["growing"] for g in groups)  # no start snapshot, no window: nothing is called growing


def test_the_leak_profile_text_is_read_by_site(tmp_path):
    assert leak_profile(tmp_path)["available"] is False
    (tmp_path / "goroutineleak.txt").write_text(
        "goroutineleak profile: total 12\n12 @ 0x1 0x2\n#\t0x586d4f\tmain.work+0x8f\t/src/app/main.go:25\n\n")
    assert leak_profile(tmp_path) | {"misses": ""} == {
        "available": True, "total": 12, "sites": [{"site": "main.work main.go:25", "count": 12}], "misses": ""}


def test_a_run_without_profiles_says_how_to_get_them(tmp_path):
    with pytest.raises(DiagnosisMissing, match="--diagnose"):
        heap_growth(tmp_path)


def _heap_text(last_gc_s: float, records: list[tuple]) -> str:
    """A heap profile in pprof's text form, sampled at runtime.MemProfileRate = 16 KiB: records of (in-use
    objects, in-use bytes, frames[, allocated objects, allocated bytes]), all allocated kept unless said."""
    body = "".join(f"{r[0]}: {r[1]} [{r[3] if len(r) > 3 else r[0]}: {r[4] if len(r) > 3 else r[1]}] @ 0x1 0x2\n{r[2]}\n"
                   for r in records)
    return f"heap profile: 0: 0 [0: 0] @ heap/32768\n{body}\n# runtime.MemStats\n# LastGC = {int(last_gc_s * 1e9)}\n"


HANDLE = "#\t0x4a5b2c\tmain.handle+0x2c\t\t/src/app/main.go:22\n#\t0x4a5c00\tmain.main+0x10\t\t/src/app/main.go:40\n"
MALG = ("#\t0x41\truntime.mallocgc+0x1\t/go/src/runtime/malloc.go:1\n"
        "#\t0x42\truntime.malg+0x2\t/go/src/runtime/proc.go:5000\n")
PROBE = "#\t0x43\tmain.leaklabExpvars+0x1\t/src/app/zz_leaklab_probe.go:173\n"


def test_heap_growth_is_read_from_the_text_profiles_unsampled_by_site(tmp_path):
    (tmp_path / "heap-start.txt").write_text(_heap_text(100.0, [(10, 10240, HANDLE), (1, 4096, PROBE)]))
    (tmp_path / "heap-end.txt").write_text(_heap_text(102.0, [(60, 61440, HANDLE), (40, 15360, MALG),
                                                               (9, 900_000, PROBE)]))
    def unsampled(n: int, size: int) -> float:  # how pprof scales a sample of n objects of `size` bytes each
        return n / (1 - math.exp(-size / 16384))

    sites = heap_growth(tmp_path, goroot="/go", min_rate=0)
    assert [(s["site"], s["objects"]) for s in sites] == [
        ("main.handle main.go:22", round(unsampled(60, 1024)) - round(unsampled(10, 1024))),
        ("runtime.malg proc.go:5000", round(unsampled(40, 384)))]  # no frame of the program: named by the allocator's caller
    assert sites[0]["bytes"] == round(unsampled(60, 1024) * 1024) - round(unsampled(10, 1024) * 1024)
    assert _window(tmp_path) == pytest.approx(2.0)
    # 0.81 MiB in 2 s: under the rate from which a site is named (sampling scatters by more than that)
    assert heap_growth(tmp_path, goroot="/go") == []
    assert [s["site"] for s in heap_growth(tmp_path, goroot="/go", min_rate=350 * 1024)] == ["main.handle main.go:22"]
    (tmp_path / "goroutines.txt").write_text(DUMP)
    assert diagnose(tmp_path, goroot="/go").window_s == 2.0


def test_a_site_is_named_only_when_it_grew_beyond_its_sampling_noise(tmp_path):
    """256 then 290 samples of 1 KiB answers read as +0.56 MiB in 1 s, over SITE_MIN_RATE. Kept, all of them
    (what was allocated in between is what was added), it is a leak, 6 standard deviations of its sampling
    noise; from a bounded map whose entries are all replaced in between (each profile samples other
    objects), 1.5 of them: not named. Twice as many samples in the map is a growth again."""
    (tmp_path / "heap-start.txt").write_text(_heap_text(10.0, [(256, 256 * 1024, HANDLE)]))
    (tmp_path / "heap-end.txt").write_text(_heap_text(11.0, [(290, 290 * 1024, HANDLE)]))
    [leak] = heap_growth(tmp_path, goroot="/go")
    assert leak["bytes"] > 5.5 * leak["noise_bytes"]
    # the same in-use bytes, with 2,000 samples allocated by then, 1,000 of them since the start profile
    (tmp_path / "heap-start.txt").write_text(_heap_text(10.0, [(256, 256 * 1024, HANDLE, 1000, 1000 * 1024)]))
    (tmp_path / "heap-end.txt").write_text(_heap_text(11.0, [(290, 290 * 1024, HANDLE, 2000, 2000 * 1024)]))
    assert heap_growth(tmp_path, goroot="/go", min_rate=0) == []
    (tmp_path / "heap-end.txt").write_text(_heap_text(11.0, [(512, 512 * 1024, HANDLE, 2000, 2000 * 1024)]))
    [site] = heap_growth(tmp_path, goroot="/go")
    # about bytes × 16 KiB of variance from each profile, the map's objects being others in each
    assert site["noise_bytes"] == pytest.approx(math.sqrt((site["start_bytes"] + site["end_bytes"]) * 16384), rel=0.05)
    assert site["bytes"] > SITE_MIN_SIGMAS * site["noise_bytes"]


def test_big_objects_a_site_keeps_do_not_hide_the_noise_of_its_small_ones(tmp_path):
    """Ten 1 MiB buffers, always sampled, kept all along; beside them, at the same line, 10 then 40 samples of
    1 KiB objects are added: 3.3 then 6.5 standard deviations of their own sampling noise."""
    buffers = (10, 10 << 20, HANDLE)
    (tmp_path / "heap-start.txt").write_text(_heap_text(10.0, [buffers]))
    (tmp_path / "heap-end.txt").write_text(_heap_text(11.0, [buffers, (10, 10 * 1024, HANDLE)]))
    assert heap_growth(tmp_path, goroot="/go", min_rate=0) == []
    (tmp_path / "heap-end.txt").write_text(_heap_text(11.0, [buffers, (40, 40 * 1024, HANDLE)]))
    [site] = heap_growth(tmp_path, goroot="/go", min_rate=0)
    assert 6 < site["bytes"] / site["noise_bytes"] < 7


def test_a_heap_profile_that_is_not_pprof_text_is_reported(tmp_path):
    (tmp_path / "heap-start.txt").write_bytes(b"\x1f\x8b\x08 not text")
    (tmp_path / "heap-end.txt").write_text(_heap_text(1.0, []))
    with pytest.raises(DiagnosisMissing, match="text form"):
        heap_growth(tmp_path)


@pytest.mark.parametrize("version, current, expected", [
    ("go1.26.8", "", {"GOEXPERIMENT": "goroutineleakprofile"}),
    ("go1.26.8", "greenteagc", {"GOEXPERIMENT": "greenteagc,goroutineleakprofile"}),
    ("go1.26.8", "goroutineleakprofile", {}),
    ("go1.27.3", "", {}),
    ("go1.25.5", "", {}),
])
def test_the_leak_profile_experiment_is_asked_for_only_on_go_1_26(version, current, expected):
    assert leak_profile_env(GoToolchain("go", version, "/go", ""), current) == expected


@pytest.mark.slow
def test_leaklab_run_json_carries_top_sites_and_top_goroutines(leaklab, tmp_path):
    status, out, _ = leaklab("run", "timer", "--variant", "leaky", "--duration", 3, "--warmup", 1, "--out", tmp_path,
                             "--json")
    assert status == 0
    r = out["results"][0]
    assert r["top_sites"][0]["site"] == f"main.handle main.go:{_line('timer', 'leaky', 'make([]byte, 16<<10)')}"
    assert r["top_sites"][0]["bytes"] > 1024 * 1024
    assert r["top_goroutines"] and {"fingerprint", "count", "growth"} <= r["top_goroutines"][0].keys()
    status, out, _ = leaklab("run", "timer", "--variant", "leaky", "--duration", 2, "--out", tmp_path, "--json",
                             "--no-diagnose")
    assert status == 0 and out["results"][0]["top_sites"] is None
