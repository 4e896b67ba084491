"""The leaklab command: tables, JSON, programs it has never seen, and bad input."""

import subprocess
import sys

import pytest

from .conftest import FIXTURES

JSON_KEYS = {"family", "variant", "verdict", "signal", "rate_per_s", "unit", "duration_s", "samples", "go_version",
             "capped"}


def test_list_shows_every_family_and_signal(leaklab):
    status, out, _ = leaklab("list")
    assert status == 0
    for name in ("syncmap", "timer", "goroutine", "finalizer", "cgo", "leaky (leak)", "fixed (flat)"):
        assert name in out


@pytest.mark.slow
@pytest.mark.parametrize("fixture, verdict, signal, duration", [
    ("heap_leak", "leak", "heap_bytes", 3.5),
    ("goroutine_leak", "leak", "goroutines", 3.5),
    ("cgo_leak", "leak", "outside_go_bytes", 3.5),
    ("churn", "flat", None, 3.5),
    # A sawtooth needs several teeth after the warm-up before its floor is known.
    ("sawtooth", "flat", None, 20),  # it stops once sure: a 4 MiB saw must be bounded to 0.1 MiB/s
])
def test_programs_the_lab_has_never_seen(leaklab, tmp_path, fixture, verdict, signal, duration):
    status, out, _ = leaklab("run", "--program", FIXTURES / fixture, "--duration", duration, "--out", tmp_path,
                             "--json")
    assert status == 0
    (r,) = out["results"]
    assert JSON_KEYS <= r.keys()
    assert (r["family"], r["variant"]) == (f"program-{fixture}", "program")
    assert r["verdict"] == verdict, r["reason"]
    if signal:
        assert r["signal"] == signal
    assert set(r["signals"]) >= {"heap_bytes", "goroutines", "outside_go_bytes", "rss_bytes"}


@pytest.mark.slow
def test_a_family_prints_a_table_with_units_into_a_relative_folder(leaklab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = leaklab("run", "goroutine", "--variant", "leaky", "--duration", 3, "--out", "runs/today")
    assert status == 0, err
    assert "goroutine" in out and "leak" in out and "goroutines/s" in out
    assert (tmp_path / "runs" / "today" / "goroutine" / "leaky" / "result.json").is_file()


@pytest.mark.parametrize("argv, message", [
    (["run", "nosuchfamily"], "no family called 'nosuchfamily'"),
    (["run", "syncmap", "--variant", "patched"], "no variant 'patched'"),
    (["run", "syncmap", "--program", "."], "not both"),
    (["run"], "not both and not neither"),
    (["run", "syncmap", "--duration", "4", "--warmup", "5"], "must be shorter than --duration"),
    (["run", "--program", "/nonexistent"], "is not a folder"),
])
def test_bad_input_is_explained(leaklab, argv, message):
    status, _, err = leaklab(*argv)
    assert status == 2
    assert message in " ".join(err.split())


@pytest.mark.parametrize("value", ["-1", "abc", "0", "nan"])
def test_bad_numbers_are_refused_by_the_parser(leaklab, value):
    with pytest.raises(SystemExit) as exit_:
        leaklab("run", "syncmap", "--duration", value)
    assert exit_.value.code == 2


@pytest.mark.slow
def test_a_compile_error_shows_the_compiler(leaklab, tmp_path):
    status, _, err = leaklab("run", "--program", FIXTURES / "compile_error", "--out", tmp_path)
    assert status == 2
    assert "undefined: undefinedThing" in err


def test_the_cli_defaults_it_keeps_to_start_fast_are_those_of_their_modules():
    from leaklab import cli, matrix, report
    assert cli._MATRIX_VERSIONS == matrix.DEFAULT_VERSIONS and cli._MATRIX_GODEBUG == matrix.DEFAULT_GODEBUG
    assert cli._DEFAULT_REPORT == report.DEFAULT_REPORT


def test_listing_the_families_imports_neither_scipy_nor_matplotlib():
    code = ("import sys; from leaklab.cli import main; main(['list']); "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'nbconvert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().endswith("[]"), out
