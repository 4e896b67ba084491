"""The leaklab command: tables, JSON, programs it has never seen, and bad input."""

import json
import subprocess
import sys
import time

import pytest

from leaklab import load
from leaklab.toolchain import find_go

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


def test_an_error_is_one_line_in_a_log_however_long(leaklab):
    # not a terminal (a CI log, a pipe): nothing to wrap for, so a reason stays one line a grep finds whole
    status, _, err = leaklab("run", "--program", "/nonexistent/" + "deep/" * 30 + "program")
    assert status == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("leaklab: error:") and line.endswith("is not a folder"), line


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
    from leaklab import godebug, matrix, report, workshop
    from leaklab.cli import classroom, measure, runs
    assert measure._MATRIX_VERSIONS == matrix.DEFAULT_VERSIONS and measure._MATRIX_GODEBUG == godebug.DEFAULT_GODEBUG
    assert runs._DEFAULT_REPORT == report.DEFAULT_REPORT
    ws = classroom._WORKSHOP_RUNS
    assert (ws["duration"], ws["warmup"], ws["interval"]) == (
        workshop.WORKSHOP_LIMITS.duration_s, workshop.WORKSHOP_LIMITS.warmup_s, workshop.WORKSHOP_LIMITS.interval_s)


def test_listing_the_families_imports_neither_scipy_nor_matplotlib():
    code = ("import sys; from leaklab.cli import main; main(['list']); "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'nbconvert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().endswith("[]"), out


# --- your own program: arguments, environment, load, a CI gate ----------------------------------------------

SERVICE = FIXTURES.parent.parent / "go-cases" / "06-service" / "leaky"
ADDR = ["--", "-addr", "127.0.0.1:{port}"]


@pytest.mark.parametrize("argv, message", [
    (["--load", "http://example.com/items", *ADDR], "only to this machine's loopback"),
    (["--load", "http://192.168.1.10:{port}/", *ADDR], "'192.168.1.10' in 'http://192.168.1.10:{port}/' is not one"),
    (["--load", "http://127.0.0.1:{port}/items"], "the program is not told which port that is"),
    (["--load", "http://127.0.0.1:{port}/items", "--", "-addr", "127.0.0.1:8080"], "not told which port"),
    (["--rate", "100", *ADDR], "--rate is the pace of --load"),
    (["--load", "http://127.0.0.1:8080/", "--rate", "0"], "--rate must be a whole number"),
    (["--cwd", "/nonexistent", *ADDR], "--cwd must be a folder; /nonexistent is not one"),
    (["--test", "TestX", "--load", "http://127.0.0.1:8080/"], "--test and --load do not go together"),
])
def test_bad_program_options_are_explained_before_anything_runs(leaklab, tmp_path, argv, message):
    status, out, err = leaklab("run", "--program", SERVICE, "--out", tmp_path, *argv)
    assert status == 2 and out == ""
    assert message in " ".join(err.split())
    assert not list(tmp_path.iterdir()), "nothing was built or run"


@pytest.mark.parametrize("argv, message", [
    (["run", "syncmap", "--load", "http://127.0.0.1:8080/"], "--load: only for --program DIR"),
    (["run", "syncmap", "--", "-v"], "arguments after --: only for --program DIR"),
    (["run", "syncmap", "--test", "TestX"], "--test: only for --program DIR"),
    (["list", "--", "-v"], "arguments after -- are for `leaklab run --program DIR`"),
])
def test_program_options_are_refused_elsewhere(leaklab, argv, message):
    status, _, err = leaklab(*argv)
    assert status == 2
    assert message in " ".join(err.split())


@pytest.mark.parametrize("value", ["NOEQUALS", "=x", "1X=y", "A-B=c"])
def test_an_env_that_is_not_key_equals_value_is_refused_by_the_parser(leaklab, value):
    with pytest.raises(SystemExit) as exit_:
        leaklab("run", "--program", ".", "--env", value)
    assert exit_.value.code == 2


def _run_loaded(leaklab, tmp_path, program, url, *argv, within=20):
    # The load driver is built once per toolchain and cached; its first build fetches and compiles vegeta
    # (35 s in a fresh container on two busy cores), which the deadline below is not about.
    load.driver(find_go())
    began = time.monotonic()
    got = leaklab("run", "--program", program, "--duration", 6, "--out", tmp_path, "--load", url, *argv)
    assert time.monotonic() - began < within
    return got


@pytest.mark.slow
def test_a_server_that_never_answers_is_explained(leaklab, tmp_path):
    # It listens on the port it is given; the load goes to another one, where nobody does.
    status, _, err = _run_loaded(leaklab, tmp_path, SERVICE, "http://127.0.0.1:1/items", *ADDR)
    assert status == 2
    assert "never answered http://127.0.0.1:1/items in the 2.5 s the lab waited" in " ".join(err.split())
    assert (tmp_path / "program-leaky" / "program.failed" / "load.jsonl").is_file()


@pytest.mark.slow
def test_a_program_that_exits_under_load_is_explained_with_its_last_words(leaklab, tmp_path):
    status, _, err = _run_loaded(leaklab, tmp_path, FIXTURES / "quits_under_load", "http://127.0.0.1:{port}/", *ADDR)
    assert status == 2
    text = " ".join(err.split())
    assert "exited with status 1" in text and "while under load" in text and "giving up after 100 requests" in text


@pytest.mark.slow
def test_a_url_that_only_fails_is_explained(leaklab, tmp_path):
    status, _, err = _run_loaded(leaklab, tmp_path, SERVICE, "http://127.0.0.1:{port}/no-such-page", *ADDR)
    assert status == 2
    assert "every request failed" in " ".join(err.split()) and "404 Not Found" in err


@pytest.mark.slow
def test_a_service_with_a_config_file_an_environment_variable_and_a_port_is_started_loaded_and_judged(
        leaklab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # -config service.json is found in the program's folder, not where leaklab runs
    monkeypatch.delenv("GREETING", raising=False)
    status, out, err = _run_loaded(leaklab, tmp_path, FIXTURES / "configured_service",
                                   "http://127.0.0.1:{port}/greet", "--env", "GREETING=hello", "--json", "--expect",
                                   "leak", "--", "-config", "service.json", "-addr", "127.0.0.1:{port}")
    assert status == 0, err
    (r,) = out["results"]
    assert r["verdict"] == "leak" and r["signal"] == "heap_bytes" and "per request" in r["reason"], r["reason"]
    assert r["load"]["answered"] > 100 and r["load"]["failed"] == 0
    meta = json.loads((tmp_path / "program-configured_service" / "program" / "meta.json").read_text())
    port = meta["program"]["port"]
    assert meta["program"]["args"] == ["-config", "service.json", "-addr", f"127.0.0.1:{port}"]
    assert meta["program"]["cwd"] == str((FIXTURES / "configured_service").resolve())
    assert meta["program"]["env"] == ["GREETING"] and meta["program"]["load"]["urls"] == [
        f"http://127.0.0.1:{port}/greet"]


def test_matrix_all_or_a_family_without_a_variant_runs_the_families():
    from leaklab.cli.measure import versions_mode
    assert versions_mode("all", "classic")
    assert versions_mode("syncmap", "classic")  # the parser's old default
    assert versions_mode("timer", None)
    assert not versions_mode("timer", "classic")
    assert not versions_mode("syncmap", "nope")
