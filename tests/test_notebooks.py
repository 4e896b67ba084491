import json
import os
import re
import shutil
import subprocess
import sys
from unittest import mock

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from leaklab import BadParameter, notebooks
from leaklab.cases import cases_dir, families, get_family
from leaklab.errors import KernelMissing, NotebookFailed
from leaklab.stopping import wait_ended

NOTEBOOKS = sorted(notebooks.notebooks_dir().glob("*.ipynb"))


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# --- the notebooks as committed ---------------------------------------------------------------------------

def test_one_notebook_per_family_and_an_overview_that_runs_last():
    names = [p.name for p in notebooks.notebook_paths()]
    assert names[-1] == "00-overview.ipynb"
    assert sorted(names[:-1]) == sorted(f"{f.dir.name}.ipynb" for f in families())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == notebooks.KERNEL
    for cell in _code(nb):
        assert cell.outputs == [], f"{path.name}: a cell was committed with outputs"
        assert cell.execution_count is None, f"{path.name}: a cell was committed with an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin(path):
    nb = nbformat.read(str(path), as_version=4)
    first, *rest = _code(nb)
    assert "parameters" in first.metadata.get("tags", []), "the first code cell must be tagged `parameters`"
    assert {"duration", "interval", "warmup", "out"} <= set(re.findall(r"^(\w+)\s*=", first.source, re.M))
    for cell in rest:
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert 1 <= len(lines) <= 3, f"{path.name}: a code cell of {len(lines)} lines:\n{cell.source}"
        assert not re.search(r"^\s*(def|class|for|while|with|if)\b|lambda", cell.source, re.M), cell.source
        for imp in re.findall(r"^\s*(?:from|import)\s+(\S+)", cell.source, re.M):
            assert imp.split(".")[0] == "leaklab", f"{path.name}: imports {imp}; logic belongs in the leaklab package (harness/leaklab)"


# --- the record and its check (synthetic records: no Go run) ----------------------------------------------

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
    assert notebooks.check_record(rec, fam) == []


def test_a_rate_outside_the_band_names_family_variant_signal_band_and_value():
    fam, rec = _record("syncmap", fixed={"rate_per_s": 9e6})
    (problem,) = notebooks.check_record(rec, fam)
    assert "syncmap/fixed heap_bytes" in problem
    assert "[-3e+06, 3e+06]" in problem and "measured 9e+06" in problem and "+8.58 MiB/s" in problem


def test_a_wrong_verdict_is_reported_with_the_reason():
    fam, rec = _record("goroutine", leaky={"verdict": "flat", "reason": "floor grows 0 goroutines/s"})
    (problem,) = notebooks.check_record(rec, fam)
    assert "goroutine/leaky goroutines: expected verdict 'leak', measured 'flat'" in problem
    assert "floor grows 0" in problem


def test_a_missing_variant_is_reported():
    fam, rec = _record("cgo")
    del rec["variants"]["fixed"]
    assert notebooks.check_record(rec, fam) == ["cgo/fixed: nothing recorded for this variant (expected verdict 'flat')"]


def test_a_capped_leak_is_judged_on_its_verdict_only():
    fam, rec = _record("syncmap", leaky={"capped": True, "rate_per_s": 500e6})
    assert notebooks.check_record(rec, fam) == []
    fam, rec = _record("syncmap", fixed={"capped": True, "rate_per_s": 500e6})
    assert len(notebooks.check_record(rec, fam)) == 1


def test_missing_records_are_reported(tmp_path):
    problems = notebooks.check(tmp_path)
    assert len(problems) == len(families()) + 1
    assert any("00-overview" in p for p in problems)


def test_a_missing_kernel_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "KERNEL", "no-such-kernel-leaklab")
    with pytest.raises(KernelMissing, match="make setup"):
        notebooks.execute(NOTEBOOKS[0], tmp_path / "x.ipynb", {})


# --- executing notebooks for real -------------------------------------------------------------------------

