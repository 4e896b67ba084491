"""Turn the executed notebooks into a static HTML report that opens from disk, without a server.

``reports/index.html`` is the overview; each family gets ``reports/<family>.html``. Every page has a
nav bar to all the others, hides the code (the reader wants the verdicts and the curves; the code is
in ``notebooks/``), embeds its figures as data URIs and loads no script from the network. A footer
says what produced the numbers (Go version, GODEBUG, GOEXPERIMENT, parameters, date).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ._exceptions import LeakLabError
from .notebooks import OVERVIEW_RECORD, RECORD, check, execute_all

__all__ = ["DEFAULT_REPORT", "TEMPLATES_DIR", "add_arguments", "build_report", "cli_report", "page_name", "render"]

DEFAULT_REPORT = Path("reports")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
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


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = _HIDDEN_TAGS
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(config=config, template_name="leaklab", extra_template_basedirs=[str(TEMPLATES_DIR)])


def render(executed: Sequence[Path], report: Path, out: Path) -> Path:
    """Write one HTML page per executed notebook into ``report``; return the path of ``index.html``."""
    import nbformat
    executed = sorted(executed, key=lambda p: page_name(p) != "index.html")
    if not executed or page_name(executed[0]) != "index.html":
        raise LeakLabError("the report needs the executed 00-overview notebook (its page is index.html)")
    nbs = [nbformat.read(str(p), as_version=4) for p in executed]
    pages = [{"href": page_name(p), "title": _title(nb, p)} for p, nb in zip(executed, nbs)]
    report.mkdir(parents=True, exist_ok=True)
    exporter = _exporter()
    for i, (path, nb) in enumerate(zip(executed, nbs)):
        lab = {"pages": pages, "current": pages[i]["href"], "footer": _footer(Path(out), path),
               "prev": pages[i - 1] if i > 0 else None, "next": pages[i + 1] if i + 1 < len(pages) else None}
        body, _ = exporter.from_notebook_node(nb, resources={"leaklab": lab, "metadata": {"name": pages[i]["title"]}})
        (report / pages[i]["href"]).write_text(body, encoding="utf-8")
    return report / "index.html"


def build_report(out: Path, report: Path, *, duration: float = 3.0, interval: float = 0.05, warmup: float = 1.0,
                 timeout: float = 300, progress: Callable[[str], None] | None = None) -> Path:
    """Execute every notebook (run data in ``out``, executed copies in ``report/notebooks``) and render them."""
    started = time.monotonic()
    executed = execute_all(Path(out), Path(report) / "notebooks", duration=duration, interval=interval,
                           warmup=warmup, timeout=timeout, progress=progress)
    index = render(executed, Path(report), Path(out))
    if progress:
        progress(f"report written in {time.monotonic() - started:.0f} s")
    return index


# --- `leaklab report` ---------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``leaklab report``."""
    from .cli import _seconds
    from .lab import DEFAULT_OUT
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run data (default %(default)s/)")
    p.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="folder for the HTML report (default %(default)s/)")
    p.add_argument("--duration", type=_seconds, default=3.0, help="seconds per program (default %(default)s)")
    p.add_argument("--interval", type=_seconds, default=0.05, help="seconds between samples (default %(default)s)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds not judged at the start (default %(default)s)")
    p.add_argument("--timeout", type=_seconds, default=300.0,
                   help="seconds a notebook cell may run before it counts as hung (default %(default)s)")


def cli_report(args: argparse.Namespace) -> int:
    """``leaklab report``: execute every notebook, render the report, print the verdicts and the report's path."""
    from rich.console import Console
    from .cli import _err, _table
    from .notebooks import load_results
    from .cases import families
    with _err.status("executing notebooks") as status:
        index = build_report(args.out, args.report, duration=args.duration, interval=args.interval,
                             warmup=args.warmup, timeout=args.timeout,
                             progress=lambda msg: status.update(f"executing notebooks: {msg}"))
    Console().print(_table([r for f in families() for r in load_results(args.out, f.name) or []]))
    for problem in check(args.out):
        _err.print(f"[yellow]differs from expect.toml:[/] {problem}", highlight=False)
    print(f"report: {index.resolve()}")
    return 0
