"""Every family, both ways, on real runs: the leaky variant is flagged and the fixed one cleared."""

import json
import time
from pathlib import Path

import pytest

from leaklab import Limits, families, load_result, run_family, run_program

FIXTURES = Path(__file__).parent / "fixtures"

LIMITS = Limits(duration_s=10, interval_s=0.05, warmup_s=1)  # a maximum: runs stop once certain


@pytest.fixture(scope="module")
def results(tmp_path_factory, go):
    out = tmp_path_factory.mktemp("lab")
    # Side by side, as a notebook in a batch run has them: both ways at once must still be told apart.
    return {(r.family, r.variant): r for f in families()
            for r in run_family(f, limits=LIMITS, out=out, go=go, side_by_side=True)}


@pytest.mark.slow
@pytest.mark.parametrize("family", [f.name for f in families()])
@pytest.mark.parametrize("variant", ["leaky", "fixed"])
def test_verdict_rate_and_work_match_the_expectation(results, family, variant):
    fam = next(f for f in families() if f.name == family)
    r = results[(family, variant)]
    exp = fam.expect[variant]
    assert (r.verdict, r.signal) == (exp.verdict, fam.signal), r.reason
    lo, hi = exp.rate
    assert lo <= r.rate_per_s <= hi, f"{family}/{variant}: {r.rate_per_s:,.0f} {r.unit}/s outside [{lo:g}, {hi:g}]"
    assert r.work_rate_per_s >= 0.7 * fam.work_rate, "the program did less work than it promises"
    assert not r.capped


@pytest.mark.slow
def test_a_run_folder_carries_its_provenance(results):
    r = results[("cgo", "leaky")]
    assert load_result(r.run_dir) == r
    meta = json.loads((Path(r.run_dir) / "meta.json").read_text())
    assert meta["go_version"].startswith("go1.") and meta["date"].startswith("20")
    assert meta["cgo_enabled"] == "1"
    assert {"godebug", "goexperiment", "parameters", "build_settings"} <= meta.keys()
    assert meta["parameters"]["duration_s"] == LIMITS.duration_s


@pytest.mark.slow
def test_variants_run_side_by_side_come_back_in_order_each_in_its_own_folder(results):
    for f in families():
        leaky, fixed = results[(f.name, "leaky")], results[(f.name, "fixed")]
        assert Path(leaky.run_dir).name == "leaky" and Path(fixed.run_dir).name == "fixed"
        assert leaky.run_dir != fixed.run_dir


@pytest.mark.slow
def test_the_next_run_removes_the_folder_a_run_killed_outright_left(tmp_path):
    import subprocess
    import sys

    import psutil

    from leaklab.stopping import wait_ended
    cli = subprocess.Popen([sys.executable, "-m", "leaklab.cli", "run", "--program", str(FIXTURES / "heap_leak"),
                            "--duration", "60", "--out", str(tmp_path)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (left := list(tmp_path.glob("program-heap_leak/.program.partial-*/samples.jsonl"))):
        assert cli.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.02)
    family = psutil.Process(cli.pid).children(recursive=True)
    cli.kill()  # SIGKILL: no finally runs, the hidden folder stays
    cli.wait()
    assert not wait_ended(family, within=5), "the program outlived leaklab"
    assert left[0].parent.is_dir()
    run_program(FIXTURES / "heap_leak", limits=Limits(duration_s=3, warmup_s=1), out=tmp_path)
    assert not left[0].parent.exists() and not list(tmp_path.glob("program-heap_leak/.*.partial-*"))