def _tiny_notebook(path, source):
    nb = new_notebook(metadata={"kernelspec": {"name": "leaklab", "display_name": "Go Leak Lab", "language": "python"}})
    params = new_code_cell("out = 'unused'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(source)]
    nbformat.write(nb, str(path))
    return path


_UNTIL_BROKEN = """
import os, time
flag, deadline = os.path.join(os.path.dirname(out), "failing"), time.monotonic() + 60
while not os.path.exists(flag) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_a_notebook_that_raises_fails_with_the_cells_output_while_the_others_finish(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # 01-fine finishes only once 02-broken is failing: it provably runs on after the failure
    _tiny_notebook(folder / "01-fine.ipynb", _UNTIL_BROKEN + "print('finished' if os.path.exists(flag) else 'alone')")
    _tiny_notebook(folder / "02-broken.ipynb", "import os\nopen(os.path.join(os.path.dirname(out), 'failing'), 'w')"
                   ".close()\nprint('half-way there')\nraise ValueError('deliberately broken')")
    _tiny_notebook(folder / "00-overview.ipynb", "print('must not run after a failure')")
    with pytest.raises(NotebookFailed) as failure:
        notebooks.execute_all(tmp_path / "runs", tmp_path / "out", folder=folder, jobs=2, timeout=60)
    message = str(failure.value)
    assert "02-broken.ipynb failed in cell" in message
    assert "half-way there" in message and "ValueError: deliberately broken" in message
    fine = nbformat.read(str(tmp_path / "out" / "01-fine.ipynb"), as_version=4)
    assert fine.cells[-1].outputs[0]["text"] == "finished\n"
    assert not (tmp_path / "out" / "00-overview.ipynb").exists()


_AT_ONCE = """
import sys
from unittest import mock
from pathlib import Path
from leaklab.notebooks import execute
execute(Path(sys.argv[1]), Path(sys.argv[2]), {"out": sys.argv[3]}, timeout=60)
"""


_BOTH_RUNNING = """
import os, time
open(os.path.join("..", out + ".running"), "w").close()
other, deadline = os.path.join("..", {"run0": "run1", "run1": "run0"}[out] + ".running"), time.monotonic() + 60
while not os.path.exists(other) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_two_executions_at_once_both_succeed_and_leave_no_sockets_beside_the_notebook(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # the kernel runs in the notebook's folder; once both run (each waits for the other), it lists what is there
    nb = _tiny_notebook(folder / "slow.ipynb", _BOTH_RUNNING + "print(out, sorted(os.listdir()), os.path.exists(other))")
    runs = [subprocess.Popen([sys.executable, "-c", _AT_ONCE, str(nb), str(tmp_path / f"out{i}.ipynb"), f"run{i}"],
                             cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(2)]
    for i, proc in enumerate(runs):
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, output
        executed = nbformat.read(str(tmp_path / f"out{i}.ipynb"), as_version=4)
        assert executed.cells[-1].outputs[0]["text"].strip() == f"run{i} ['slow.ipynb'] True"
    assert sorted(p.name for p in folder.iterdir()) == ["slow.ipynb"]


@pytest.mark.slow
def test_every_notebook_ran_and_its_record_matches_expect_toml(executed_lab):
    out, executed = executed_lab
    assert [p.name for p in executed] == [p.name for p in notebooks.notebook_paths()]
    assert notebooks.check(out) == []


@pytest.mark.slow
def test_records_hold_start_and_end_of_every_signal_and_the_pngs_exist(executed_lab):
    out, _ = executed_lab
    for fam in families():
        rec = json.loads((out / fam.name / notebooks.RECORD).read_text())
        assert rec["go_version"].startswith("go") and rec["parameters"]["duration_s"] == 10.0
        for variant in ("leaky", "fixed"):
            signals = rec["variants"][variant]["signals"]
            assert {"heap_bytes", "goroutines", "rss_bytes"} <= signals.keys()
            assert all(s["start"] is not None and s["end"] is not None for s in signals.values())
        png = out / fam.name / f"{fam.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    overview = json.loads((out / "overview.json").read_text())
    assert list(overview) == [f.name for f in families()]
    assert (out / "overview.png").stat().st_size > 20_000


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

    problems = notebooks.check(out, cases=cases)
    assert len(problems) == 2, problems
    band, verdict = problems
    measured = json.loads((out / "syncmap" / notebooks.RECORD).read_text())["variants"]["fixed"]["rate_per_s"]
    assert band.startswith("syncmap/fixed heap_bytes: expected rate in [4e+07, 9e+07] B/s")
    assert f"measured {measured:g} B/s" in band
    assert verdict.startswith("cgo/leaky outside_go_bytes: expected verdict 'flat', measured 'leak'")
    assert notebooks.check(out) == []  # the real expectations still hold


def test_overview_reuses_the_runs_the_family_notebooks_left(tmp_path):
    from leaklab.lab import Result
    for fam in families():
        for variant in notebooks.DEFAULT_VARIANTS:
            run_dir = tmp_path / fam.name / variant
            run_dir.mkdir(parents=True)
            result = Result(family=fam.name, variant=variant, verdict="flat", signal=fam.signal, rate_per_s=0.0,
                            unit="B", reason="left by a family notebook", duration_s=3.0, samples=60,
                            go_version="go-from-disk", capped=False, run_dir=str(run_dir))
            (run_dir / "result.json").write_text(json.dumps(result.as_dict()))
    by_family = notebooks.overview(out=tmp_path)
    assert list(by_family) == [f.name for f in families()]
    assert {r.go_version for rs in by_family.values() for r in rs} == {"go-from-disk"}
    assert json.loads((tmp_path / "overview.json").read_text()).keys() == by_family.keys()


# --- what a notebook may be given, and what it leaves ------------------------------------------------------

@pytest.mark.parametrize("name, value", [("warmup", float("nan")), ("duration", float("inf")),
                                         ("interval", float("-inf"))])
def test_a_parameter_that_is_not_a_finite_number_is_refused_by_name_before_anything_runs(tmp_path, name, value):
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = {value!r}"):
        notebooks.execute_all(tmp_path / "runs", tmp_path / "out", **{name: value})
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = "):
        notebooks.execute(NOTEBOOKS[0], tmp_path / "x.ipynb", {"out": "runs", name: value})
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = "):  # papermill -p warmup nan, by hand
        notebooks.run_family("syncmap", out=tmp_path / "runs", **{name: value})
    assert list(tmp_path.iterdir()) == []


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
                                            "end": None, "unit": "B"}}) for v in notebooks.DEFAULT_VARIANTS]
    (tmp_path / "syncmap").mkdir()
    rec = _strict(notebooks.record(results).read_text())
    assert rec["variants"]["leaky"]["rate_per_s"] is None and rec["variants"]["leaky"]["signals"][fam.signal]["start"] is None
    problems = notebooks.check_record(rec, fam)
    assert any("measured no rate" in p for p in problems) and not any("nan" in p for p in problems), problems


