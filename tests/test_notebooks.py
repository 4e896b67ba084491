import json
import os
import re
from unittest import mock

import nbformat
import pytest

from leaklab import notebook_exec, notebook_worker_main, notebooks, records
from leaklab.cases import families

NOTEBOOKS = sorted(notebook_exec.notebooks_dir().glob("*.ipynb"))


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# --- the notebooks as committed ---------------------------------------------------------------------------

def test_one_notebook_per_family_and_an_overview_that_runs_last():
    names = [p.name for p in notebook_exec.notebook_paths()]
    assert names[-1] == "00-overview.ipynb"
    # besides the families, the example service (go-cases/06-service, not a family: it needs load) has a page
    assert sorted(names[:-1]) == sorted([f"{f.dir.name}.ipynb" for f in families()] + ["06-service.ipynb"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == notebook_worker_main.KERNEL
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


# --- executing every notebook for real -------------------------------------------------------------------

@pytest.mark.slow
def test_every_notebook_ran_and_its_record_matches_expect_toml(executed_lab):
    out, executed = executed_lab
    assert [p.name for p in executed] == [p.name for p in notebook_exec.notebook_paths()]
    assert records.check_records(out) == []


@pytest.mark.slow
def test_records_hold_start_and_end_of_every_signal_and_the_pngs_exist(executed_lab):
    out, _ = executed_lab
    for fam in families():
        rec = json.loads((out / fam.name / records.RECORD).read_text())
        assert rec["go_version"].startswith("go") and rec["parameters"]["duration_s"] == 20.0
        for variant in ("leaky", "fixed"):
            signals = rec["variants"][variant]["signals"]
            assert {"heap_bytes", "goroutines", "rss_bytes"} <= signals.keys()
            assert all(s["start"] is not None and s["end"] is not None for s in signals.values())
        png = out / fam.name / f"{fam.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    overview = json.loads((out / "overview.json").read_text())
    assert list(overview) == [f.name for f in families()]
    assert (out / "overview.png").stat().st_size > 20_000


def test_overview_reuses_the_runs_the_family_notebooks_left(tmp_path):
    from leaklab.lab import Result
    for fam in families():
        for variant in records.DEFAULT_VARIANTS:
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

@pytest.mark.slow
def test_a_notebook_run_by_hand_shows_the_running_program_and_keeps_its_last_picture(tmp_path):
    # Papermill run directly (not by leaklab report, which sets LEAKLAB_BATCH): the live figure is shown and
    # updated while the programs run, and the executed notebook keeps its last state.
    import papermill
    env = {k: v for k, v in os.environ.items() if k != "LEAKLAB_BATCH"}
    out = tmp_path / "timer.ipynb"
    with mock.patch.dict(os.environ, env, clear=True):
        papermill.execute_notebook(str(notebook_exec.notebooks_dir() / "02-timer.ipynb"), str(out), kernel_name="leaklab",
                                   parameters={"out": str(tmp_path / "runs"), "duration": 6.0},
                                   cwd=str(notebook_exec.notebooks_dir()), progress_bar=False, execution_timeout=240)
    cell = next(c for c in nbformat.read(out, as_version=4).cells if "run_and_record" in c.source)
    pictures = [o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(pictures) == 1, "one live picture, updated in place"
