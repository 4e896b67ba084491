"""--test: a package's tests and benchmarks run round after round, each round counted as the work."""

import time

import pytest

from leaklab import BadParameter
from leaklab.probe import SIGNALS
from leaklab.testloop import ITERATIONS, LOOP_TEST, _functions, _loop_source, build_test, run_arguments

from .conftest import FIXTURES

PACKAGE = FIXTURES / "tested_package"


def test_tests_and_benchmarks_are_found_by_gos_naming_rules(tmp_path):
    (tmp_path / "a_test.go").write_text(
        "package a\n\nimport \"testing\"\n\n"
        "func TestRender(t *testing.T) {}\nfunc Test(t *testing.T) {}\nfunc Testify(t *testing.T) {}\n"
        "func TestMain(m *testing.M) {}\nfunc BenchmarkX(b *testing.B) {}\nfunc TestWrong(b *testing.B) {}\n"
        "func helper(t *testing.T) {}\n")
    assert _functions(tmp_path, ["a_test.go"]) == [("TestRender", "T"), ("Test", "T"), ("BenchmarkX", "B")]


def test_the_loop_reaches_internal_tests_through_the_package_and_external_ones_directly():
    info = {"Name": "tested", "ImportPath": "example.com/tested", "TestGoFiles": ["render_test.go"],
            "XTestGoFiles": ["render_external_test.go"]}
    source = _loop_source(info, PACKAGE)
    assert source.startswith("package tested_test\n") and 'leaklabpkg "example.com/tested"' in source
    assert '{"TestRender", leaklabpkg.TestRender}' in source and '{"BenchmarkRender", BenchmarkRender}' in source
    assert f'expvar.NewInt("{ITERATIONS}")' in source and f"func {LOOP_TEST}(t *testing.T)" in source
    main = _loop_source({**info, "Name": "main", "XTestGoFiles": []}, PACKAGE)
    assert main.startswith("package main\n") and '{"TestRender", TestRender}' in main and "leaklabpkg" not in main


def test_the_binary_runs_only_the_loop_round_after_round_and_stops_at_the_first_failure():
    args, env = run_arguments("^TestRender$")
    assert args[:2] == ["-test.run", f"^{LOOP_TEST}$"] and "-test.failfast" in args
    assert any(a.startswith("-test.count=") and int(a.split("=")[1]) >= 10**12 for a in args)
    assert env == {"LEAKLAB_TEST_PATTERN": "^TestRender$"}
    with pytest.raises(BadParameter, match="wants a pattern"):
        run_arguments("")


def test_a_folder_without_tests_is_refused(go, tmp_path):
    with pytest.raises(BadParameter, match=r"\*_test.go"):
        build_test(FIXTURES / "heap_leak", tmp_path / "bin", go)


def _run(leaklab, tmp_path, pattern, *extra, duration=8):
    began = time.monotonic()
    status, out, err = leaklab("run", "--program", PACKAGE, "--test", pattern, "--duration", duration, "--out",
                               tmp_path, "--json", *extra)
    assert time.monotonic() - began < duration + 20, "build and run within their deadline"
    return status, out, err


@pytest.mark.slow
def test_tests_with_subtests_logs_temporary_folders_and_parallel_ones_are_flat_in_a_loop(leaklab, tmp_path):
    status, out, err = _run(leaklab, tmp_path, "^(TestRender|TestRenderInParallel)$", "--expect", "flat")
    assert status == 0, err
    (r,) = out["results"]
    assert r["verdict"] == "flat", r["reason"]
    assert r["work_rate_per_s"] > 100, "rounds per second: the loop ran"


@pytest.mark.slow
def test_a_test_that_keeps_a_little_each_round_leaks_per_round(leaklab, tmp_path):
    # Decided in ~3.5 s; on a loaded machine it may need longer, and the run stops once it is certain.
    status, out, err = _run(leaklab, tmp_path, "^TestRenderKeeps$", "--expect", "leak", duration=15)
    assert status == 0, err
    (r,) = out["results"]
    heap, judged = SIGNALS["heap_bytes"], out["results"][0]["signals"]["heap_bytes"]
    assert r["verdict"] == "leak" and r["signal"] == "heap_bytes", r["reason"]
    assert judged["per_work"] > heap.per_work_rate and "per request" in r["reason"]
    assert judged["rate_per_s"] < heap.min_rate, "per second alone it would not be called a leak"


@pytest.mark.slow
def test_a_benchmark_is_flat_in_a_loop_and_its_operations_are_the_work(leaklab, tmp_path):
    # A benchmark allocates as fast as it can: the live heap is noisy, and needs longer to be told flat.
    status, out, err = _run(leaklab, tmp_path, "^BenchmarkRender$", "--", "-test.benchtime=100ms", duration=15)
    assert status == 0, err
    (r,) = out["results"]
    assert r["verdict"] == "flat", r["reason"]
    assert r["work_rate_per_s"] > 10_000, "b.N operations per second, not rounds"


@pytest.mark.slow
@pytest.mark.parametrize("pattern, message", [
    ("^TestFails$", "render_test.go:39: this test always fails"),
    ("^TestNothing$", 'no test or benchmark of this package matches --test "^TestNothing$"'),
])
def test_a_failing_or_missing_test_is_explained(leaklab, tmp_path, pattern, message):
    status, _, err = _run(leaklab, tmp_path, pattern)
    assert status == 2
    assert message in " ".join(err.split())
