"""What the notebooks call, how they are executed, and the regression check of what they measured.

A family notebook makes three calls: :func:`run_family` (run both variants, write the record
``OUT/<family>/measured.json``), :func:`table` and :func:`figure` (show, and save the PNG next to the
run data). The overview notebook calls :func:`overview`, which reuses the run folders the family
notebooks left (running only the families that have none) and writes ``OUT/overview.json``.

:func:`execute_all` runs every notebook with papermill under the ``leaklab`` kernel (family notebooks
first, two at a time, the overview last, so no family is run twice); :func:`check` compares every record with the
families' ``expect.toml``, the same expectations the CLI uses.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ._exceptions import LeakLabError
from .paths import content
from .cases import Family, expectation, families, get_family
from .lab import Result, load_result
from .lab import run_family as _run_family
from .probe import SIGNALS
from .run import Limits

__all__ = ["KERNEL", "notebooks_dir", "RECORD", "KernelMissing", "NotebookFailed", "Picture", "RegressionFailed", "check",
           "check_record", "execute", "execute_all", "figure", "load_results", "notebook_paths", "overview",
           "overview_figure", "record", "run_family", "table"]

#: The notebooks shipped with the lab (``00-overview.ipynb`` and one ``NN-family.ipynb`` per family).
def notebooks_dir() -> Path:
    """The lab's notebooks: notebooks/ of the checkout."""
    return content("notebooks")
#: The Jupyter kernel ``make setup`` installs; papermill runs every notebook under it.
KERNEL = "leaklab"
#: The file each family notebook writes in ``OUT/<family>/``.
RECORD = "measured.json"
OVERVIEW_RECORD = "overview.json"
#: The variants a family notebook runs (``run_family``'s "both"); other declared variants are run on demand.
DEFAULT_VARIANTS = ("leaky", "fixed")


class KernelMissing(LeakLabError):
    """The ``leaklab`` Jupyter kernel is not installed."""


class NotebookFailed(LeakLabError):
    """A notebook raised; the message carries the failing cell and its output."""


class RegressionFailed(LeakLabError):
    """What a notebook measured is outside what ``expect.toml`` declares."""


# --- the calls the notebooks make -------------------------------------------------------------------------

def _limits(duration: float, interval: float, warmup: float) -> Limits:
    return Limits(duration_s=float(duration), interval_s=float(interval), warmup_s=float(warmup))


def run_family(name: str, *, duration: float = 4.0, interval: float = 0.05, warmup: float = 1.0,
               out: str | Path = "runs") -> list[Result]:
    """Run a family's leaky and fixed variants and record what was measured in ``OUT/<family>/measured.json``."""
    results = _run_family(name, limits=_limits(duration, interval, warmup), out=Path(out), profiles=True)
    record(results)
    return results


def load_results(out: str | Path, name: str) -> list[Result] | None:
    """The results a previous run of family ``name`` left in ``out``, or ``None`` if a variant is missing."""
    fam = get_family(name)
    dirs = [Path(out) / fam.name / v for v in DEFAULT_VARIANTS]
    if not all((d / "result.json").is_file() for d in dirs):
        return None
    return [load_result(d) for d in dirs]


def overview(*, duration: float = 4.0, interval: float = 0.05, warmup: float = 1.0,
             out: str | Path = "runs") -> dict[str, list[Result]]:
    """Every family's results: reused from ``out`` when a family notebook already ran it, else run now."""
    by_family = {}
    for fam in families():
        by_family[fam.name] = (load_results(out, fam.name)
                               or run_family(fam.name, duration=duration, interval=interval, warmup=warmup, out=out))
    path = Path(out) / OVERVIEW_RECORD
    path.write_text(json.dumps({name: _record_of(rs) for name, rs in by_family.items()}, indent=2))
    return by_family


class _Table:
    """An HTML table of verdicts that a notebook (and the HTML report) shows as its output."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.results = list(results)

    def _rows(self) -> Iterable[list[str]]:
        for r in self.results:
            sig = SIGNALS[r.signal]
            rate = sig.rate(r.rate_per_s)
            expected = "" if r.expected is None else ("as expected" if r.expected == r.verdict
                                                      else f"expected {r.expected}")
            yield [r.family, r.variant, r.verdict + (" (memory cap hit)" if r.capped else ""), expected,
                   sig.label, rate, r.reason]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("family", "variant", "verdict", "expected?", "signal", "growth", "why"))
        body = "".join(
            f'<tr class="verdict-{html.escape(row[2].split()[0])}">' + "".join(f"<td>{html.escape(c)}</td>" for c in row)
            + "</tr>" for row in self._rows())
        return f'<table class="leaklab-verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        return "\n".join("  ".join(row[:6]) for row in self._rows())


def table(results: Sequence[Result] | Mapping[str, Sequence[Result]]) -> _Table:
    """The verdicts as a table (a list of results, or the dict :func:`overview` returns)."""
    if isinstance(results, Mapping):
        results = [r for rs in results.values() for r in rs]
    return _Table(results)


class Picture:
    """A figure saved as PNG; a notebook shows the very file that was written (``fig`` keeps the Figure)."""

    def __init__(self, fig, path: Path) -> None:
        self.fig, self.path = fig, Path(path)

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<figure saved as {self.path}>"


def figure(results: Sequence[Result]) -> Picture:
    """The family's figure (see :func:`leaklab.plot.plot_family`), saved as ``OUT/<family>/<family>.png``."""
    from . import plot
    fig = plot.plot_family(results)
    return Picture(fig, plot.save_png(fig, plot.family_png(results)))


