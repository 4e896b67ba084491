"""Workshop mode: slides and a handout that open offline, its progress, and a start time checked first."""

import re
from pathlib import Path

import nbformat
import pytest

from leaklab import labs_pages, workshop
from leaklab.errors import BadParameter
from leaklab.run import Limits

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_GO = Path(__file__).parent / "fixtures" / "solutions"
LIMITS = Limits(duration_s=10.0, warmup_s=1.0, interval_s=0.05)  # runs stop once certain


# --- agenda and offline assets ---------------------------------------------------------------------------------

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


# --- slides and progress, without running programs --------------------------------------------------------------

def _executed_deck():
    """The workshop notebook as papermill leaves it: its parameters, papermill's injected cell, no output yet."""
    nb = nbformat.read(labs_pages.labs_dir() / "workshop" / "workshop.ipynb", as_version=4)
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


