"""Workshop mode (slides and handout that open offline) and the exercise notebooks."""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from leaklab import workshop
from leaklab.run import Limits

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_GO = Path(__file__).parent / "fixtures" / "solutions"
NOTEBOOKS = sorted(workshop.solutions_dir().glob("*.ipynb"))
LIMITS = Limits(duration_s=3.5, warmup_s=1.0, interval_s=0.05)


def _tags(cell):
    return cell.metadata.get("tags", [])


# --- exercise notebooks --------------------------------------------------------------------------------------

def test_there_is_a_solution_notebook_per_family():
    assert [p.name.split("-", 1)[1].removesuffix(".ipynb") for p in NOTEBOOKS] == \
        [f.name for f in workshop.families()]


def test_the_committed_exercises_are_what_the_generator_makes(tmp_path):
    made = workshop.prepare_exercises(workshop.solutions_dir(), tmp_path)
    assert [p.name for p in made] == [p.name for p in NOTEBOOKS]
    for path in made:
        committed = workshop.exercises_dir() / path.name
        assert committed.read_text() == path.read_text(), f"run `make exercises` and commit {committed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_exercise_keeps_the_questions_and_drops_the_answers(path):
    solution = nbformat.read(path, as_version=4)
    exercise = nbformat.read(workshop.exercises_dir() / path.name, as_version=4)
    answers = [c for c in solution.cells if "solution" in _tags(c)]
    assert any(c.cell_type == "markdown" for c in answers) and any(c.cell_type == "code" for c in answers)
    text = "\n".join(c.source for c in exercise.cells)
    assert all(c.source not in text for c in answers)
    assert not any("solution" in _tags(c) for c in exercise.cells)
    assert sum("exercise" in _tags(c) for c in exercise.cells) == sum(c.cell_type == "code" for c in answers)
    assert "(exercise)" in exercise.metadata.title and "parameters" in _tags(exercise.cells[1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_solution_is_the_hidden_solution(path):
    family = path.stem.split("-", 1)[1]
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.source.startswith("%%writefile"))
    body = cell.source.split("\n", 1)[1]
    assert body.strip() == (SOLUTION_GO / family / "main.go").read_text().strip()


# --- the labs pages ---------------------------------------------------------------------------------------------

PAGES = sorted(workshop.labs_dir().glob("[0-9][0-9]-*.md"))


def test_the_claims_on_the_pages_are_the_ones_the_lab_measured():
    made = workshop.pages_with_claims()
    assert sorted(made) == PAGES and len(PAGES) == len(workshop.families())
    for page, text in made.items():
        assert page.read_text() == text, f"{page.name}: run `make labs-claims` and commit it (docs/claims.json changed)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_page_quotes_only_what_this_lab_measures(page):
    text = page.read_text()
    assert re.search(r"<!-- claims: [\w -]+ -->\n\| the article claims", text), "a generated claims table"
    assert "FINDINGS" not in text and "../shared/" not in text
    caption = re.search(r"^\*Measured by the lab with (go1\.\d+\.\d+)", text, re.M)
    assert caption, "the measured picture says which Go made it"
    assert caption[1] in (workshop.labs_dir() / "img" / "captions.md").read_text()


def test_a_claim_the_lab_did_not_measure_is_a_clear_error(tmp_path):
    page = tmp_path / "01-x.md"
    page.write_text("<!-- claims: no-such-claim -->\n<!-- /claims -->\n")
    with pytest.raises(workshop.LeakLabError, match="leaklab claims"):
        workshop.pages_with_claims(pages=[page])


def test_updating_fills_the_block_and_keeps_the_prose(tmp_path):
    from leaklab.claims import load_findings

    finding = load_findings()[0]
    page = tmp_path / "01-x.md"
    page.write_text(f"before\n<!-- claims: {finding.claim_id} -->\nstale row\n<!-- /claims -->\nafter\n")
    assert workshop.update_claims(pages=[page]) == [page]
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("<!-- /claims -->\nafter\n") and "stale row" not in text
    assert finding.measured.replace("|", "\\|") in text and finding.go_version in text
    assert workshop.update_claims(pages=[page]) == []


# --- agenda and offline assets ---------------------------------------------------------------------------------

def test_the_agenda_gives_start_times_and_the_readme_the_same_minutes():
    slots = workshop.agenda("13:30").slots()
    assert slots[0][0] == "13:30" and slots[1][0] == "13:40"
    readme = (workshop.labs_dir() / "README.md").read_text()
    for minutes, topic, _ in workshop.AGENDA:
        if topic in {f.name for f in workshop.families()}:
            assert re.search(rf"\|\s*{minutes} min\s*\|.*{topic}", readme), f"labs/README.md: {topic} {minutes} min"


@pytest.mark.parametrize("start", ["9am", "25:00", "13h30", ""])
def test_a_bad_start_time_is_refused_before_anything_runs(leaklab, tmp_path, monkeypatch, start):
    ran = []
    monkeypatch.setattr(workshop, "run_family", lambda *a, **k: ran.append(a))
    with pytest.raises(workshop.BadParameter, match="HH:MM"):
        workshop.run_workshop(tmp_path, start=start, names=["cgo"])
    code, _, err = leaklab("workshop", "--start", start, "--family", "cgo", "--out", tmp_path)
    assert code == 2 and "--start" in err and not ran and not list(tmp_path.iterdir())


def test_reveal_js_is_installed_locally():
    folder = workshop.reveal_dir()
    assert (folder / "dist" / "reveal.css").is_file() and (folder / "plugin" / "notes" / "notes.js").is_file()


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(workshop.LeakLabError, match="leaklab workshop"):
        workshop.load_results(tmp_path)


# --- real runs ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """A short workshop of one family (cgo), with slides and handout."""
    out = tmp_path_factory.mktemp("workshop")
    return out, workshop.run_workshop(out, limits=LIMITS, names=["cgo"], start="14:00")


@pytest.mark.slow
def test_the_slides_open_from_disk_with_no_network(deck):
    out, made = deck
    html = made["slides.html"].read_text()
    links = [u for u in re.findall(r'(?:src|href)="([^"#][^"]*)"', html) if not u.startswith("data:")]
    assert links and not [u for u in links if "://" in u or u.startswith("//")], links
    for link in links:
        assert (out / link).is_file(), f"slides.html needs {link}"
    assert "Reveal.initialize" in html and "require(" not in html
    assert html.count("data:image/png;base64") >= 1, "the measured figure must be embedded"


@pytest.mark.slow
def test_the_handout_has_the_agenda_and_the_verdicts(deck):
    out, made = deck
    page = made["handout.html"].read_text()
    assert "14:00" in page and "wrap-up" in page
    assert re.search(r"<td>cgo</td><td[^>]*>leaky</td><td class=\"leak\">leak</td>", page)
    assert re.search(r"<td>cgo</td><td[^>]*>fixed</td><td class=\"flat\">flat</td>", page)
    assert "go1." in page and (out / "overview.png").is_file()


_EXECUTE = """
import json, sys
from pathlib import Path
from leaklab.notebooks import execute
execute(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), timeout=240)
"""


def _execute(notebook: Path, out: Path, params: dict) -> nbformat.NotebookNode:
    """Execute a notebook with leaklab.notebooks.execute, in a process of its own.

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
    jobs.append((workshop.exercises_dir() / NOTEBOOKS[0].name, tmp_path / f"exercise-{NOTEBOOKS[0].name}"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda job: _execute(*job, params | {"workdir": tmp_path / job[1].stem}), jobs))
    for nb in done[:-1]:
        reports = [t for t in _texts(nb) if "leaklab check" in t]
        assert "NOT YET - still leaking" in reports[0] and "PASS - fixed" in reports[-1], reports
    untouched = [t for t in _texts(done[-1]) if "leaklab check" in t]
    assert all("NOT YET" in t for t in untouched) and len(untouched) == 2
