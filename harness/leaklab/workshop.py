"""Workshop mode for an instructor, and the exercise notebooks for learners.

:func:`run_workshop` runs every family with classroom-length runs, draws each family's figure, executes
``labs/workshop/workshop.ipynb`` on those runs with papermill and exports it as a reveal.js slide deck
that opens from disk with no network: the reveal.js files are copied next to the deck (from the
``sphinx-revealjs`` package, which ships them) and the template in ``labs/workshop/template`` loads
nothing from a CDN. A one-page handout (``handout.html``) carries the agenda and the verdict table.

:func:`prepare_exercises` makes the exercise notebooks from the solution notebooks by emptying the
cells tagged ``solution``, so an exercise is never edited by hand. :func:`update_claims` writes the
claims the lab measured (``docs/claims.json``, made by ``leaklab claims --save``) into the labs pages,
so a page never quotes a number the lab did not measure.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import importlib.util
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from .cases import families, get_family
from .errors import BadParameter, LeakLabError, SlidesUnavailable
from .lab import Result, run_family
from .notebook_exec import execute
from .notebooks import load_results as _family_results
from .paths import content
from .plot import COLOURS, plot_family, plot_overview, save_png
from .probe import SIGNALS
from .run import Limits
from .runfolder import RunFolder

__all__ = ["AGENDA", "CHEAT_SHEET", "COMMANDS", "labs_dir", "WORKSHOP_LIMITS", "Agenda",
           "AFTER_RUNS", "VerdictTable", "agenda", "reading_figure", "load_results", "prepare_exercises", "render_handout",
           "render_slides", "reveal_dir", "run_workshop", "verdict_table", "publish_pictures",
           "parse_start", "claims_block", "pages_with_claims", "update_claims"]

def labs_dir() -> Path:
    """The tutorial: labs/ of the checkout (pages, starters, workshop notebook and template)."""
    return content("labs")


def solutions_dir() -> Path:
    return content("labs", "notebooks", "solutions")


def exercises_dir() -> Path:
    return content("labs", "notebooks", "exercises")

#: Classroom runs: long enough that the curves speak for themselves on a projector.
WORKSHOP_LIMITS = Limits(duration_s=12.0, warmup_s=2.0, interval_s=0.1)

#: (minutes, what): the workshop's plan. labs/README.md gives the same times per family.
AGENDA = [
    (10, "intro", "How the lab measures: the probe, the live heap and the floor, the verdict; `leaklab run syncmap`"),
    (20, "syncmap", "A cache that never forgets: the Go heap climbs; exercise `leaklab check syncmap`"),
    (20, "timer", "A watchdog timer never stopped; what changed for Ticker and time.After in Go 1.23"),
    (25, "goroutine", "A sender nobody listens to: goroutines, not heap; goroutine profiles"),
    (20, "finalizer", "A cycle with finalizers is never freed; runtime.AddCleanup"),
    (20, "cgo", "C memory the Go heap cannot see: watch RSS; defer C.free"),
    (15, "wrap-up", "Detecting leaks in production; what the article gets wrong on modern Go"),
]


# --- results and tables ------------------------------------------------------------------------------------

def load_results(runs_dir: Path | str) -> dict[str, list[Result]]:
    """The results under ``runs_dir/<family>/{leaky,fixed}``, family by family, in the lab's order.

    A family is included when both its runs are there (:func:`leaklab.notebooks.load_results`).
    """
    found = {fam.name: rs for fam in families() if (rs := _family_results(runs_dir, fam.name))}
    if not found:
        raise LeakLabError(f"no run results under {runs_dir}: run `leaklab workshop` (or `leaklab run all "
                           f"--out {runs_dir}`) first")
    return found


def _growth(r: Result) -> str:
    return SIGNALS[r.signal].rate(r.rate_per_s, digits=0 if r.signal == "goroutines" else 2)


@dataclasses.dataclass
class VerdictTable:
    """The verdict of every run, shown as a table in a notebook or written into the handout."""

    rows: list[list[str]]
    header: tuple[str, ...] = ("family", "variant", "verdict", "expected", "signal", "growth", "work done")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        cell = lambda i, c: f'<td class="{html.escape(c)}">' if i == 2 else "<td>"  # noqa: E731
        body = "".join("<tr>" + "".join(f"{cell(i, c)}{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                       for row in self.rows)
        return f'<table class="verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def verdict_table(results: dict[str, list[Result]]) -> VerdictTable:
    """One row per run: verdict against expectation, the growth of the judged signal, the work rate."""
    rows = []
    for family, runs in results.items():
        for r in runs:
            work = "-" if r.work_rate_per_s is None else f"{r.work_rate_per_s:,.0f} requests/s"
            rows.append([family, r.variant, r.verdict, r.expected or "-", SIGNALS[r.signal].label, _growth(r), work])
    return VerdictTable(rows)


def _code(text: str) -> str:
    """Escape ``text`` for HTML and show `backticked` parts as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def parse_start(start: str) -> datetime.datetime:
    """The agenda's start time ``HH:MM`` (24-hour clock); :class:`BadParameter` for anything else."""
    try:
        return datetime.datetime.strptime(start.strip(), "%H:%M")
    except ValueError:
        raise BadParameter(f"--start must be a time as HH:MM on a 24-hour clock (e.g. 09:00 or 13:30), "
                           f"not {start!r}") from None


