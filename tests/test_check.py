"""The exercise checker: starters must be called leaking, hidden solutions fixed, cheats rejected."""

import json
import math
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leaklab import check as chk
from leaklab.cases import families, get_family
from leaklab.errors import BadParameter
from leaklab.lab import Result
from leaklab.run import Limits

FIXTURES = Path(__file__).parent / "fixtures"
SOLUTIONS = FIXTURES / "solutions"
CHEATS = FIXTURES / "cheats"
NAMES = [f.name for f in families()]
TODO = re.compile(r"^\s*// TODO\(you\):.*\n(^\s*//(?! TODO).*\n)*", re.M)

#: The limits `leaklab check` runs with (at most 10 s; a run stops once its verdict is certain, which on a
#: quiet machine is after 2-3 s; beside two CPU hogs the syncmap starter needed more than 6 s).
LIMITS = Limits(warmup_s=1.0)


def _cheats():
    return sorted(p for p in CHEATS.iterdir() if (p / "main.go").is_file())


# --- the exercise material ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_starter_is_the_leaky_case_plus_a_marker(name):
    starter = (chk.starter(name) / "main.go").read_text()
    assert "// TODO(you):" in starter, "the learner must see where the fix goes"
    leaky = (get_family(name).package("leaky") / "main.go").read_text()
    assert TODO.sub("", starter) == leaky, "labs/exercises must stay the go-cases leaky program plus TODO comments"


@pytest.mark.parametrize("name", NAMES)
def test_every_family_has_a_hint_a_solution_and_a_cheat(name):
    assert chk.hints(name)["hint"] and chk.hints(name)["more"]
    assert (SOLUTIONS / name / "main.go").is_file()
    assert any(p.name.startswith(f"{name}-") for p in _cheats())


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BadParameter, match="not a folder"):
        chk.check_fix("timer", tmp_path / "nowhere")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("signal", ["heap_bytes", "goroutines", "outside_go_bytes"])