def overview_figure(results_by_family: Mapping[str, Sequence[Result]]) -> Picture:
    """All families as small multiples, saved as ``OUT/overview.png``."""
    from . import plot
    fig = plot.plot_overview(results_by_family)
    return Picture(fig, plot.save_png(fig, plot.overview_png(results_by_family)))


# --- the record and its check -----------------------------------------------------------------------------

def _record_of(results: Sequence[Result]) -> dict:
    first = results[0]
    meta_path = Path(first.run_dir) / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return {
        "family": first.family,
        "go_version": first.go_version,
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": meta.get("parameters", {}),
        "godebug": meta.get("godebug", ""),
        "goexperiment": meta.get("goexperiment", ""),
        "variants": {r.variant: {
            "verdict": r.verdict, "signal": r.signal, "rate_per_s": r.rate_per_s, "unit": r.unit,
            "capped": r.capped, "reason": r.reason, "run_dir": r.run_dir,
            "signals": {n: {k: v[k] for k in ("verdict", "rate_per_s", "start", "end", "unit")}
                        for n, v in r.signals.items()},
        } for r in results},
    }


def record(results: Sequence[Result]) -> Path:
    """Write what a family's runs measured (verdicts, rates, start and end per signal) beside its run folders."""
    path = Path(results[0].run_dir).parent / RECORD
    path.write_text(json.dumps(_record_of(results), indent=2))
    return path


def _band(value: float, signal: str) -> str:
    return SIGNALS[signal].rate(value)


def check_record(rec: dict, family: Family) -> list[str]:
    """Every way ``rec`` differs from ``family``'s expectations, one sentence each (empty: all as expected).

    The leaky and fixed variants must be there; any other variant recorded is checked too. The
    expectation is the one ``expect.toml`` declares for the Go version and GODEBUG the runs used.
    """
    problems = []
    recorded = rec.get("variants", {})
    for variant in dict.fromkeys([*DEFAULT_VARIANTS, *recorded]):
        if variant not in family.expect:
            problems.append(f"{family.name}/{variant}: recorded, but expect.toml declares no such variant")
            continue
        want = expectation(family, variant, rec.get("go_version", ""), rec.get("godebug", ""))
        got = recorded.get(variant)
        where = f"{family.name}/{variant}"
        if got is None:
            problems.append(f"{where}: nothing recorded for this variant (expected verdict {want.verdict!r})")
            continue
        sig = got["signals"].get(family.signal)
        if got["signal"] != family.signal or sig is None:
            problems.append(f"{where}: judged on signal {got['signal']!r}, expect.toml says {family.signal!r}")
            continue
        if got["verdict"] != want.verdict:
            problems.append(f"{where} {family.signal}: expected verdict {want.verdict!r}, measured "
                            f"{got['verdict']!r} ({got['reason']})")
        lo, hi = want.rate
        rate = float("nan") if got["rate_per_s"] is None else float(got["rate_per_s"])
        if got["capped"] and want.verdict == "leak":
            continue  # the memory cap cut the run short: the verdict is what counts, the rate is truncated
        if rate is None or not math.isfinite(rate) or not lo <= rate <= hi:
            problems.append(f"{where} {family.signal}: expected rate in [{lo:g}, {hi:g}] {sig['unit']}/s "
                            f"({_band(lo, family.signal)} .. {_band(hi, family.signal)}), measured "
                            f"{rate:g} {sig['unit']}/s ({_band(rate, family.signal)})")
    return problems


def check(out: str | Path, cases: Path | None = None) -> list[str]:
    """Check every record the notebooks wrote in ``out`` against ``expect.toml``; returns the differences."""
    out = Path(out)
    problems = []
    overview_path = out / OVERVIEW_RECORD
    from_overview = json.loads(overview_path.read_text()) if overview_path.is_file() else None
    for fam in families(cases):
        path = out / fam.name / RECORD
        if not path.is_file():
            problems.append(f"{fam.name}: no {RECORD} in {path.parent} (did its notebook run?)")
            continue
        problems += check_record(json.loads(path.read_text()), fam)
        if from_overview is not None and fam.name not in from_overview:
            problems.append(f"{fam.name}: missing from the overview's {overview_path}")
    if from_overview is None:
        problems.append(f"no {OVERVIEW_RECORD} in {out} (did 00-overview run?)")
    return problems


# --- executing the notebooks ------------------------------------------------------------------------------

