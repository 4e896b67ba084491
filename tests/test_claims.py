"""Each measurable claim of the article, checked on the installed Go: every verdict is derived from the
numbers measured, must come out as the lab expects, and the table must list it. The judges are also fed
synthetic numbers (and real numbers rearranged) to show that a different measurement gives a different
verdict."""

import dataclasses

import pytest

from leaklab.bench import crossover
from leaklab.cases import expectation, get_family
from leaklab.claim_runs import CLAIMS, VERDICTS, Finding, evaluate, run_claims
from leaklab.claims import claims_json, claims_markdown, load_findings, table, write_claims
from leaklab.godebug import Cell
from leaklab.run import Limits

from .conftest import REGRESSION_GO

LIMITS = Limits(duration_s=10, warmup_s=1)  # runs stop once certain; an old Go collects less often
BY_ID = {c.id: c for c in CLAIMS}


def _verdict(claim_id, numbers):
    return BY_ID[claim_id].judge(numbers)[0]


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
    assert f.as_expected, f"{claim_id}: {f.verdict}, expected {f.expected}: {f.measured}"
    assert f.verdict in VERDICTS and f.go_version.startswith("go")
    assert evaluate(BY_ID[claim_id], f.numbers, f.go_version).verdict == f.verdict


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
def test_classic_timer_cells_are_what_this_toolchain_should_show(findings, go):
    # Go 1.26: flat by default, leaks with GODEBUG=asynctimerchan=1; Go 1.27 removed that setting.
    cells = findings["ticker-time-after"].numbers["cells"]
    fam = get_family("timer")
    want = [(debug, expectation(fam, "classic", go.version, debug).verdict) for debug in ("", "asynctimerchan=1")]
    assert [(c["godebug"], c["verdict"] or c["status"]) for c in cells] == want


@pytest.mark.slow
def test_timer_verdict_follows_the_cells_measured(findings):
    cells = findings["ticker-time-after"].numbers["cells"]
    default = [c for c in cells if not c["godebug"]]
    assert _verdict("ticker-time-after", {"cells": default}) == "refuted"  # the real flat run alone
    leaking = [c for c in cells if c["verdict"] == "leak"]
    if leaking:  # Go 1.26: the real asynctimerchan=1 run alone, then beside the flat one
        assert _verdict("ticker-time-after", {"cells": leaking}) == "confirmed"
        assert _verdict("ticker-time-after", {"cells": default + leaking}) == "corrected"


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["check-then-act", "cgo-keepalive", "closed-channel-worker"])
def test_real_runs_swapped_change_the_verdict(findings, claim_id):
    """The leaky run judged as the control (and the other way round) is no longer the finding."""
    numbers = findings[claim_id].numbers
    swapped = {**numbers, "leaky": numbers["fixed"], "fixed": numbers["leaky"]}
    assert _verdict(claim_id, swapped) != findings[claim_id].verdict


@pytest.mark.slow
def test_table_round_trip(findings, tmp_path):
    md = write_claims(list(findings.values()), tmp_path / "claims.json")
    text = md.read_text()
    assert all(c.claim.replace("|", "\\|") in text for c in CLAIMS)
    assert [f.claim_id for f in load_findings(tmp_path / "claims.json")] == [c.id for c in CLAIMS]
    png = tmp_path / "img" / "matrix-timer-classic.png"  # redrawn from the matrix these findings measured
    assert "](img/matrix-timer-classic.png)" in text and png.read_bytes()[:4] == b"\x89PNG"


def test_save_without_the_runs_shows_no_stale_timer_picture(tmp_path):
    cell = dataclasses.asdict(Cell(go="1.26", go_version="go1.26.8", go_directive="1.26", godebug="",
                                   status="measured", expected="flat", verdict="flat", rate_per_s=0.0,
                                   run_dir=str(tmp_path / "gone")))
    finding = evaluate(BY_ID["ticker-time-after"], {"cells": [cell]}, "go1.26.8")
    text = write_claims([finding], tmp_path / "claims.json").read_text()
    assert "matrix-timer-classic" not in text and not (tmp_path / "img").exists()


def test_bench_lines_give_time_cores_and_gomaxprocs():
    from leaklab.bench import _parse
    runs, procs = _parse("BenchmarkMaps/keys=100/writes=0%/sync.Map-2   \t  100000\t  14.50 ns/op\t  1.950 cores\n"
                         "BenchmarkMaps/keys=100/writes=0%/RWMutex-2   \t  100000\t  35.10 ns/op\n")
    assert procs == 2 and runs["100"]["sync.Map"]["0"] == [(14.5, 1.95)]
    assert runs["100"]["RWMutex"]["0"][0][0] == 35.1


