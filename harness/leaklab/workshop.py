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
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ._exceptions import BadParameter, LeakLabError
from .paths import content
from .cases import families, get_family
from .lab import Result, run_family
from .notebooks import execute
from .notebooks import load_results as _family_results
from .plot import plot_family, plot_overview, save_png
from .probe import SIGNALS
from .run import Limits

__all__ = ["AGENDA", "labs_dir", "WORKSHOP_LIMITS", "SlidesUnavailable", "Agenda", "VerdictTable", "agenda",
           "load_results", "prepare_exercises", "render_handout", "render_slides", "reveal_dir", "run_workshop",
           "verdict_table", "cmd_workshop", "publish_pictures", "parse_start", "claims_block", "pages_with_claims",
           "update_claims"]

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
    (10, "intro", "How the lab measures: the probe, the floor of a curve, the verdict; `leaklab run syncmap`"),
    (20, "syncmap", "A cache that never forgets: the Go heap climbs; exercise `leaklab check syncmap`"),
    (20, "timer", "A watchdog timer never stopped; what changed for Ticker and time.After in Go 1.23"),
    (25, "goroutine", "A sender nobody listens to: goroutines, not heap; goroutine profiles"),
    (20, "finalizer", "A cycle with finalizers is never freed; runtime.AddCleanup"),
    (20, "cgo", "C memory the Go heap cannot see: watch RSS; defer C.free"),
    (15, "wrap-up", "Detecting leaks in production; what the article gets wrong on modern Go"),
]


class SlidesUnavailable(LeakLabError):
    """The reveal.js files needed for offline slides are not installed."""


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
    return SIGNALS[r.signal].rate(r.rate_per_s)


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


def render_slides(notebook: Path, output: Path) -> Path:
    """Export an executed notebook as reveal.js slides that load nothing from the network."""
    import nbformat
    from nbconvert import SlidesExporter

    local = output.parent / "reveal.js"
    if not (local / "dist" / "reveal.js").is_file():
        shutil.copytree(reveal_dir(), local, ignore=shutil.ignore_patterns("*.map", "*.esm.js"), dirs_exist_ok=True)
    exporter = SlidesExporter(template_name="template", extra_template_basedirs=[str(labs_dir() / "workshop")],
                              reveal_url_prefix="reveal.js", reveal_theme="white", exclude_input=True,
                              exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    output.write_text(body)
    return output


def render_handout(results: dict[str, list[Result]], output: Path, overview_png: Path | None = None,
                   start: str = "09:00") -> Path:
    """A one-page, printable handout: agenda with timings, verdict table, commands, provenance."""
    first = next(iter(results.values()))[0]
    meta = json.loads((Path(first.run_dir) / "meta.json").read_text())
    image = f'<img src="{overview_png.name}" alt="verdict signal of every family">' if overview_png else ""
    css = ("body{font:10pt/1.3 sans-serif;max-width:50em;margin:1em auto}h1{font-size:15pt;margin:0}"
           "h2{font-size:12pt;margin:.6em 0 .2em}p{margin:.3em 0}table{border-collapse:collapse;width:100%;"
           "margin:.3em 0;font-size:8.5pt}td,th{border:1px solid #bbb;padding:1px 4px;text-align:left}"
           "td.leak{color:#b30000;font-weight:bold}td.flat{color:#006400}img{display:block;margin:0 auto;"
           "max-width:100%;max-height:8.5cm}code{background:#eee}@page{size:A4;margin:10mm}"
           "@media print{body{margin:0}}")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Go Leak Lab: workshop handout</title>
<style>{css}</style></head><body>
<h1>Go Leak Lab: five ways a Go program leaks</h1>
<p>Measured by the lab on {html.escape(meta['date'])} with {html.escape(first.go_version)}
({html.escape(meta['host']['machine'])}, {meta['host']['cpus']} CPUs), {meta['parameters']['duration_s']:g} s per run,
{meta['parameters']['warmup_s']:g} s warm-up. GODEBUG={html.escape(meta['godebug'] or '(empty)')}.</p>
<h2>Agenda</h2>{agenda(start)._repr_html_()}
<h2>What the lab measured</h2>{verdict_table(results)._repr_html_()}
{image}
<h2>Try it yourself</h2>
<p><code>leaklab run FAMILY</code> runs a leaky and a fixed program and judges their curves.
Fix the starter in <code>labs/exercises/FAMILY/main.go</code> and ask <code>leaklab check FAMILY</code>:
it answers <i>fixed</i> only when the curve is flat <i>and</i> the program still serves its requests.
The pages in <code>labs/</code> explain each leak, its fix and how to catch it in production.</p>
</body></html>
"""
    output.write_text(page)
    return output


def run_workshop(out: Path, *, limits: Limits = WORKSHOP_LIMITS, names: Sequence[str] | None = None,
                 start: str = "09:00", progress=None, **kwargs) -> dict[str, Path]:
    """Run the families, then write the figures, the executed deck, the slides and the handout in ``out``."""
    parse_start(start)  # before minutes of runs, not after
    out = Path(out).resolve()  # the runner starts the binary from inside its run folder
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    fams = [get_family(n) for n in names] if names else families()
    results = {f.name: run_family(f, "both", limits=limits, out=runs, progress=progress, **kwargs) for f in fams}
    made = {f"img/{name}.png": save_png(plot_family(rs), out / "img" / f"{name}.png") for name, rs in results.items()}
    made["overview.png"] = save_png(plot_overview(results), out / "overview.png")
    made["workshop.ipynb"] = execute(labs_dir() / "workshop" / "workshop.ipynb", out / "workshop.ipynb", {"runs_dir": str(runs), "start": start})
    made["slides.html"] = render_slides(out / "workshop.ipynb", out / "slides.html")
    made["handout.html"] = render_handout(results, out / "handout.html", made["overview.png"], start)
    return made


# --- exercise notebooks ------------------------------------------------------------------------------------

_PLACEHOLDER = "# Your turn: write your answer here, then run the next cells.\n"


def _exercise(nb):
    """The exercise version of a solution notebook (a new node; ``nb`` is not changed)."""
    import copy

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            if cell.cell_type == "markdown":
                continue
            cell.source = cell.metadata.get("exercise", _PLACEHOLDER).rstrip("\n")
            cell.metadata["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
            cell.metadata.pop("exercise", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    nb.metadata["title"] = nb.metadata.get("title", "").replace("(solution)", "(exercise)")
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


def cmd_workshop(args) -> int:
    """``leaklab workshop``: run the families and render the slides and handout into ``--out``."""
    if args.exercises_only:
        for path in prepare_exercises():
            print(path)
        return 0
    parse_start(args.start)
    made = run_workshop(args.out, limits=args.limits, names=args.family or None, start=args.start)
    for name in ("slides.html", "handout.html"):
        print(f"{name}: {made[name]}")
    if args.pictures:
        print(f"pictures: {publish_pictures(Path(args.out), args.pictures)}")
    return 0


def publish_pictures(out: Path, dest: Path) -> Path:
    """Copy a workshop's family figures to ``dest`` (labs/img) with ``captions.md`` saying how they were made."""
    results = load_results(out / "runs")
    dest.mkdir(parents=True, exist_ok=True)
    lines = ["# Measured pictures", "", "Made by `make labs-img` (`leaklab workshop --pictures labs/img`); "
             "regenerate them rather than editing them.", ""]
    for family, runs in results.items():
        shutil.copyfile(out / "img" / f"{family}.png", dest / f"{family}.png")
        meta = json.loads((Path(runs[0].run_dir) / "meta.json").read_text())
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
