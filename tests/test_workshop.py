"""Workshop mode (slides and handout that open offline) and the exercise notebooks."""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from leaklab import check as chk
from leaklab import workshop
from leaklab.errors import BadParameter, LeakLabError
from leaklab.run import Limits

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_GO = Path(__file__).parent / "fixtures" / "solutions"
NOTEBOOKS = sorted(workshop.solutions_dir().glob("*.ipynb"))
LIMITS = Limits(duration_s=10.0, warmup_s=1.0, interval_s=0.05)  # runs stop once certain


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
    assert [c.cell_type for c in exercise.cells if "exercise" in _tags(c)] == [c.cell_type for c in answers]
    assert "parameters" in _tags(exercise.cells[1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_exercise_is_titled_as_one_and_has_an_answer_cell_per_question(path):
    exercise = nbformat.read(workshop.exercises_dir() / path.name, as_version=4)
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
    exercise = nbformat.read(workshop.exercises_dir() / path.name, as_version=4)
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


# --- the labs pages ---------------------------------------------------------------------------------------------

# One page per family; 06-your-program.md (leaklab run --program) belongs to no family and quotes no claims.
PAGES = sorted(p for p in workshop.labs_dir().glob("[0-9][0-9]-*.md") if p.stem != "06-your-program")


def test_the_claims_on_the_pages_are_the_ones_the_lab_measured():
    made = workshop.pages_with_claims()
    assert set(PAGES) <= set(made) and len(PAGES) == len(workshop.families())
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
    with pytest.raises(LeakLabError, match="leaklab claims"):
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
    with pytest.raises(BadParameter, match="HH:MM"):
        workshop.run_workshop(tmp_path, start=start, names=["cgo"])
    code, _, err = leaklab("workshop", "--start", start, "--family", "cgo", "--out", tmp_path)
    assert code == 2 and "--start" in err and not ran and not list(tmp_path.iterdir())


def test_reveal_js_is_installed_locally():
    folder = workshop.reveal_dir()
    assert (folder / "dist" / "reveal.css").is_file() and (folder / "plugin" / "notes" / "notes.js").is_file()


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(LeakLabError, match="leaklab workshop"):
        workshop.load_results(tmp_path)


# --- slides and progress, without running programs --------------------------------------------------------------

def _executed_deck():
    """The workshop notebook as papermill leaves it: its parameters, papermill's injected cell, no output yet."""
    nb = nbformat.read(workshop.labs_dir() / "workshop" / "workshop.ipynb", as_version=4)
    injected = nbformat.v4.new_code_cell('runs_dir = "x"\nstart = "10:00"', metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(1, injected)
    for cell in nb.cells:
        if cell.cell_type == "code" and "workshop." in cell.source and "load_results" not in cell.source:
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<table class='verdicts'>"
                                                                             "<tr><td>cell</td></tr></table>"})]
    return nb


def _sections(html):
    """The top-level slides of a reveal deck, as their HTML."""
    body = html[html.index('<div class="slides">'):]
    return re.findall(r"<section>\s*<section>(.*?)</section>\s*</section>", body, re.S)


@pytest.mark.timeout(60)
def test_the_deck_opens_on_its_title_and_has_no_empty_slide(tmp_path):
    notebook = tmp_path / "workshop.ipynb"
    nbformat.write(_executed_deck(), notebook)
    html = workshop.render_slides(notebook, tmp_path / "slides.html").read_text()
    slides = _sections(html)
    assert len(slides) >= 10
    assert re.search(r"<h1[^>]*>Go Leak Lab", slides[0]), slides[0][:500]
    for i, slide in enumerate(slides):
        text = re.sub(r"<[^>]+>", "", slide).strip()
        assert text or "<img" in slide, f"slide {i + 1} is empty"
    assert "runs_dir" not in html and 'slideNumber: "c/t"' in html


@pytest.mark.timeout(60)
def test_slide_tables_are_left_aligned_and_readable_in_the_lab_colours(tmp_path):
    notebook = tmp_path / "workshop.ipynb"
    nbformat.write(_executed_deck(), notebook)
    html = workshop.render_slides(notebook, tmp_path / "slides.html").read_text()
    css = html[html.rindex("<style"):]
    assert re.search(r"\.reveal table th, \.reveal table td,[^{]*\{\s*text-align: left !important", css)
    assert re.search(r"\.reveal table \{ font-size: (2[0-9]|3[0-9])px", css)
    assert re.search(r"\.reveal pre,[^{]*\{[^}]*font-size: 2[4-9]px", css)
    assert f"td.leak {{ color: {workshop.COLOURS['leaky']}" in css and f"td.flat {{ color: {workshop.COLOURS['fixed']}" in css
    assert "#b30000" not in html and "#006400" not in html  # no red/green