def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The notebooks in the order they must run: family notebooks first, the overview (``00-``) last."""
    found = sorted((folder or notebooks_dir()).glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if not p.name.startswith("00-")] + [p for p in found if p.name.startswith("00-")]


def _check_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise KernelMissing(f"the Jupyter kernel {KERNEL!r} is not installed; run `make setup` (or: .venv/bin/python "
                            f"-m ipykernel install --sys-prefix --name {KERNEL})") from None


def _printed(executed: Path, index: int) -> str:
    """What cell ``index`` of an executed notebook wrote to stdout/stderr."""
    import nbformat
    try:
        cell = nbformat.read(str(executed), as_version=4).cells[index]
    except (OSError, IndexError, ValueError):
        return ""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream").strip()


def _local_kernel_manager(socket_dir: str):
    """A kernel manager whose kernel talks over Unix sockets (IPC) in ``socket_dir``: no TCP port is opened.

    jupyter_client's default IPC address is the relative ``kernel-ipc``, which puts the sockets in the
    working directory (the source tree) and lets two executions at once pick the same socket names.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            return os.path.join(socket_dir, "kernel-ipc")

    return LocalKernelManager


def execute(notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float = 300) -> Path:
    """Run ``notebook`` with papermill under the ``leaklab`` kernel; write the executed copy to ``output``.

    The kernel's sockets live in a private temporary folder, removed afterwards: nothing is written
    beside the notebook, and executions running at once never share a socket.
    Raises :class:`NotebookFailed` naming the notebook and carrying the failing cell's source and output.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError
    _check_kernel()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leaklab-kernel-") as socket_dir:
        try:
            papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters), kernel_name=KERNEL,
                                       execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
                                       kernel_manager_class=_local_kernel_manager(socket_dir))
        except PapermillExecutionError as exc:
            printed = _printed(output, exc.cell_index)
            raise NotebookFailed(f"notebook {notebook.name} failed in cell {exc.cell_index}:\n{exc.source}\n"
                                 + (f"--- the cell printed ---\n{printed}\n" if printed else "")
                                 + f"{exc}\n(executed copy: {output})") from None
        except TimeoutError as exc:
            raise NotebookFailed(f"notebook {notebook.name} exceeded its {timeout:g} s cell timeout: {exc}"
                                 f"\n(executed copy: {output})") from None
    return output


def execute_all(out: Path, executed: Path, *, duration: float = 3.0, interval: float = 0.05, warmup: float = 1.0,
                timeout: float = 300, folder: Path | None = None, jobs: int = 2,
                progress: Callable[[str], None] | None = None) -> list[Path]:
    """Execute every notebook with the same parameters; return the executed copies in :func:`notebook_paths` order.

    The family notebooks run ``jobs`` at a time, each in a worker process of its own (papermill changes
    the working directory, which a process has only one of); their programs are paced, so their verdicts
    do not depend on a busy machine. The overview runs last, when every family has left its run folders.
    """
    params = {"duration": duration, "interval": interval, "warmup": warmup, "out": str(Path(out).resolve())}
    executed = Path(executed).resolve()
    paths = notebook_paths(folder)
    family_nbs = [p for p in paths if not p.name.startswith("00-")]
    _check_kernel()
    try:
        if jobs > 1 and len(family_nbs) > 1:
            _execute_at_once(family_nbs, executed, params, timeout, jobs, progress)
        else:
            for nb in family_nbs:
                if progress:
                    progress(nb.name)
                execute(nb, executed / nb.name, params, timeout)
        for nb in paths[len(family_nbs):]:
            if progress:
                progress(nb.name)
            execute(nb, executed / nb.name, params, timeout)
    except KeyboardInterrupt:
        # Kernels run in sessions of their own, and so do the programs they measure: Ctrl-C reaches
        # neither. Whatever does not stop by itself is stopped.
        _stop_descendants(grace_s=3)
        raise
    return [executed / p.name for p in paths]


def _execute_at_once(notebooks: Sequence[Path], executed: Path, params: Mapping[str, object], timeout: float,
                     jobs: int, progress: Callable[[str], None] | None) -> None:
    """:func:`execute` every notebook, at most ``jobs`` at a time; raise the first failure once none is running."""
    import concurrent.futures as cf
    import multiprocessing
    waiting, running, failures = list(notebooks), {}, []
    # spawn: a fresh interpreter per worker (forking a process that has threads, such as rich's spinner, is unsafe)
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            while running or (waiting and not failures):
                while waiting and not failures and len(running) < jobs:
                    nb = waiting.pop(0)
                    running[pool.submit(execute, nb, executed / nb.name, params, timeout)] = nb
                if progress:
                    progress(" and ".join(nb.name for nb in running.values()))
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    if future.exception() is not None:
                        failures.append(future.exception())
        except BaseException:  # Ctrl-C: stop handing out work; execute_all stops what is running
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if failures:
        raise failures[0]


def _stop_descendants(grace_s: float) -> None:
    """Wait ``grace_s`` for this process's descendants (workers, kernels, the programs they run) to end,
    then kill the rest."""
    import psutil
    family = psutil.Process().children(recursive=True)
    _, alive = psutil.wait_procs(family, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
