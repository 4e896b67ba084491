"""The exercise notebooks: made from the solution notebooks, questions kept and answers dropped; each solution
runs and ends fixed, and the deck's "your turn" works on a copy as labs/README.md says."""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from leaklab import check as chk
from leaklab import exercises, labs_pages
from leaklab.cases import families
from leaklab.run import Limits

SOLUTION_GO = Path(__file__).parent / "fixtures" / "solutions"
NOTEBOOKS = sorted(exercises.solutions_dir().glob("*.ipynb"))
LIMITS = Limits(duration_s=20.0, warmup_s=1.0, interval_s=0.05)  # a maximum: runs stop once certain


def _tags(cell):
    return cell.metadata.get("tags", [])


def test_there_is_a_solution_notebook_per_family():
    assert [p.name.split("-", 1)[1].removesuffix(".ipynb") for p in NOTEBOOKS] == \
        [f.name for f in families()]


def test_the_committed_exercises_are_what_the_generator_makes(tmp_path):
    made = exercises.prepare_exercises(exercises.solutions_dir(), tmp_path)
    assert [p.name for p in made] == [p.name for p in NOTEBOOKS]
    for path in made:
        committed = exercises.exercises_dir() / path.name
        assert committed.read_text() == path.read_text(), f"run `make exercises` and commit {committed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_exercise_keeps_the_questions_and_drops_the_answers(path):
    solution = nbformat.read(path, as_version=4)
    exercise = nbformat.read(exercises.exercises_dir() / path.name, as_version=4)
    answers = [c for c in solution.cells if "solution" in _tags(c)]
    assert any(c.cell_type == "markdown" for c in answers) and any(c.cell_type == "code" for c in answers)
    text = "\n".join(c.source for c in exercise.cells)
    assert all(c.source not in text for c in answers)
    assert not any("solution" in _tags(c) for c in exercise.cells)
    assert [c.cell_type for c in exercise.cells if "exercise" in _tags(c)] == [c.cell_type for c in answers]
    assert "parameters" in _tags(exercise.cells[1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_exercise_is_titled_as_one_and_has_an_answer_cell_per_question(path):
    exercise = nbformat.read(exercises.exercises_dir() / path.name, as_version=4)
    title, heading = exercise.metadata.title, exercise.cells[0].source.splitlines()[0]
    assert title.startswith("Exercise") and heading.startswith("# Exercise")
    assert "solution" not in title.lower() and "solution" not in heading.lower()
    cells = exercise.cells
    questions = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "Question." in c.source]
    assert questions
    for i in questions:
        answer = cells[i + 1]
        assert answer.cell_type == "markdown" and "exercise" in _tags(answer) and "Your answer" in answer.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_exercise_has_no_placeholders_and_shows_the_go_code_as_go(path):
    exercise = nbformat.read(exercises.exercises_dir() / path.name, as_version=4)
    prose = [c.source for c in exercise.cells if c.cell_type == "markdown" or "exercise" in _tags(c)]
    assert not [t for t in prose if re.search(r"\{\w*\}", t)], "no {placeholder} a learner would read literally"
    assert any("check.show(mine)" in c.source for c in exercise.cells if c.cell_type == "code")
    family = path.stem.split("-", 1)[1]
    folder = chk.starter(family)
    shown = chk.show(folder)._repr_markdown_()
    assert f"```go\n{(folder / 'main.go').read_text().rstrip()}\n```" in shown
    assert f"%%writefile {folder / 'main.go'}" in shown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_solution_is_the_hidden_solution(path):
    family = path.stem.split("-", 1)[1]
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.source.startswith("%%writefile"))
    body = cell.source.split("\n", 1)[1]
    assert body.strip() == (SOLUTION_GO / family / "main.go").read_text().strip()


def test_your_turn_works_on_a_copy_as_labs_readme_says():
    nb = nbformat.read(labs_pages.labs_dir() / "workshop" / "workshop.ipynb", as_version=4)
    turn = next(c.source for c in nb.cells if c.source.startswith("## Your turn"))
    readme = (labs_pages.labs_dir() / "README.md").read_text()
    copy = "cp -r labs/exercises/syncmap my-fixes/"
    check = "leaklab check syncmap --path my-fixes/syncmap"
    assert copy in turn and check in turn and copy in readme and check in readme
    assert "$EDITOR labs/exercises" not in turn and "$EDITOR my-fixes/syncmap/main.go" in turn
    for c in nb.cells:
        if "Exercise:" in c.source:
            assert "--path my-fixes/" in c.source, c.source


_EXECUTE = """
import json, sys
from pathlib import Path
from leaklab.notebook_exec import execute
execute(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), timeout=240)
"""


def _execute(notebook: Path, out: Path, params: dict) -> nbformat.NotebookNode:
    """Execute a notebook with leaklab.notebook_exec.execute, in a process of its own.

    Several run at once (each kernel has its own socket folder); a process each keeps the kernel
    clients' sockets, which jupyter_client leaves to the garbage collector, out of the test process.
    """
    args = [sys.executable, "-c", _EXECUTE, str(notebook), str(out), json.dumps(params, default=str)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return nbformat.read(out, as_version=4)


def _texts(nb):
    return [o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.slow
def test_every_solution_notebook_runs_and_ends_fixed(tmp_path):
    params = {"duration": LIMITS.duration_s, "warmup": LIMITS.warmup_s, "workdir": tmp_path / "fixes"}
    jobs = [(p, tmp_path / p.name) for p in NOTEBOOKS]
    jobs.append((exercises.exercises_dir() / NOTEBOOKS[0].name, tmp_path / f"exercise-{NOTEBOOKS[0].name}"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda job: _execute(*job, params | {"workdir": tmp_path / job[1].stem}), jobs))
    for nb in done[:-1]:
        reports = [t for t in _texts(nb) if "leaklab check" in t]
        assert "NOT YET - still leaking" in reports[0] and "PASS - fixed" in reports[-1], reports
    untouched = [t for t in _texts(done[-1]) if "leaklab check" in t]
    assert all("NOT YET" in t for t in untouched) and len(untouched) == 2