def test_your_turn_works_on_a_copy_as_labs_readme_says():
    nb = nbformat.read(workshop.labs_dir() / "workshop" / "workshop.ipynb", as_version=4)
    turn = next(c.source for c in nb.cells if c.source.startswith("## Your turn"))
    readme = (workshop.labs_dir() / "README.md").read_text()
    copy = "cp -r labs/exercises/syncmap my-fixes/"
    check = "leaklab check syncmap --path my-fixes/syncmap"
    assert copy in turn and check in turn and copy in readme and check in readme
    assert "$EDITOR labs/exercises" not in turn and "$EDITOR my-fixes/syncmap/main.go" in turn
    for c in nb.cells:
        if "Exercise:" in c.source:
            assert "--path my-fixes/" in c.source, c.source


@pytest.mark.timeout(30)
def test_the_workshop_shows_its_progress_and_checks_its_arguments_first(leaklab, tmp_path, monkeypatch):
    calls = []

    def fake(out, *, limits, names, start, progress, step):
        calls.append(names)
        for name in names:
            step(f"building and running {name}")
            for variant in ("leaky", "fixed"):
                progress(f"{name}/{variant}", 1.0, 10 * 2**20)
        for what in ("drawing the figures", "executing the deck (labs/workshop/workshop.ipynb)",
                     "rendering the slides and the handout"):
            step(what)
        return {"slides.html": out / "slides.html", "handout.html": out / "handout.html"}

    monkeypatch.setattr(workshop, "run_workshop", fake)
    code, out, err = leaklab("workshop", "--family", "cgo", "--out", tmp_path, "--duration", "4")
    assert code == 0 and calls == [["cgo"]]
    lines = [line for line in err.splitlines() if line.startswith("leaklab workshop:")]
    assert lines[0].startswith("leaklab workshop: 2 runs of up to 4 s")
    assert "running cgo/leaky (1 of 2)" in lines[1] and "running cgo/fixed (2 of 2)" in lines[2]
    assert [line.split(": ", 1)[1] for line in lines[3:6]] == ["drawing the figures",
                                                                "executing the deck (labs/workshop/workshop.ipynb)",
                                                                "rendering the slides and the handout"]
    assert "ready in" in lines[-1] and f"slides.html: {tmp_path / 'slides.html'}" in out
    calls.clear()
    code, out, err = leaklab("workshop", "--family", "cgoo", "--out", tmp_path)
    assert code == 2 and "cgoo" in err and not calls and "leaklab workshop:" not in err


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


@pytest.mark.slow
def test_the_handout_has_a_cheat_sheet_page_in_the_lab_colours(deck):
    _, made = deck
    page = made["handout.html"].read_text()
    sheet = page[page.index('<section class="cheat">'):]
    assert "page-break-before:always" in page and "break-before:page" in page
    for family, _, _, _, _ in workshop.CHEAT_SHEET:
        assert f"<b>{family}</b>" in sheet
    assert "AddCleanup" in sheet and "C.free" in sheet and "t.Stop()" in sheet
    for command, _ in workshop.COMMANDS:
        assert f"<code>{command.replace('&', '&amp;')}</code>" in sheet
    assert "inconclusive" in sheet and "live heap" in sheet
    assert workshop.COLOURS["leaky"] in page and workshop.COLOURS["fixed"] in page
    assert "#b30000" not in page and "#006400" not in page
    assert "labs/exercises/FAMILY/main.go" not in page, "the handout says to work on a copy"


@pytest.mark.slow
def test_the_real_deck_opens_on_its_title(deck):
    _, made = deck
    slides = _sections(made["slides.html"].read_text())
    assert re.search(r"<h1[^>]*>Go Leak Lab", slides[0])
    assert all(re.sub(r"<[^>]+>", "", s).strip() or "<img" in s for s in slides)


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
    jobs.append((workshop.exercises_dir() / NOTEBOOKS[0].name, tmp_path / f"exercise-{NOTEBOOKS[0].name}"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda job: _execute(*job, params | {"workdir": tmp_path / job[1].stem}), jobs))
    for nb in done[:-1]:
        reports = [t for t in _texts(nb) if "leaklab check" in t]
        assert "NOT YET - still leaking" in reports[0] and "PASS - fixed" in reports[-1], reports
    untouched = [t for t in _texts(done[-1]) if "leaklab check" in t]
    assert all("NOT YET" in t for t in untouched) and len(untouched) == 2