@pytest.mark.slow
def test_notebook_table_shows_the_saved_findings(findings, tmp_path):
    write_claims(list(findings.values()), tmp_path / "claims.json")
    shown = table(tmp_path / "claims.json", family="timer")._repr_markdown_()
    assert shown.count("\n") == 4 and findings["defer-stop-panic"].measured in shown


def _finding(ok):
    return Finding("x", "timer", "a|b", "m", "refuted", ok, "go1.26.8", "2026-11-25", "h", expected="corrected")


def test_markdown_flags_a_finding_that_went_wrong():
    assert "NOT as the lab expects: corrected" in claims_markdown([_finding(False)])
    assert "NOT" not in claims_markdown([_finding(True)]) and "a\\|b" in claims_markdown([_finding(True)])
    assert claims_markdown([_finding(True)], family="syncmap").count("\n") == 2


def test_crossover_interpolates_where_rwmutex_overtakes():
    by = {"sync.Map": {"0": 10.0, "10": 20.0, "50": 60.0}, "RWMutex": {"0": 30.0, "10": 30.0, "50": 30.0}}
    assert crossover(by) == pytest.approx(10 + 40 * 10 / 40)
    assert crossover({"sync.Map": {"0": 1.0, "5": 1.0}, "RWMutex": {"0": 2.0, "5": 2.0}}) is None


def test_saving_one_claim_keeps_the_others(tmp_path):
    first = Finding("defer-stop-panic", "timer", "c1", "m1", "refuted", True, "go1.26.8", "2026-11-25", "h")
    second = Finding("unhashable-key", "syncmap", "c2", "m2", "refuted", True, "go1.26.8", "2026-11-25", "h")
    write_claims([first, second], tmp_path / "claims.json")
    again = dataclasses.replace(first, measured="m1 again")
    write_claims([again], tmp_path / "claims.json")
    saved = {f.claim_id: f.measured for f in load_findings(tmp_path / "claims.json")}
    assert saved == {"defer-stop-panic": "m1 again", "unhashable-key": "m2"}


def _strict(text):
    """Parse JSON as a strict parser does: NaN and Infinity are not JSON."""
    import json

    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_numbers_that_could_not_be_measured_are_saved_as_null_and_read_back(tmp_path):
    cell = dataclasses.asdict(Cell(go="1.22", go_version="go1.22.10", go_directive="1.22", godebug="",
                                   status="unsupported", expected="leak", run_dir=str(tmp_path / "gone")))
    finding = Finding("ticker-time-after", "timer", "c", "m", "inconclusive", False, "go1.26.8", "2026-12-01", "h",
                      numbers={"cells": [cell], "ratio": float("nan"), "rates": [1.0, float("inf")]})
    write_claims([finding], tmp_path / "claims.json")
    saved = _strict((tmp_path / "claims.json").read_text())["findings"][0]
    assert saved["numbers"]["ratio"] is None and saved["numbers"]["rates"] == [1.0, None]
    assert saved["numbers"]["cells"][0]["rate_per_s"] is None
    (back,) = load_findings(tmp_path / "claims.json")
    assert Cell.from_dict(back.numbers["cells"][0]).rate_per_s != Cell.from_dict(back.numbers["cells"][0]).rate_per_s


# --- one column per Go version ------------------------------------------------------------------------------

def _on(go_version, verdict="refuted", ok=True, measured="m"):
    return Finding("defer-stop-panic", "timer", "claim", measured, verdict, ok, go_version, "2026-12-01", "h",
                   expected="refuted")


def test_the_table_has_a_verdict_column_per_go_version_and_one_row_per_claim():
    md = claims_markdown([_on("go1.22.10"), _on("go1.27.3", "confirmed", False), _on("go1.26.8", measured="main")])
    header, _, row = md.splitlines()
    assert header.split(" | ")[2:6] == ["go1.22.10", "go1.26.8", "go1.27.3", "the lab measured"]
    cells = row.split(" | ")
    assert cells[2:5] == ["refuted", "refuted", "confirmed (NOT as the lab expects: refuted)"]
    assert cells[5] == "main" and cells[6].startswith("go1.26.8")  # the last finding is the main one


