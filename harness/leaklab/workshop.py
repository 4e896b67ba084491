"""Workshop mode for an instructor: classroom runs of every family, then slides and a handout.

:func:`run_workshop` runs every family with classroom-length runs, draws each family's figure, executes
``labs/workshop/workshop.ipynb`` on those runs with papermill (what the deck shows: :mod:`leaklab.deck`) and
exports it as a reveal.js slide deck that opens from disk with no network: the reveal.js files are copied next
to the deck (from the ``sphinx-revealjs`` package, which ships them) and the template in
``labs/workshop/template`` loads nothing from a CDN. A one-page handout (``handout.html``) carries the agenda
and the verdict table. The exercise notebooks are :mod:`leaklab.exercises`, the labs pages' generated parts
:mod:`leaklab.labs_pages`.
"""

from __future__ import annotations

import html
import importlib.util
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from .cases import families, get_family
from .deck import agenda, code_html, parse_start, verdict_table
from .errors import SlidesUnavailable
from .lab import Result, run_family
from .labs_pages import labs_dir
from .notebook_exec import execute
from .plot import COLOURS, plot_family, plot_overview, save_png
from .run import Limits
from .runfolder import RunFolder

__all__ = ["AFTER_RUNS", "CHEAT_SHEET", "COMMANDS", "WORKSHOP_LIMITS", "render_handout", "render_slides",
           "reveal_dir", "run_workshop"]

#: Classroom runs: long enough that the curves speak for themselves on a projector.
WORKSHOP_LIMITS = Limits(duration_s=12.0, warmup_s=2.0, interval_s=0.1)


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
    rows = "".join(f"<tr><td><b>{fam}</b></td><td>{code_html(leak)}</td><td>{html.escape(signal)}</td><td>{code_html(fix)}</td>"
                   f"<td>{code_html(catch)}</td></tr>" for fam, leak, signal, fix, catch in CHEAT_SHEET)
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
