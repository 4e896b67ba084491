"""Each measurable claim of the article, checked on the installed Go: every check must come out as
the lab expects, and the table must list it."""

import pytest

from harness.bench import crossover
from harness.claims import CLAIMS, Finding, claims_markdown, load_findings, run_claims, write_claims
from harness.run import Limits

LIMITS = Limits(duration_s=3, warmup_s=1)


@pytest.fixture(scope="module")
def findings(tmp_path_factory, go):
    # The timer matrix here runs on the installed Go only; tests/test_matrix.py covers Go 1.22 and 1.27.
    local = "%d.%d" % go.version_tuple
    found = run_claims(limits=LIMITS, out=tmp_path_factory.mktemp("claims"), versions=[local], go=go)
    return {f.claim_id: f for f in found}


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [c.id for c in CLAIMS])
def test_claim_measured_as_expected(findings, claim_id):
    f = findings[claim_id]
    assert f.as_expected, f"{claim_id}: {f.measured}"
    assert f.verdict in {"refuted", "confirmed", "corrected"} and f.go_version.startswith("go")


@pytest.mark.slow
def test_race_counts_both_ways(findings):
    n = findings["check-then-act"].numbers
    assert n["leaky"]["resurrected"] + n["leaky"]["lost"] > 0
    assert n["fixed"]["resurrected"] == n["fixed"]["lost"] == 0


@pytest.mark.slow
def test_spin_burns_cpu_not_goroutines(findings):
    n = findings["closed-channel-worker"].numbers
    assert n["goroutines"]["leaky"] == "flat" and n["cpu_s"]["leaky"] > 5 * n["cpu_s"]["fixed"]


@pytest.mark.slow
def test_classic_timer_flat_by_default_and_leaks_with_old_timers(findings):
    cells = findings["ticker-time-after"].numbers["cells"]
    assert [(c["godebug"], c["verdict"]) for c in cells] == [("", "flat"), ("asynctimerchan=1", "leak")]


@pytest.mark.slow
def test_table_round_trip(findings, tmp_path):
    md = write_claims(list(findings.values()), tmp_path / "claims.json")
    text = md.read_text()
    assert all(c.claim.replace("|", "\\|") in text for c in CLAIMS)
    assert [f.claim_id for f in load_findings(tmp_path / "claims.json")] == [c.id for c in CLAIMS]


def _finding(ok):
    return Finding("x", "timer", "a|b", "m", "refuted", ok, "go1.26.8", "2026-11-25", "h")


def test_markdown_flags_a_finding_that_went_wrong():
    assert "NOT as the lab expects" in claims_markdown([_finding(False)])
    assert "NOT" not in claims_markdown([_finding(True)]) and "a\\|b" in claims_markdown([_finding(True)])
    assert claims_markdown([_finding(True)], family="syncmap").count("\n") == 2


def test_crossover_interpolates_where_rwmutex_overtakes():
    by = {"sync.Map": {"0": 10.0, "10": 20.0, "50": 60.0}, "RWMutex": {"0": 30.0, "10": 30.0, "50": 30.0}}
    assert crossover(by) == pytest.approx(10 + 40 * 10 / 40)
    assert crossover({"sync.Map": {"0": 1.0, "5": 1.0}, "RWMutex": {"0": 2.0, "5": 2.0}}) is None


def test_unknown_claim_is_a_clear_error(leaklab):
    status, _, err = leaklab("claims", "no-such-claim")
    assert status == 2 and "no claim called no-such-claim" in err