def test_saving_one_version_keeps_the_others_and_the_installed_go_comes_last(tmp_path, go):
    write_claims([_on("go1.22.10", measured="old"), _on(go.version, measured="here")], tmp_path / "claims.json")
    write_claims([_on("go1.27.3", measured="new")], tmp_path / "claims.json")
    saved = load_findings(tmp_path / "claims.json", all_versions=True)
    assert [f.go_version for f in saved] == ["go1.22.10", "go1.27.3", go.version]
    assert [f.go_version for f in load_findings(tmp_path / "claims.json")] == [go.version]  # what the labs quote
    text = (tmp_path / "claims.md").read_text()
    assert "| here |" in text and "## What each Go version measured" in text and "- go1.27.3: refuted: new" in text


def test_the_families_section_lists_each_version_and_the_checks(tmp_path):
    from leaklab.matrix import VersionRun
    row = VersionRun(family="cgo", variant="leaky", go="1.26", go_version="go1.26.8", go_directive="1.26",
                     status="measured", expected="leak", verdict="leak", signal="outside_go_bytes", rate_per_s=14e6)
    families = {"date": "2026-12-01T12:00:00+00:00", "results": [row.as_dict()],
                "checks": [{"check": "go build -asan", "family": "cgo", "variant": "leaky", "go_version": "go1.26.8",
                            "available": True, "flagged": True, "found": "1,024 bytes leaked in 1 allocations"}]}
    md = write_claims([_on("go1.26.8")], tmp_path / "claims.json", families=families).read_text()
    assert "## The five families on each Go version" in md and "| cgo | leaky | leak +13.35 MiB/s |" in md
    assert "| `go build -asan` | cgo/leaky | 1,024 bytes leaked in 1 allocations |" in md
    again = write_claims([_on("go1.22.10")], tmp_path / "claims.json").read_text()  # kept when not given
    assert "| cgo | leaky | leak +13.35 MiB/s |" in again


#: On other releases, the claims about the code Go changed between them: timers (Go 1.23) and sync.Map
#: (Go 1.24). The goroutine, finalizer and cgo claims rest on semantics no release changed; `leaklab claims`
#: measures them on every release for the table, and here they run on the installed Go only. The sync.Map
#: benchmark's crossover sits near 1% of writes on Go before 1.24: on a shared 2-core machine it flips
#: between runs, so on other releases it is measured by `leaklab claims` (and shown) but not asserted, and
#: not run here: it would take both cores from the other workers' runs for nothing.
ASSERTED_ON_OTHER_GO = [c.id for c in CLAIMS if c.family in ("timer", "syncmap") and c.id != "syncmap-vs-rwmutex"]


@pytest.fixture(scope="module", params=REGRESSION_GO)
def other_findings(request, tmp_path_factory):
    """The claims asserted on other releases, measured on one release of REGRESSION_GO (fetched once and
    cached; on 1.22, the timers and sync.Map of before): (release, {claim id: finding}). One fixture per
    release, so that the releases run in different pytest-xdist workers."""
    found = run_claims(ASSERTED_ON_OTHER_GO, limits=LIMITS, out=tmp_path_factory.mktemp(f"claims-{request.param}"),
                       versions=[request.param])
    return request.param, {f.claim_id: f for f in found}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the fixture: the timer and sync.Map claims' runs on one release, builds included
@pytest.mark.parametrize("claim_id", ASSERTED_ON_OTHER_GO)
def test_claim_measured_as_expected_on_other_go_versions(other_findings, claim_id):
    _, found = other_findings
    f = found[claim_id]
    assert f.as_expected, f"{claim_id} on {f.go_version}: {f.verdict}, expected {f.expected}: {f.measured}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_unstopped_ticker_leaks_on_go_1_22_by_default(other_findings):
    release, found = other_findings
    if release != "1.22":
        pytest.skip(f"the ticker's default is measured on Go 1.22; this is {release}")
    finding = found["ticker-time-after"]
    assert [(c["godebug"], c["verdict"] or c["status"]) for c in finding.numbers["cells"]] == \
        [("", "leak"), ("asynctimerchan=1", "not applicable")]
    assert finding.verdict == "confirmed"


def test_every_committed_claim_carries_a_measured_verdict_on_at_least_three_go_versions():
    saved = load_findings(all_versions=True)
    assert {f.claim_id for f in saved} == set(BY_ID)
    for claim_id in BY_ID:
        measured = {f.go_version for f in saved if f.claim_id == claim_id and f.verdict in VERDICTS
                    and f.verdict != "inconclusive"}
        assert len(measured) >= 3, f"{claim_id}: measured on {sorted(measured)} only"
    header = next(line for line in claims_json().with_suffix(".md").read_text().splitlines()
                  if line.startswith("| family |"))
    assert sum(cell.strip().startswith("go1.") for cell in header.split("|")) >= 3
