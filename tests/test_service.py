"""The example service's page: its record checked against go-cases/06-service/expect.toml (synthetic records),
and the three runs of the session's notebooks (tests/conftest.py, executed_lab) judged as expected."""

import json

import pytest

from leaklab import service
from leaklab.probe import SIGNALS

SPEC = service.spec()


def _write(out, **changes):
    variants = {}
    for run in service.RUNS:
        leaks = run.loaded and SPEC["variants"][run.variant]["verdict"] == "leak"
        variants[run.name] = {"verdict": "leak" if leaks else "flat", "signal": "heap_bytes",
                              "rate_per_s": 330_000.0 if leaks else 0.0, "per_request": 1640.0 if leaks else 0.0,
                              "answered_per_s": 200.0 if run.loaded else 0.0, "decided_after_s": 3.0,
                              "reason": "synthetic", "run_dir": "", "load": None}
        variants[run.name].update(changes.get(run.name, {}))
    (out / service.FAMILY).mkdir(parents=True, exist_ok=True)
    (out / service.FAMILY / "measured.json").write_text(json.dumps({"family": "service", "variants": variants}))


def test_the_page_runs_the_leaky_service_with_and_without_load_and_the_fixed_one_under_load():
    assert [(r.variant, r.loaded) for r in service.RUNS] == [("leaky", True), ("leaky", False), ("fixed", True)]
    assert [service._expected(r, SPEC) for r in service.RUNS] == ["leak", "flat", "flat"]


def test_a_record_as_expect_toml_says_passes(tmp_path):
    _write(tmp_path)
    assert service.check(tmp_path) == []


def test_a_missing_record_says_which_notebook_did_not_run(tmp_path):
    (problem,) = service.check(tmp_path)
    assert "no measured.json" in problem and "06-service.ipynb" in problem


def test_a_wrong_verdict_a_rate_out_of_band_and_too_little_kept_per_request_are_named(tmp_path):
    _write(tmp_path, **{"leaky-no-load": {"verdict": "leak", "reason": "grew"},
                        "fixed": {"rate_per_s": 5e5},
                        "leaky": {"per_request": 10.0}})
    problems = service.check(tmp_path)
    assert "service/leaky-no-load (leaky, no load): expected verdict 'flat', measured 'leak' (grew)" in problems
    assert any(p.startswith("service/fixed (fixed, under load): expected growth in") for p in problems)
    assert any(p.startswith("service/leaky (leaky, under load): expected more than 64 B kept per request") for p in problems)
    assert len(problems) == 3


@pytest.mark.slow
def test_the_notebooks_service_runs_are_judged_as_expect_toml_says(executed_lab):
    out, executed = executed_lab
    assert "06-service.ipynb" in [p.name for p in executed]
    assert service.check(out) == []
    leaky, idle, fixed = service.load_results(out)
    assert (leaky.verdict, idle.verdict, fixed.verdict) == ("leak", "flat", "flat")
    assert leaky.signals["heap_bytes"]["per_work"] > SIGNALS["heap_bytes"].per_work_rate  # per request too
    assert leaky.load["answered"] > 0 and leaky.load["failed"] == 0 and idle.load is None
    assert any(s["site"].startswith("main.items main.go:") for s in leaky.top_sites), leaky.top_sites
    assert (out / "service" / "service.png").stat().st_size > 20_000
