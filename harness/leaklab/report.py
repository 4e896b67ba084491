"""Turn the executed notebooks into a static HTML report that opens from disk, without a server.

``reports/index.html`` is the overview; each family gets ``reports/<family>.html``, the example service
``reports/service.html`` (notebooks/06-service.ipynb) and, with ``versions`` (``leaklab report --versions``),
the families on several Go releases ``reports/versions.html`` (notebooks/versions.ipynb). Every page has a
nav bar to all the others, hides the code (the reader wants the verdicts and the curves; the code is
in ``notebooks/``), embeds its figures as data URIs and loads no script from the network. A footer
says what produced the numbers (Go version, GODEBUG, GOEXPERIMENT, parameters, date). The overview's
"Reading a verdict" section (a markdown cell tagged ``leaklab-reading``) gets the picture of
:func:`leaklab.reading.plot_reading`, drawn from the report's own timer runs and inlined as SVG.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LeakLabError
from .notebook_exec import execute, execute_all, notebook_paths, notebooks_dir
from .paths import resource
from .records import OVERVIEW_RECORD, RECORD, check_records
from .run import Limits, check_limits

if TYPE_CHECKING:
    from .lab import Result

__all__ = ["DEFAULT_REPORT", "READING_TAG", "VERSIONS_NOTEBOOK", "VERSIONS_TIMEOUT_S", "Report", "build_report",
           "page_name", "reading_svg", "render"]

#: The "Across Go versions" page: not an ``NN-`` notebook, so ``make lab`` leaves it out; ``--versions`` runs it.
VERSIONS_NOTEBOOK = "versions.ipynb"
#: Its one measuring cell runs every family on every release asked for (about a minute a release on 2 cores).
VERSIONS_TIMEOUT_S = 1800.0

DEFAULT_REPORT = Path("reports")
#: Cells that only matter to papermill; the report drops them.
_HIDDEN_TAGS = {"parameters", "injected-parameters", "report-hide"}


def page_name(notebook: Path) -> str:
    """``00-overview.ipynb`` -> ``index.html``; ``01-syncmap.ipynb`` -> ``syncmap.html``."""
    stem = Path(notebook).stem
    return "index.html" if stem.startswith("00-") else f"{stem.split('-', 1)[-1]}.html"


def _title(nb, notebook: Path) -> str:
    return nb.metadata.get("title") or Path(notebook).stem


def _footer(out: Path, notebook: Path) -> str:
    stem = Path(notebook).stem
    path = out / OVERVIEW_RECORD if stem.startswith("00-") else out / stem.split("-", 1)[-1] / RECORD
    if not path.is_file():
        return f"Rendered from {Path(notebook).name}; no record of its measurements was found in {out}."
    rec = json.loads(path.read_text())
    rec = next(iter(rec.values())) if stem.startswith("00-") and rec else rec
    p = rec.get("parameters", {})
    return (f"Measured with {rec.get('go_version', '?')} (GODEBUG={rec.get('godebug') or 'default'}, "
            f"GOEXPERIMENT={rec.get('goexperiment') or 'none'}) on {rec.get('recorded', '?')}: "
            f"{p.get('duration_s', '?')} s per program, a sample every {p.get('interval_s', '?')} s, "
            f"the first {p.get('warmup_s', '?')} s not judged. Source notebook: notebooks/{Path(notebook).name}; "
            f"run data: {out}.")


#: The markdown cell after which the report shows how to read a verdict.
READING_TAG = "leaklab-reading"


def reading_svg(out: Path, family: str = "timer") -> str:
    """How to read a verdict (:func:`leaklab.reading.plot_reading`) from ``family``'s runs in ``out``, as an
    inline ``<svg>`` element; empty when those runs are not there."""
    import io

    from matplotlib import rc_context

    from .lab import load_result
    from .reading import plot_reading

    try:
        leaky, fixed = (load_result(Path(out) / family / v) for v in ("leaky", "fixed"))
    except (OSError, ValueError, TypeError):
        return ""
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "leaklab"}):  # text stays text; stable ids
        plot_reading(leaky, fixed).savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = _HIDDEN_TAGS
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(config=config, template_name="leaklab", extra_template_basedirs=[str(resource("templates"))])


class _Pages:
    """The report's pages, each rendered from its executed notebook (in any order, as they come) and
    written together by :meth:`write`. ``notebooks`` name every page of the report (their order is the
    nav bar's, the overview first); the "Reading a verdict" picture is drawn once, for the page that asks."""

    def __init__(self, notebooks: Sequence[Path], report: Path, out: Path) -> None:
        self.notebooks = sorted(notebooks, key=lambda p: page_name(p) != "index.html")
        if not self.notebooks or page_name(self.notebooks[0]) != "index.html":
            raise LeakLabError("the report needs the executed 00-overview notebook (its page is index.html)")
        self.report, self.out = Path(report), Path(out)
        self.html: dict[str, str] = {}
        self._exporter: Any = None  # made on the first page: nbconvert takes a while to import
        self._reading: str | None = None

    @functools.cached_property
    def pages(self) -> list[dict[str, str]]:
        """The nav bar: each page's file and title (read when the first page is rendered, not before)."""
        import nbformat
        return [{"href": page_name(p), "title": _title(nbformat.read(str(p), as_version=4), p)}
                for p in self.notebooks]

    def render(self, executed: Path) -> None:
        """Render the page of one executed notebook (kept until :meth:`write`)."""
        import nbformat
        nb = nbformat.read(str(executed), as_version=4)
        i = [p["href"] for p in self.pages].index(page_name(executed))
        if any(READING_TAG in c.metadata.get("tags", []) for c in nb.cells) and self._reading is None:
            self._reading = reading_svg(self.out)
        lab = {"pages": self.pages, "current": self.pages[i]["href"], "footer": _footer(self.out, executed),
               "prev": self.pages[i - 1] if i > 0 else None,
               "next": self.pages[i + 1] if i + 1 < len(self.pages) else None,
               "reading_svg": self._reading or "", "reading_tag": READING_TAG}
        self._exporter = self._exporter or _exporter()
        self.html[self.pages[i]["href"]], _ = self._exporter.from_notebook_node(
            nb, resources={"leaklab": lab, "metadata": {"name": self.pages[i]["title"]}})

    def write(self) -> Path:
        """Write the rendered pages into the report folder; return the path of ``index.html``."""
        self.report.mkdir(parents=True, exist_ok=True)
        for href, body in self.html.items():
            (self.report / href).write_text(body, encoding="utf-8")
        return self.report / "index.html"


def render(executed: Sequence[Path], report: Path, out: Path, nav: Sequence[Path] = ()) -> Path:
    """Write one HTML page per executed notebook into ``report``; return the path of ``index.html``.

    ``nav``: the notebooks the nav bar names, the overview first (default: ``executed``), so that one page
    can be rendered again on its own with the report's nav bar.
    """
    pages = _Pages(nav or executed, report, out)
    for path in executed:
        pages.render(path)
    return pages.write()


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` produced."""

    index: Path  #: ``report/index.html``
    #: every family's leaky and fixed results, then the example service's runs, as the notebooks measured them
    results: list[Result]
    problems: list[str]  #: how the records differ from ``expect.toml``, one sentence each (empty: as expected)


def _preload() -> None:
    """Import what the report needs once the notebooks have run (numpy, scipy, matplotlib, nbconvert: a
    second or two), in the render thread while they run, rather than before they start or after they end."""
    import nbconvert  # noqa: F401

    from . import notebooks, reading, service, versions  # noqa: F401


def build_report(out: Path, report: Path = DEFAULT_REPORT, limits: Limits = Limits(duration_s=3.0), *,
                 timeout: float = 300, jobs: int = 2, progress: Callable[[str], None] | None = None,
                 versions: Sequence[str] = ()) -> Report:
    """Execute every notebook (run data in ``out``, executed copies in ``report/notebooks``) and render them.

    ``limits`` (duration, interval, warm-up) are checked before any notebook starts; ``jobs`` notebooks
    run at a time (see :func:`leaklab.notebook_exec.execute_all`). With ``versions`` (Go releases, e.g.
    ``["1.22", "1.27"]``), the "Across Go versions" page is measured on them too, after the others.
    """
    check_limits(limits)
    started = time.monotonic()
    out, report = Path(out), Path(report)
    pages = _Pages(notebook_paths() + ([notebooks_dir() / VERSIONS_NOTEBOOK] if versions else []), report, out)
    # Each page is rendered while the notebooks after it run; all are written once every notebook has run.
    renderer = concurrent.futures.ThreadPoolExecutor(1)
    rendering: list[concurrent.futures.Future] = []

    def done(page: Path) -> None:
        if not rendering:  # the first page is done: the notebooks have their kernels, the cores have time
            rendering.append(renderer.submit(_preload))
        rendering.append(renderer.submit(pages.render, page))

    try:
        executed = execute_all(out, report / "notebooks", duration=limits.duration_s, interval=limits.interval_s,
                               warmup=limits.warmup_s, timeout=timeout, jobs=jobs, progress=progress, done=done)
        from . import service
        from . import versions as versions_page
        from .cases import families
        from .notebooks import load_results
        problems = check_records(out) + service.check(out)  # the families' records, then the example service's
        if versions:
            if progress:
                progress(f"{VERSIONS_NOTEBOOK} on Go {', '.join(versions)}")
            page = execute(notebooks_dir() / VERSIONS_NOTEBOOK, report / "notebooks" / VERSIONS_NOTEBOOK,
                           {"duration": limits.duration_s, "interval": limits.interval_s, "warmup": limits.warmup_s,
                            "out": str(out.resolve()), "releases": list(versions)},
                           timeout=max(timeout, VERSIONS_TIMEOUT_S))
            executed.append(page)
            problems += versions_page.problems(out)
        for future in rendering:
            future.result()
    except BaseException:
        renderer.shutdown(wait=False, cancel_futures=True)  # a failed report renders nothing more
        raise
    renderer.shutdown()
    for page in executed:  # those no one said were done
        if page_name(page) not in pages.html:
            pages.render(page)
    index = pages.write()
    if progress:
        progress(f"report written in {time.monotonic() - started:.0f} s")
    results = [r for f in families() for r in load_results(out, f.name) or []] + (service.load_results(out) or [])
    return Report(index=index, results=results, problems=problems)