def test_there_is_a_hint_for_every_signal_a_fix_can_leak_through(name, signal):
    assert chk.hints(name, signal)["hint"] and chk.hints(name, signal)["more"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("argv, message", [(["check", "timerr"], "timerr"),
                                           (["check", "timer", "--path", "/nowhere/at/all"], "not a folder")])
def test_bad_arguments_fail_before_anything_is_printed_or_built(leaklab, monkeypatch, argv, message):
    built = []
    monkeypatch.setattr(chk, "measure", lambda *a, **k: built.append(a))
    code, out, err = leaklab(*argv)
    assert code == 2 and message in err and "error" in err
    assert "building" not in err and not out and not built


# --- the judgement, on made-up results ---------------------------------------------------------------------

def _result(verdict="flat", work=900.0, signal="heap_bytes", run_dir="", **signals):
    rate = {"leak": 20e6, "flat": 0.0}.get(verdict, 2e6)
    base = {n: {"verdict": "flat", "rate_per_s": 0.0} for n in ("heap_bytes", "goroutines", "outside_go_bytes")}
    base[signal] = {"verdict": verdict, "rate_per_s": rate}
    base.update({n: {"verdict": v, "rate_per_s": 5e6} for n, v in signals.items()})
    return Result(family="timer", variant="check", verdict=verdict, signal=signal, rate_per_s=rate, unit="B",
                  reason="made up", duration_s=4, samples=80, go_version="go1.x", capped=False, run_dir=str(run_dir),
                  work_rate_per_s=work, signals=base)


def _judge(result, reference=None):
    """The status for ``result``; with no ``reference`` the work must reach the expected rate by itself."""
    return chk._judge(get_family("timer"), result, LIMITS, Path("unused"), None, reference)[0]


def test_flat_with_the_expected_work_is_fixed():
    assert _judge(_result(work=get_family("timer").work_rate)) == "fixed"


def test_a_leak_on_another_signal_is_not_a_fix():
    assert _judge(_result(work=900, goroutines="leak")) == "leaking"


def test_the_headline_is_the_strongest_leak_and_the_hint_fits_it():
    """A "fix" of timer that parks a goroutine per request: the heap grows a little, goroutines a lot."""
    parked = _result("leak", work=900, goroutines="leak")
    parked.rate_per_s = parked.signals["heap_bytes"]["rate_per_s"] = 0.8 * 2**20  # 1.6x its threshold
    parked.signals["goroutines"] |= {"rate_per_s": 1000.0, "reason": "goroutines reason"}  # 100x its threshold
    assert chk.leaking_signals(parked) == ["goroutines", "heap_bytes"]
    status, headline, details, _ = chk._judge(get_family("timer"), parked, LIMITS, Path("unused"), None, None)
    assert status == "leaking" and headline.startswith("still leaking: goroutines +1,000")
    assert details[0] == "goroutines reason" and details[1].startswith("also growing: Go heap")
    assert chk.hints("timer", "goroutines")["hint"] != chk.hints("timer")["hint"]
    assert "goroutine" in chk.hints("timer", "goroutines")["hint"]


def _fake_runs(monkeypatch, tmp_path, verdict="leak"):
    """check_fix() on a made-up run: nothing is built, the result leaks (or not) on the heap."""
    result = _result(verdict, work=get_family("timer").work_rate, run_dir=tmp_path)
    monkeypatch.setattr(chk, "measure", lambda *a, **k: result)
    monkeypatch.setattr(chk, "save_curve", lambda r, path, title: path)
    return result


@pytest.mark.timeout(30)
def test_the_second_hint_comes_on_the_second_failed_try(monkeypatch, tmp_path):
    _fake_runs(monkeypatch, tmp_path)
    first = chk.check_fix("timer", limits=LIMITS, out=tmp_path / "runs")
    second = chk.check_fix("timer", limits=LIMITS, out=tmp_path / "runs")
    assert first.hint == second.hint == chk.hints("timer")["hint"]
    assert not first.more and "second hint follows" in chk.format_report(first)
    assert second.more == chk.hints("timer")["more"] and (first.tries, second.tries) == (1, 2)
    assert f"another hint: {second.more}" in chk.format_report(second)
    # A run that no longer leaks starts the count again; another folder has a count of its own.
    _fake_runs(monkeypatch, tmp_path, "flat")
    assert chk.check_fix("timer", limits=LIMITS, out=tmp_path / "runs").tries == 0
    _fake_runs(monkeypatch, tmp_path)
    assert not chk.check_fix("timer", limits=LIMITS, out=tmp_path / "runs").more
    assert not chk.check_fix("timer", tmp_path, limits=LIMITS, out=tmp_path / "runs").more


@pytest.mark.timeout(30)
def test_asking_for_the_hint_gives_the_second_one_at_once(monkeypatch, tmp_path, capsys):
    from leaklab.cli import main

    _fake_runs(monkeypatch, tmp_path)
    assert main(["check", "timer", "--hint", "--out", str(tmp_path / "runs")]) == 1
    out, err = capsys.readouterr()
    assert f"another hint: {chk.hints('timer')['more']}" in out and err.startswith("leaklab: building")


def test_inconclusive_does_not_pass():
    assert _judge(_result("inconclusive")) == "inconclusive"


def test_too_little_work_fails_a_fix_before_its_curve_is_told_apart():
    """A cheat that sleeps leaks slowly: a busy machine may not tell its curve apart in time, its work rate tells."""
    expected = get_family("timer").work_rate
    status, headline, _, _ = chk._judge(get_family("timer"), _result("inconclusive", work=0.3 * expected), LIMITS,
                                        Path("unused"), None, 0.9 * expected)
    assert status == "too-little-work" and headline.startswith("the curve shows no leak yet, but")


def test_no_counter_is_not_a_fix():
    assert _judge(_result(work=None)) == "no-counter"


def test_a_slow_machine_is_judged_against_the_leaky_program_measured_now():
    expected = get_family("timer").work_rate
    assert _judge(_result(work=0.5 * expected), reference=0.6 * expected) == "fixed"
    assert _judge(_result(work=0.3 * expected), reference=0.9 * expected) == "too-little-work"


def _samples(folder, per_request, rate=1000.0, column="alloc_bytes"):
    """A made-up samples.jsonl: ``rate`` requests/s for 4 s, each adding ``per_request`` to ``column``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"type": "start", "go": "go1.x"})]
    for i in range(81):
        t = i * 0.05
        lines.append(json.dumps({"t": t, column: 50_000 * t + per_request * rate * t,
                                 "expvar": {"requests": int(rate * t)}}))
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_every_family_names_the_trace_its_work_leaves(name):
    evidence = get_family(name).evidence
    assert evidence is not None and evidence.per_request > 0 and evidence.does


def test_counting_requests_without_doing_their_work_is_not_a_fix(tmp_path):
    rule = get_family("timer").evidence
    worked = _result(work=1000, run_dir=_samples(tmp_path / "worked", 16 << 10))
    counted = _result(work=1000, run_dir=_samples(tmp_path / "counted", 0))
    assert chk.work_evidence(worked, "timer", 1.0) > rule.per_request > chk.work_evidence(counted, "timer", 1.0)
    assert _judge(worked) == "fixed"
    assert _judge(counted) == "too-little-work"
    # With no such column (an older probe), the checker falls back to the work rate alone.
    assert _judge(_result(work=1000, run_dir=_samples(tmp_path / "old", 0, column="other"))) == "fixed"


def test_the_cli_exit_status_says_fixed_or_not(leaklab, monkeypatch):
    for passed, status in ((True, 0), (False, 1)):
        report = chk.CheckReport(family="timer", path="p", passed=passed, status="x", headline="h", details=[])
        monkeypatch.setattr(chk, "check_fix", lambda *a, _r=report, **k: _r)
        code, out, _ = leaklab("check", "timer")
        assert code == status and ("PASS" if passed else "NOT YET") in out


# --- real runs ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory, go):
    """Check every starter, then every hidden solution and cheat, four at a time.

    A starter is the leaky program, so its work rate is the reference the others are held to; one
    cheat (cgo) is left to measure its reference itself, the way `leaklab check` does.
    """
    root = tmp_path_factory.mktemp("check")

    def run(key, family, path, reference=None):
        out = root / key.replace("/", "_")
        return key, chk.check_fix(family, path, limits=LIMITS, out=out, go=go, reference=reference)

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(pool.map(lambda n: run(f"starter/{n}", n, chk.starter(n)), NAMES))
        ref = {n: done[f"starter/{n}"].work_rate_per_s for n in NAMES}
        jobs = [(f"solution/{n}", n, SOLUTIONS / n, ref[n]) for n in NAMES]
        for p in _cheats():
            family = p.name.split("-")[0]
            jobs.append((f"cheat/{p.name}", family, p, None if family == "cgo" else ref[family]))
        done |= dict(pool.map(lambda job: run(*job), jobs))
    return done


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_starter_is_still_leaking(reports, name):
    report = reports[f"starter/{name}"]
    assert report.status == "leaking" and not report.passed, chk.format_report(report)
    assert report.hint and Path(report.curve).is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_hidden_solution_is_fixed(reports, name):
    report = reports[f"solution/{name}"]
    assert report.passed and report.status == "fixed", chk.format_report(report)
    assert report.work_rate_per_s and not math.isnan(report.rate_per_s)
    assert Path(report.curve).is_file()


@pytest.mark.slow
@pytest.mark.parametrize("cheat", [p.name for p in _cheats()])
def test_a_cheat_is_rejected(reports, cheat):
    report = reports[f"cheat/{cheat}"]
    assert not report.passed, chk.format_report(report)
    # A cheat that still does its leaking work, only less of it, is rejected as leaking where the growth is
    # established (the verdict sees 0.2 MiB/s), else for doing too little work; one-sided finalizers and a
    # timer never stopped leak at the full rate of requests.
    leaks_anyway = cheat.endswith(("one-side", "keeps-timer"))
    wanted = {"leaking"} if leaks_anyway else {"too-little-work", "leaking"}
    if cheat.endswith(("counts-only", "returns-early")):  # no leaking work at all: only the work check sees it
        wanted = {"too-little-work"}
    assert report.status in wanted, chk.format_report(report)
    if cheat.endswith("counts-only"):  # full rate of requests, no work behind them
        assert report.work_rate_per_s > chk.WORK_FRACTION * get_family(report.family).work_rate
        assert "skip their work" in report.headline, chk.format_report(report)


def test_a_program_that_does_not_compile_gets_the_compiler_message(leaklab, tmp_path):
    code, _, err = leaklab("check", "syncmap", "--path", FIXTURES / "compile_error", "--out", tmp_path)
    assert code == 2 and "go build" in err
