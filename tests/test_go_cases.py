"""go-cases passes `go vet` and its own Go tests; the goleak test of the leaky goroutine case must find the leak."""

from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parent.parent / "go-cases"


def _go(go, *args):
    """The go command over go-cases, in its own process group, stopped with its children after 5 minutes."""
    return go.run(*args, cwd=CASES, timeout=300)


@pytest.mark.slow
def test_go_vet_passes_over_every_case(go):
    proc = _go(go, "vet", "./...")
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def go_test(go):
    return _go(go, "test", "-count=1", "-v", "./...")


@pytest.mark.slow
def test_go_test_passes_over_every_case(go_test):
    assert go_test.returncode == 0, go_test.stdout + go_test.stderr


@pytest.mark.slow
def test_goleak_reports_the_blocked_workers_of_the_leaky_case(go_test):
    # The leaky test passes only if goleak finds the leak; check that it ran and what it named.
    assert "--- PASS: TestHandleLeavesBlockedWorkers" in go_test.stdout
    assert "goleak found the leak" in go_test.stdout
    assert "03-goroutine/leaky.work" in go_test.stdout and "in state chan send" in go_test.stdout


@pytest.mark.slow
def test_goleak_clears_the_fixed_case(go_test):
    assert "--- PASS: TestHandleLeavesNoGoroutine" in go_test.stdout
