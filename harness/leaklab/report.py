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

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import service
from . import versions as versions_page
from .cases import families
from .errors import LeakLabError
from .lab import Result, check_limits
from .notebook_exec import execute, execute_all, notebooks_dir
from .notebooks import load_results
from .paths import resource
from .records import OVERVIEW_RECORD, RECORD, check_records
from .run import Limits

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


def render(executed: Sequence[Path], report: Path, out: Path) -> Path:
    """Write one HTML page per executed notebook into ``report``; return the path of ``index.html``."""
    import nbformat
    executed = sorted(executed, key=lambda p: page_name(p) != "index.html")
    if not executed or page_name(executed[0]) != "index.html":
        raise LeakLabError("the report needs the executed 00-overview notebook (its page is index.html)")
    nbs = [nbformat.read(str(p), as_version=4) for p in executed]
    pages = [{"href": page_name(p), "title": _title(nb, p)} for p, nb in zip(executed, nbs, strict=True)]
    report.mkdir(parents=True, exist_ok=True)
    exporter = _exporter()
    wants_reading = any(READING_TAG in c.metadata.get("tags", []) for nb in nbs for c in nb.cells)
    reading = reading_svg(Path(out)) if wants_reading else ""
    for i, (path, nb) in enumerate(zip(executed, nbs, strict=True)):
        lab = {"pages": pages, "current": pages[i]["href"], "footer": _footer(Path(out), path),
               "prev": pages[i - 1] if i > 0 else None, "next": pages[i + 1] if i + 1 < len(pages) else None,
               "reading_svg": reading, "reading_tag": READING_TAG}
        body, _ = exporter.from_notebook_node(nb, resources={"leaklab": lab, "metadata": {"name": pages[i]["title"]}})
        (report / pages[i]["href"]).write_text(body, encoding="utf-8")
    return report / "index.html"


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` produced."""

    index: Path  #: ``report/index.html``
    #: every family's leaky and fixed results, then the example service's runs, as the notebooks measured them
    results: list[Result]
    problems: list[str]  #: how the records differ from ``expect.toml``, one sentence each (empty: as expected)


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
    executed = execute_all(out, report / "notebooks", duration=limits.duration_s, interval=limits.interval_s,
                           warmup=limits.warmup_s, timeout=timeout, jobs=jobs, progress=progress)
    problems = check_records(out) + service.check(out)  # the families' records, then the example service's
    if versions:
        if progress:
            progress(f"{VERSIONS_NOTEBOOK} on Go {', '.join(versions)}")
        executed.append(execute(notebooks_dir() / VERSIONS_NOTEBOOK, report / "notebooks" / VERSIONS_NOTEBOOK,
                                {"duration": limits.duration_s, "interval": limits.interval_s,
                                 "warmup": limits.warmup_s, "out": str(out.resolve()), "releases": list(versions)},
                                timeout=max(timeout, VERSIONS_TIMEOUT_S)))
        problems += versions_page.problems(out)
    index = render(executed, report, out)
    if progress:
        progress(f"report written in {time.monotonic() - started:.0f} s")
    results = [r for f in families() for r in load_results(out, f.name) or []] + (service.load_results(out) or [])
    return Report(index=index, results=results, problems=problems)