_ORPHAN = """
import os, subprocess
child = subprocess.Popen(["sleep", "300"], start_new_session=True)  # a program in a session of its own
open(out, "w").write(str(child.pid))
os._exit(1)  # the kernel dies: its child is nobody's now but the worker's
"""


@pytest.mark.slow
def test_a_kernel_that_dies_leaves_no_program_behind_and_fails_in_one_message(tmp_path, tagged, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = _tiny_notebook(folder / "01-dies.ipynb", _ORPHAN)
    for name, value in tagged.env.items():  # the worker and its kernel inherit the tag and the temporary folder
        monkeypatch.setenv(name, value)
    with pytest.raises(NotebookFailed, match="01-dies.ipynb") as failure:
        notebooks.execute(nb, tmp_path / "out.ipynb", {"out": str(tmp_path / "pid")}, timeout=60)
    assert "Traceback" not in str(failure.value).splitlines()[0]
    try:
        orphan = [psutil.Process(int((tmp_path / "pid").read_text()))]
    except psutil.NoSuchProcess:
        orphan = []  # ended and reaped already
    assert not wait_ended(orphan, within=10), "the program the dead kernel started is still running"
    assert not tagged.left_behind(within=10)
    assert not list(tagged.tmp.iterdir()), "a temporary folder of the lab's was left behind"


@pytest.mark.slow
def test_a_notebook_run_by_hand_shows_the_running_program_and_keeps_its_last_picture(tmp_path):
    # Papermill run directly (not by leaklab report, which sets LEAKLAB_BATCH): the live figure is shown and
    # updated while the programs run, and the executed notebook keeps its last state.
    import papermill
    env = {k: v for k, v in os.environ.items() if k != "LEAKLAB_BATCH"}
    out = tmp_path / "timer.ipynb"
    with mock.patch.dict(os.environ, env, clear=True):
        papermill.execute_notebook(str(notebooks.notebooks_dir() / "02-timer.ipynb"), str(out), kernel_name="leaklab",
                                   parameters={"out": str(tmp_path / "runs"), "duration": 6.0},
                                   cwd=str(notebooks.notebooks_dir()), progress_bar=False, execution_timeout=240)
    cell = next(c for c in nbformat.read(out, as_version=4).cells if "run_family" in c.source)
    pictures = [o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(pictures) == 1, "one live picture, updated in place"
