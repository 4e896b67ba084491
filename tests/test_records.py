"""The record each notebook leaves and its check against expect.toml: synthetic records (no Go run), and the
records of every notebook executed once (the session's executed_lab)."""

import json
import shutil

import pytest

from leaklab import records
from leaklab.cases import cases_dir, families, get_family


def _record(family, **overrides):
    fam = get_family(family)
    rec = {"family": family, "go_version": "go1.26.8", "godebug": "", "variants": {}}
    for variant in ("leaky", "fixed"):
        lo, hi = fam.expect[variant].rate
        rate = (lo + hi) / 2
        rec["variants"][variant] = {
            "verdict": fam.expect[variant].verdict, "signal": fam.signal, "rate_per_s": rate, "unit": "B",
            "capped": False, "reason": "synthetic", "run_dir": "",
            "signals": {fam.signal: {"verdict": fam.expect[variant].verdict, "rate_per_s": rate, "start": 1.0,
                                     "end": 2.0, "unit": "B"}},
        }
        rec["variants"][variant].update(overrides.get(variant, {}))
    return fam, rec


def test_a_record_inside_the_bands_passes():
    fam, rec = _record("syncmap")
    assert records.check_record(rec, fam) == []


def test_a_rate_outside_the_band_names_family_variant_signal_band_and_value():
    fam, rec = _record("syncmap", fixed={"rate_per_s": 9e6})
    (problem,) = records.check_record(rec, fam)
    assert "syncmap/fixed heap_bytes" in problem
    assert "[-3e+06, 3e+06]" in problem and "measured 9e+06" in problem and "+8.58 MiB/s" in problem


def test_a_wrong_verdict_is_reported_with_the_reason():
    fam, rec = _record("goroutine", leaky={"verdict": "flat", "reason": "floor grows 0 goroutines/s"})
    (problem,) = records.check_record(rec, fam)
    assert "goroutine/leaky goroutines: expected verdict 'leak', measured 'flat'" in problem
    assert "floor grows 0" in problem


def test_a_missing_variant_is_reported():
    fam, rec = _record("cgo")
    del rec["variants"]["fixed"]
    assert records.check_record(rec, fam) == ["cgo/fixed: nothing recorded for this variant (expected verdict 'flat')"]


def test_a_capped_leak_is_judged_on_its_verdict_only():
    fam, rec = _record("syncmap", leaky={"capped": True, "rate_per_s": 500e6})
    assert records.check_record(rec, fam) == []
    fam, rec = _record("syncmap", fixed={"capped": True, "rate_per_s": 500e6})
    assert len(records.check_record(rec, fam)) == 1


def test_missing_records_are_reported(tmp_path):
    problems = records.check_records(tmp_path)
    assert len(problems) == len(families()) + 1
    assert any("00-overview" in p for p in problems)


def _strict(text):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_record_without_a_rate_is_strict_json_and_its_check_says_so(tmp_path):
    from leaklab.lab import Result
    fam = get_family("syncmap")
    results = [Result(family="syncmap", variant=v, verdict="inconclusive", signal=fam.signal, rate_per_s=float("nan"),
                      unit="B", reason="no sample after the warm-up", duration_s=3.0, samples=0, go_version="go1.26.8",
                      capped=False, run_dir=str(tmp_path / "syncmap" / v),
                      signals={fam.signal: {"verdict": "inconclusive", "rate_per_s": float("nan"), "start": float("nan"),
                                            "end": None, "unit": "B"}}) for v in records.DEFAULT_VARIANTS]
    (tmp_path / "syncmap").mkdir()
    rec = _strict(records.record(results).read_text())
    assert rec["variants"]["leaky"]["rate_per_s"] is None and rec["variants"]["leaky"]["signals"][fam.signal]["start"] is None
    problems = records.check_record(rec, fam)
    assert any("measured no rate" in p for p in problems) and not any("nan" in p for p in problems), problems


@pytest.mark.slow
def test_a_tampered_expectation_fails_and_names_what_differs(executed_lab, tmp_path):
    out, _ = executed_lab
    cases = tmp_path / "go-cases"
    shutil.copytree(cases_dir(), cases, ignore=shutil.ignore_patterns("*.go", "go.mod", "testdata"))
    syncmap = cases / "01-syncmap" / "expect.toml"
    text = syncmap.read_text()
    assert "rate = [-3e6, 3e6]" in text
    syncmap.write_text(text.replace("rate = [-3e6, 3e6]", "rate = [40e6, 90e6]", 1))
    cgo = cases / "05-cgo" / "expect.toml"
    cgo.write_text(cgo.read_text().replace('verdict = "leak"', 'verdict = "flat"', 1))

    problems = records.check_records(out, cases=cases)
    assert len(problems) == 2, problems
    band, verdict = problems
    measured = json.loads((out / "syncmap" / records.RECORD).read_text())["variants"]["fixed"]["rate_per_s"]
    assert band.startswith("syncmap/fixed heap_bytes: expected rate in [4e+07, 9e+07] B/s")
    assert f"measured {measured:g} B/s" in band
    assert verdict.startswith("cgo/leaky outside_go_bytes: expected verdict 'flat', measured 'leak'")
    assert records.check_records(out) == []  # the real expectations still hold