@dataclasses.dataclass
class Agenda:
    """The workshop's plan with start times, shown as a table."""

    start: str = "09:00"

    def __post_init__(self) -> None:
        parse_start(self.start)

    def slots(self) -> list[tuple[str, int, str, str]]:
        clock = parse_start(self.start)
        out = []
        for minutes, topic, what in AGENDA:
            out.append((clock.strftime("%H:%M"), minutes, topic, what))
            clock += datetime.timedelta(minutes=minutes)
        return out

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{t}</td><td>{m} min</td><td><b>{html.escape(topic)}</b></td>"
                       f"<td>{_code(what)}</td></tr>" for t, m, topic, what in self.slots())
        total = sum(m for m, _, _ in AGENDA)
        return (f'<table class="agenda"><thead><tr><th>start</th><th>time</th><th>topic</th><th>what we do</th>'
                f"</tr></thead><tbody>{rows}</tbody></table><p>Total: {total} min (breaks not included).</p>")


def agenda(start: str = "09:00") -> Agenda:
    """The agenda, starting at ``start`` (HH:MM)."""
    return Agenda(start)


# --- pictures, slides, handout -----------------------------------------------------------------------------

def family_figure(runs_dir: Path | str, family: str):
    """The lab's figure of one family's leaky and fixed runs under ``runs_dir`` (a note if it was not run)."""
    results = load_results(runs_dir).get(get_family(family).name)
    return _Png.of(plot_family(results)) if results else _Note(f"{family} was not run in this workshop "
                                                      f"(`leaklab workshop --family {family}` runs it)")


def reading_figure(results: dict[str, list[Result]]):
    """How to read a verdict (:func:`leaklab.plot.plot_reading`), drawn from this workshop's runs of a
    family judged on the Go heap (timer if it was run); a note when none was."""
    from .plot import reading_figure as _reading

    family = next((f for f in ("timer", "finalizer", "syncmap") if f in results), None)
    if family is None:
        return _Note("the picture of a verdict needs a family judged on the Go heap (timer, finalizer or syncmap)")
    return _reading(results, family, wide=False)


@dataclasses.dataclass
class _Png:
    """A figure as PNG bytes, which a notebook shows and nbconvert embeds in the slides."""

    data: bytes

    @classmethod
    def of(cls, fig) -> _Png:
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        return cls(buf.getvalue())

    def _repr_png_(self) -> bytes:
        return self.data


@dataclasses.dataclass
class _Note:
    text: str

    def _repr_html_(self) -> str:
        return f"<p><i>{html.escape(self.text)}</i></p>"


def reveal_dir() -> Path:
    """The reveal.js distribution shipped by the ``sphinx-revealjs`` package (found without importing Sphinx)."""
    spec = importlib.util.find_spec("sphinx_revealjs")
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(root) / "_static" / "revealjs"
        if (folder / "dist" / "reveal.js").is_file():
            return folder
    raise SlidesUnavailable("the reveal.js files for offline slides come with the `sphinx-revealjs` package: "
                            "run `make setup` (or `.venv/bin/pip install sphinx-revealjs`)")


_PAPERMILL_TAGS = {"parameters", "injected-parameters"}


def _slide_cells(nb):
    """``nb`` with the cells a deck must not show marked ``skip``: papermill's parameter cells and code
    cells without output (the slides hide the code, so each would be an empty slide of its own)."""
    for cell in nb.cells:
        hidden = _PAPERMILL_TAGS & set(cell.metadata.get("tags", ())) or (cell.cell_type == "code" and not cell.outputs)
        if hidden:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "skip"
    return nb


def render_slides(notebook: Path, output: Path) -> Path:
    """Export an executed notebook as reveal.js slides that load nothing from the network.

    Cells that would show nothing are skipped (:func:`_slide_cells`), so the deck opens on its title.
    """
    import nbformat
    from nbconvert import SlidesExporter

    local = output.parent / "reveal.js"
    if not (local / "dist" / "reveal.js").is_file():
        shutil.copytree(reveal_dir(), local, ignore=shutil.ignore_patterns("*.map", "*.esm.js"), dirs_exist_ok=True)
    exporter = SlidesExporter(template_name="template", extra_template_basedirs=[str(labs_dir() / "workshop")],
                              reveal_url_prefix="reveal.js", reveal_theme="white", exclude_input=True,
                              exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(_slide_cells(nbformat.read(notebook, as_version=4)),
                                          resources={"leaklab": {"leak": COLOURS["leaky"], "flat": COLOURS["fixed"]}})
    output.write_text(body)
    return output


#: The cheat sheet of the handout: (family, the leak, where it shows, the fix, how to catch it in production).
CHEAT_SHEET = [
    ("syncmap", "A `sync.Map` used as a cache: a new key per request, none ever removed.", "Go heap",
     "Bound the cache: evict old keys (`Delete`) or use a size-limited LRU.",
     "Two heap profiles, diffed: the line that stores grows."),
    ("timer", "`time.AfterFunc(time.Hour, f)` per request, never stopped: the runtime keeps each timer and what "
     "`f` holds.", "Go heap", "`t := time.AfterFunc(...)`; `defer t.Stop()`.",
     "Heap profile; `go vet` (lostcancel) flags the same mistake made with a context."),
    ("goroutine", "A worker sends on an unbuffered channel after its caller gave up, and blocks forever.",
     "goroutines", "`make(chan T, 1)`, or `select` on `ctx.Done()`.",
     "Goroutine profile (`debug=2`) grouped by stack; goleak in tests; the goroutine leak profile."),
    ("finalizer", "Two objects in a cycle, each with `runtime.SetFinalizer`: the cycle is never collected.",
     "Go heap", "`runtime.AddCleanup` (Go 1.24), which is not handed its object.",
     "`GODEBUG=checkfinalizers=1` (Go 1.25); finalizers queued but never run."),
    ("cgo", "`C.malloc` never freed: invisible to the Go heap.", "RSS outside Go",
     "`defer C.free(unsafe.Pointer(p))`.", "RSS minus what Go has mapped; `go build -asan` (LeakSanitizer)."),
]

#: The commands of the cheat sheet: (command, what it does).
COMMANDS = [
    ("leaklab list", "the five families, their variants and signals"),
    ("leaklab run FAMILY", "the leaky and the fixed program, each until its verdict is certain: verdicts, then where it leaks"),
    ("leaklab run --program DIR", "any Go main package, unmodified: which signal grows"),
    ("mkdir -p my-fixes && cp -r labs/exercises/FAMILY my-fixes/", "your copy of the exercise (the starter stays as it is)"),
    ("leaklab check FAMILY --path my-fixes/FAMILY", "exit 0 only when flat and still doing its work; "
     "a second hint on the second failed try"),
    ("leaklab report", "every notebook, then the HTML report in reports/index.html"),
]


def _cheat_sheet() -> str:
    rows = "".join(f"<tr><td><b>{fam}</b></td><td>{_code(leak)}</td><td>{html.escape(signal)}</td><td>{_code(fix)}</td>"
                   f"<td>{_code(catch)}</td></tr>" for fam, leak, signal, fix, catch in CHEAT_SHEET)
    cmds = "".join(f"<tr><td><code>{html.escape(c)}</code></td><td>{html.escape(what)}</td></tr>" for c, what in COMMANDS)
    return f"""<section class="cheat">
<h1>Go Leak Lab: cheat sheet</h1>
<h2>The five leaks and their fixes</h2>
<table class="cheat"><thead><tr><th>family</th><th>the leak</th><th>shows in</th><th>the fix</th>
<th>catch it in production</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Reading a verdict</h2>
<p>The lab watches one curve per program after a warm-up it does not judge, and decides as soon as the growth
is either established above the signal's threshold: <b class="leak">leak</b>, or bounded below it:
<b class="flat">flat</b>. Until either is certain it is <b>inconclusive</b>: run longer. Memory is judged on what the
program never gives back: the live heap measured by each garbage collection (or the floor of the curve, the lowest it
goes from then on), never on the sawtooth of garbage that comes and goes.</p>
<h2>Commands</h2>
<table class="commands"><tbody>{cmds}</tbody></table>
<p>A family the checker passes is flat <i>and</i> still serves its requests, each doing its work. Run
<code>. .venv/bin/activate</code> first (after <code>make setup</code>); the pages in <code>labs/</code> explain each
leak, its fix, and how to catch it in production.</p>
</section>"""


def render_handout(results: dict[str, list[Result]], output: Path, overview_png: Path | None = None,
                   start: str = "09:00") -> Path:
    """A printable handout: page 1 the agenda and what the lab measured, page 2 a cheat sheet (the five
    leaks, their fixes, how to read a verdict, the commands). Leak and flat have the lab's colours."""
    first = next(iter(results.values()))[0]
    meta = RunFolder(first.run_dir).read_meta()
    image = f'<img src="{overview_png.name}" alt="verdict signal of every family">' if overview_png else ""
    leak, flat = COLOURS["leaky"], COLOURS["fixed"]
    css = ("body{font:10pt/1.3 sans-serif;max-width:50em;margin:1em auto}h1{font-size:15pt;margin:0}"
           "h2{font-size:12pt;margin:.6em 0 .2em}p{margin:.3em 0}table{border-collapse:collapse;width:100%;"
           "margin:.3em 0;font-size:8.5pt}td,th{border:1px solid #bbb;padding:1px 4px;text-align:left;"
           f"vertical-align:top}}td.leak,.leak{{color:{leak};font-weight:bold}}td.flat,.flat{{color:{flat};"
           "font-weight:bold}img{display:block;margin:0 auto;max-width:100%;max-height:8.5cm}code{background:#eee}"
           "section.cheat{break-before:page;page-break-before:always;margin-top:2em}table.cheat{font-size:9pt}"
           "table.commands td:first-child,p code{white-space:nowrap}@page{size:A4;margin:10mm}"
           "@media print{body{margin:0}section.cheat{margin-top:0}}")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Go Leak Lab: workshop handout</title>
<style>{css}</style></head><body>
<section class="day">
<h1>Go Leak Lab: five ways a Go program leaks</h1>
<p>Measured by the lab on {html.escape(meta['date'])} with {html.escape(first.go_version)}
({html.escape(meta['host']['machine'])}, {meta['host']['cpus']} CPUs), {meta['parameters']['duration_s']:g} s per run,
{meta['parameters']['warmup_s']:g} s warm-up. GODEBUG={html.escape(meta['godebug'] or '(empty)')}.</p>
<h2>Agenda</h2>{agenda(start)._repr_html_()}
<h2>What the lab measured</h2>{verdict_table(results)._repr_html_()}
{image}
<h2>Try it yourself</h2>
<p><code>leaklab run FAMILY</code> runs a leaky and a fixed program and judges their curves.
Copy the starter (<code>mkdir -p my-fixes &amp;&amp; cp -r labs/exercises/FAMILY my-fixes/</code>), fix your copy at its
<code>TODO(you)</code> marker and ask <code>leaklab check FAMILY --path my-fixes/FAMILY</code>:
it answers <i>fixed</i> only when the curve is flat <i>and</i> the program still serves its requests.
The cheat sheet overleaf has the five leaks, their fixes and the commands.</p>
</section>
{_cheat_sheet()}
</body></html>
"""
    output.write_text(page)
    return output


def run_workshop(out: Path, *, limits: Limits = WORKSHOP_LIMITS, names: Sequence[str] | None = None,
                 start: str = "09:00", progress=None, step: Callable[[str], None] | None = None,
                 **kwargs) -> dict[str, Path]:
    """Run the families, then write the figures, the executed deck, the slides and the handout in ``out``.

    ``progress(name, elapsed_s, rss_bytes)`` is called while each program runs (see
    :func:`leaklab.lab.measure`), ``step(what)`` before each family and each step after the runs.
    """
    parse_start(start)  # before minutes of runs, not after
    fams = [get_family(n) for n in names] if names else families()
    step = step or (lambda what: None)
    out = Path(out).resolve()  # the runner starts the binary from inside its run folder
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    results = {}
    for f in fams:
        step(f"building and running {f.name}")
        results[f.name] = run_family(f, "both", limits=limits, out=runs, progress=progress, **kwargs)
    step("drawing the figures")
    made = {f"img/{name}.png": save_png(plot_family(rs), out / "img" / f"{name}.png") for name, rs in results.items()}
    made["overview.png"] = save_png(plot_overview(results), out / "overview.png")
    step("executing the deck (labs/workshop/workshop.ipynb)")
    made["workshop.ipynb"] = execute(labs_dir() / "workshop" / "workshop.ipynb", out / "workshop.ipynb",
                                     {"runs_dir": str(runs), "start": start})
    step("rendering the slides and the handout")
    made["slides.html"] = render_slides(out / "workshop.ipynb", out / "slides.html")
    made["handout.html"] = render_handout(results, out / "handout.html", made["overview.png"], start)
    return made


#: The steps after the runs, each counted on the progress bar as this share of one run.
AFTER_RUNS = {"drawing the figures": 0.2, "executing the deck (labs/workshop/workshop.ipynb)": 1.0,
               "rendering the slides and the handout": 0.3}


# --- exercise notebooks ------------------------------------------------------------------------------------

_PLACEHOLDER = "# Your turn: write your answer here, then run the next cells.\n"
_ANSWER = "**Your answer.** *Double-click this cell and write it here.*"


def _as_exercise(text: str) -> str:
    return text.replace(" (solution)", "").replace("(solution)", "")


def _exercise(nb):
    """The exercise version of a solution notebook (a new node; ``nb`` is not changed).

    A cell tagged ``solution`` becomes a cell tagged ``exercise`` holding its ``exercise`` metadata (an
    empty answer cell for a markdown answer, a comment saying what to write for a code one), and the
    title loses its "(solution)".
    """
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            default = _ANSWER if cell.cell_type == "markdown" else _PLACEHOLDER
            cell.source = cell.metadata.get("exercise", default).rstrip("\n")
            cell.metadata["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
            cell.metadata.pop("exercise", None)
        elif cell.cell_type == "markdown":
            cell.source = _as_exercise(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["title"] = _as_exercise(nb.metadata.get("title", ""))
    return nb


def prepare_exercises(solutions: Path | None = None, exercises: Path | None = None) -> list[Path]:
    """Write ``exercises/X.ipynb`` for every ``solutions/X.ipynb``, with the solution cells emptied."""
    import nbformat

    solutions, exercises = solutions or solutions_dir(), exercises or exercises_dir()
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(solutions.glob("*.ipynb")):
        dst = exercises / src.name
        nbformat.write(_exercise(nbformat.read(src, as_version=4)), dst)
        written.append(dst)
    return written


def publish_pictures(out: Path, dest: Path) -> Path:
    """Copy a workshop's family figures to ``dest`` (labs/img) with ``captions.md`` saying how they were made."""
    results = load_results(out / "runs")
    dest.mkdir(parents=True, exist_ok=True)
    lines = ["# Measured pictures", "", "Made by `make labs-img` (`leaklab workshop --pictures labs/img`); "
             "regenerate them rather than editing them.", ""]
    for family, runs in results.items():
        shutil.copyfile(out / "img" / f"{family}.png", dest / f"{family}.png")
        meta = RunFolder(runs[0].run_dir).read_meta()
        verdicts = ", ".join(f"{r.variant} {r.verdict} ({_growth(r)})" for r in runs)
        lines.append(f"- `{family}.png`: {verdicts}; {runs[0].go_version}, {meta['host']['machine']}, "
                     f"{meta['parameters']['duration_s']:g} s runs, {meta['date'][:10]}.")
    (dest / "captions.md").write_text("\n".join(lines) + "\n")
    return dest


# --- the claims tables of the labs pages --------------------------------------------------------------------

#: ``<!-- claims: ID ID -->`` ... ``<!-- /claims -->`` in a page: the rows of those claims, generated.
_CLAIMS_BLOCK = re.compile(r"(?P<open><!-- claims: (?P<ids>[\w -]+?) -->\n).*?(?P<close><!-- /claims -->)", re.S)


def claims_block(findings, ids: Sequence[str]) -> str:
    """The table of the claims ``ids`` as measured in ``findings`` (:class:`leaklab.claims.Finding`)."""
    by_id = {f.claim_id: f for f in findings}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LeakLabError(f"docs/claims.json has no finding for {', '.join(missing)}: run "
                           f"`leaklab claims --save` (or `leaklab claims {' '.join(missing)} --save`)")
    esc = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    rows = ["| the article claims | what the lab measured | verdict | Go, date | reproduce it |",
            "|---|---|---|---|---|"]
    for f in (by_id[i] for i in ids):
        verdict = f"**{f.verdict}**" + ("" if f.as_expected else " (not what the lab expects: rerun it)")
        rows.append(f"| {esc(f.claim)} | {esc(f.measured)} | {verdict} | {f.go_version}, {f.date} | "
                    f"`leaklab claims {f.claim_id}`; {esc(f.how)} |")
    return ("\n".join(rows) + "\n\n*Generated from [docs/claims.json](../docs/claims.json) (the full table: "
            "[docs/claims.md](../docs/claims.md)) by `make labs-claims`; short runs on a shared 2-CPU machine, "
            "so rerun to see your own numbers.*\n")


def pages_with_claims(findings=None, pages: Sequence[Path] | None = None) -> dict[Path, str]:
    """Every labs page with its claims blocks filled from ``findings`` (default: docs/claims.json)."""
    from .claims import load_findings

    findings = load_findings() if findings is None else findings
    out = {}
    for page in pages if pages is not None else sorted(labs_dir().glob("[0-9][0-9]-*.md")):
        text = page.read_text()
        out[page] = _CLAIMS_BLOCK.sub(lambda m: m["open"] + claims_block(findings, m["ids"].split()) + m["close"],
                                      text)
    return out


def update_claims(findings=None, pages: Sequence[Path] | None = None) -> list[Path]:
    """Rewrite the claims blocks of the labs pages (``make labs-claims``); returns the pages that changed."""
    changed = []
    for page, text in pages_with_claims(findings, pages).items():
        if page.read_text() != text:
            page.write_text(text)
            changed.append(page)
    return changed
