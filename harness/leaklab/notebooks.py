"""What the notebooks call, how they are executed, and the regression check of what they measured.

A family notebook makes three calls: :func:`run_family` (run both variants, write the record
``OUT/<family>/measured.json``), :func:`table` and :func:`figure` (show, and save the PNG next to the
run data). The overview notebook calls :func:`overview`, which reuses the run folders the family
notebooks left (running only the families that have none) and writes ``OUT/overview.json``.

:func:`execute_all` runs every notebook with papermill under the ``leaklab`` kernel (family notebooks
first, two at a time, the overview last, so no family is run twice), each in a worker process that a
signal, or leaklab's death, stops with its kernel and programs; :func:`check` compares every record
with the families' ``expect.toml``, the same expectations the CLI uses.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import html
import io
import json
import math
import numbers
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import psutil

from . import _json, stopping
from .cases import Family, expectation, families, get_family
from .errors import BadParameter, Interrupted, KernelMissing, LeakLabError, NotebookFailed
from .lab import Result, load_result
from .lab import run_family as _run_family
from .paths import content
from .probe import SIGNALS
from .run import Limits
from .runfolder import RunFolder

__all__ = ["KERNEL", "notebooks_dir", "RECORD", "STOP_GRACE_S", "Picture", "check",
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


# --- the calls the notebooks make -------------------------------------------------------------------------

def _limits(duration: float, interval: float, warmup: float) -> Limits:
    _check_parameters({"duration": duration, "interval": interval, "warmup": warmup})
    return Limits(duration_s=float(duration), interval_s=float(interval), warmup_s=float(warmup))


def run_family(name: str, *, duration: float = 4.0, interval: float = 0.05, warmup: float = 1.0,
               out: str | Path = "runs") -> list[Result]:
    """Run a family's leaky and fixed variants and record what was measured in ``OUT/<family>/measured.json``."""
    results = _run_family(name, limits=_limits(duration, interval, warmup), out=Path(out), profiles=True,
                          live=_live_figure())
    record(results)
    return results


def _live_figure():
    """In a notebook run by hand, a figure of the running program's signal, redrawn once a second; in a
    batch run (``leaklab report``, papermill under it: $LEAKLAB_BATCH) or outside a kernel, nothing."""
    if os.environ.get("LEAKLAB_BATCH"):
        return None
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return None
    if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
        return None
    from matplotlib.figure import Figure

    from .plot import COLOURS
    fig = Figure(figsize=(7, 2.4), layout="constrained")
    ax = fig.subplots()
    handle = display(Image(data=_png(fig)), display_id=True)
    drawn = [0.0]

    def draw(view) -> None:
        if time.monotonic() - drawn[0] < 1.0 and not view.decided:
            return
        drawn[0] = time.monotonic()
        sig = SIGNALS[view.signal]
        ax.clear()
        colour = COLOURS.get(view.label.rsplit("/", 1)[-1], "#555555")
        shown = [v / sig.scale for v in view.recent]
        ax.plot(shown, color=colour, lw=2)
        if shown:  # no finer than ten seconds of growth at the threshold: noise on a flat curve looks flat
            ax.set_ylim(min(shown), max(max(shown), min(shown) + 10 * sig.min_rate / sig.scale) * 1.02)
        ax.set_title(f"{view.label}, {sig.label}, after {view.elapsed_s:.1f} s: {view.verdict}"
                     + (f", {sig.rate(view.rate_per_s)}" if math.isfinite(view.rate_per_s) else ""), loc="left")
        ax.set_xlabel("its last points (oldest on the left)")
        ax.set_ylabel(sig.display_unit)
        handle.update(Image(data=_png(fig)))
    return draw


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def load_results(out: str | Path, name: str) -> list[Result] | None:
    """The results a previous run of family ``name`` left in ``out``, or ``None`` if a variant is missing."""
    fam = get_family(name)
    dirs = [Path(out) / fam.name / v for v in DEFAULT_VARIANTS]
    if not all(RunFolder(d).result.is_file() for d in dirs):
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
    path.write_text(_json.dumps({name: _record_of(rs) for name, rs in by_family.items()}, indent=2))
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
    meta = RunFolder(first.run_dir).read_meta()
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
    path.write_text(_json.dumps(_record_of(results), indent=2))
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
        if not math.isfinite(rate) or not lo <= rate <= hi:
            measured = (f"{rate:g} {sig['unit']}/s ({_band(rate, family.signal)})" if math.isfinite(rate)
                        else "no rate (the run could not measure one)")
            problems.append(f"{where} {family.signal}: expected rate in [{lo:g}, {hi:g}] {sig['unit']}/s "
                            f"({_band(lo, family.signal)} .. {_band(hi, family.signal)}), measured {measured}")
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
                            f"-m ipykernel install --sys-prefix --name {KERNEL})", kernel=KERNEL) from None


def _printed(executed: Path, index: int) -> str:
    """What cell ``index`` of an executed notebook wrote to stdout/stderr."""
    import nbformat
    try:
        cell = nbformat.read(str(executed), as_version=4).cells[index]
    except (OSError, IndexError, ValueError):
        return ""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream").strip()


def _local_kernel_manager(folder: str):
    """A kernel manager whose kernel talks over Unix sockets (IPC) in ``folder``: no TCP port is opened.

    jupyter_client's default IPC address is the relative ``kernel-ipc``, which puts the sockets in the
    working directory (the source tree) and lets two executions at once pick the same socket names;
    its connection file would go to the system's temporary folder. Both live in ``folder`` instead.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            return os.path.join(folder, "kernel-ipc")

        @default("connection_file")
        def _connection_file_default(self) -> str:
            return os.path.join(folder, "kernel.json")

    return LocalKernelManager


def _check_parameters(parameters: Mapping[str, object]) -> None:
    """Refuse a parameter that is a number but not a finite one (NaN, an infinity), naming it."""
    for name, value in parameters.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise BadParameter(f"notebook parameter {name} = {value!r}: give a finite number")


def execute(notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float = 300) -> Path:
    """Run ``notebook`` with papermill under the ``leaklab`` kernel; write the executed copy to ``output``.

    The notebook runs in a worker process of its own (see :func:`execute_all`, which this is with one
    notebook); the kernel's sockets live in a private temporary folder, removed afterwards: nothing
    is written beside the notebook, and executions running at once never share a socket.
    Raises :class:`NotebookFailed` naming the notebook and carrying the failing cell's source and output,
    :class:`BadParameter` for a parameter that is NaN or infinite, and
    :class:`~leaklab.errors.Interrupted` (a ``KeyboardInterrupt``) when a signal stopped it.
    """
    _check_parameters(parameters)
    _check_kernel()
    _execute_in_workers([(Path(notebook), Path(output))], parameters, timeout, jobs=1, progress=None)
    return Path(output)


def execute_all(out: Path, executed: Path, *, duration: float = 3.0, interval: float = 0.05, warmup: float = 1.0,
                timeout: float = 300, folder: Path | None = None, jobs: int = 2,
                progress: Callable[[str], None] | None = None) -> list[Path]:
    """Execute every notebook with the same parameters; return the executed copies in :func:`notebook_paths` order.

    The family notebooks run ``jobs`` at a time, each in a worker process of its own (papermill changes
    the working directory, which a process has only one of); their programs are paced, so their verdicts
    do not depend on a busy machine. The overview runs last, when every family has left its run folders.

    SIGINT, SIGTERM or SIGHUP stops every notebook under way: each worker interrupts its kernel, whose
    run keeps what it measured as ``<variant>.failed``, and ends; what does not end within a few
    seconds is killed, and :class:`~leaklab.errors.Interrupted` is raised. The workers run in
    sessions of their own and watch this process: if it dies, they stop the same way by themselves.
    """
    params = {"duration": duration, "interval": interval, "warmup": warmup, "out": str(Path(out).resolve())}
    _check_parameters(params)
    executed = Path(executed).resolve()
    paths = notebook_paths(folder)
    family_nbs = [p for p in paths if not p.name.startswith("00-")]
    _check_kernel()
    _execute_in_workers([(nb, executed / nb.name) for nb in family_nbs], params, timeout, jobs, progress)
    _execute_in_workers([(nb, executed / nb.name) for nb in paths[len(family_nbs):]], params, timeout, 1, progress)
    return [executed / p.name for p in paths]


# --- the worker processes ---------------------------------------------------------------------------------
#
# Each notebook is executed by a Python process of its own, in a session of its own: a Ctrl-C at
# the terminal reaches leaklab alone, which then stops every worker in order, rather than every
# process of the group at whatever point each happens to be (in the old process pool a worker
# could take it while starting, or between two notebooks, and die holding the pool's queue).
# The worker is a child subreaper, so a program whose kernel died becomes its child, not init's,
# and is stopped with it. It reads its standard input: "stop", or the end of file when leaklab
# dies however it dies, interrupts the notebook. The kernel's and the worker's own output go to a
# log file, shown only when the worker fails unexpectedly: an interrupted kernel prints pages of
# ZMQError tracebacks that say nothing.

#: How long the workers have to stop in order (interrupt the kernel, keep the runs as .failed) before they are killed.
STOP_GRACE_S = 15.0
_WORKER = "import sys; from leaklab.notebooks import _worker_main; _worker_main(sys.argv[1])"
_PR_SET_CHILD_SUBREAPER = 36


class _Worker:
    """One notebook executed by a worker process (:func:`_worker_main`) in a session of its own."""

    def __init__(self, notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float) -> None:
        self.notebook, self.output = notebook, output
        self.folder = Path(tempfile.mkdtemp(prefix="leaklab-notebook-"))
        job = {"notebook": str(notebook.resolve()), "output": str(output.resolve()), "parameters": dict(parameters),
               "timeout": timeout}
        (self.folder / "job.json").write_text(json.dumps(job))
        package_home = str(Path(__file__).resolve().parents[1])  # the worker imports this very leaklab
        env = {**os.environ, "LEAKLAB_BATCH": "1", "PYTHONPATH": os.pathsep.join(filter(None, [package_home, os.environ.get("PYTHONPATH")]))}
        try:
            with open(self.folder / "worker.log", "wb") as log:
                self.popen = subprocess.Popen([sys.executable, "-c", _WORKER, str(self.folder)], stdin=subprocess.PIPE,
                                              stdout=log, stderr=log, env=env, start_new_session=True)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def stop(self) -> None:
        """Ask the worker to interrupt its notebook and end."""
        assert self.popen.stdin is not None  # started with stdin=PIPE
        try:
            self.popen.stdin.write(b"stop\n")
            self.popen.stdin.flush()
        except OSError:
            pass  # it has ended already

    def kill(self) -> None:
        """Kill the worker with its kernel and whatever they run."""
        stopping.kill_tree(self.popen.pid)
        self.popen.wait()

    def result(self) -> LeakLabError | None:
        """Once the worker has ended: None if the notebook ran, else the error to raise."""
        try:
            outcome = json.loads((self.folder / "result.json").read_text())
        except (OSError, ValueError):
            return NotebookFailed(f"notebook {self.notebook.name}: its worker process ended with status "
                                  f"{self.popen.returncode} before finishing; its last words:\n{self._log_tail()}",
                                  notebook=self.notebook.name)
        if outcome["status"] == "ok":
            return None
        if outcome["status"] == "failed":
            return NotebookFailed(outcome["message"], notebook=self.notebook.name)
        if outcome["status"] == "interrupted":
            return NotebookFailed(f"notebook {self.notebook.name} was interrupted: its worker received a signal",
                                  notebook=self.notebook.name)
        return NotebookFailed(f"notebook {self.notebook.name} could not be executed: {outcome['message']}",
                              notebook=self.notebook.name)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.folder / "worker.log").read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"

    def close(self) -> None:
        """Reap the worker and remove its folder (kernel sockets, connection file, log)."""
        if self.popen.poll() is None:
            self.kill()
        assert self.popen.stdin is not None  # started with stdin=PIPE
        with contextlib.suppress(OSError):
            self.popen.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _wait_any(workers: Sequence[_Worker], timeout: float) -> list[_Worker]:
    """Wait up to ``timeout`` seconds for a worker to end; return those that have."""
    deadline = time.monotonic() + timeout
    while True:
        ended = [w for w in workers if w.popen.poll() is not None]
        left = deadline - time.monotonic()
        if ended or left <= 0:
            return ended
        time.sleep(min(0.05, left))


def _execute_in_workers(jobs_to_run: Sequence[tuple[Path, Path]], parameters: Mapping[str, object], timeout: float,
                        jobs: int, progress: Callable[[str], None] | None) -> None:
    """Execute each (notebook, output), at most ``jobs`` at a time; raise the first failure once none is running."""
    waiting = list(jobs_to_run)
    running: list[_Worker] = []
    failures: list[LeakLabError] = []
    try:
        with stopping.raising():
            while running or (waiting and not failures):
                while waiting and not failures and len(running) < jobs:
                    running.append(_Worker(*waiting.pop(0), parameters, timeout))
                if progress:
                    progress(" and ".join(w.notebook.name for w in running))
                for worker in _wait_any(running, timeout=3600):
                    running.remove(worker)
                    error = worker.result()
                    worker.close()
                    if error:
                        failures.append(error)
    except BaseException as exc:
        _stop(running)
        if isinstance(exc, KeyboardInterrupt):
            signum = stopping.signum_of(exc)
            how = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
            raise Interrupted(f"interrupted{how}; the runs under way are kept as <variant>.failed", signum) from None
        raise
    if failures:
        raise failures[0]


def _stop(workers: Sequence[_Worker], grace_s: float = STOP_GRACE_S) -> None:
    """Stop ``workers`` in order, kill those still running after ``grace_s`` (at once on a second Ctrl-C)."""
    try:
        for worker in workers:
            worker.stop()
        running, deadline = list(workers), time.monotonic() + grace_s
        while running and time.monotonic() < deadline:
            for worker in _wait_any(running, timeout=deadline - time.monotonic()):
                running.remove(worker)
    except KeyboardInterrupt:
        pass  # asked twice: no more waiting
    finally:
        for worker in workers:
            worker.close()


def _worker_main(folder: str) -> None:
    """A worker process: execute the notebook ``folder/job.json`` describes; write ``folder/result.json``."""
    folder_path = Path(folder)
    job = json.loads((folder_path / "job.json").read_text())
    with contextlib.suppress(OSError, AttributeError):  # a child subreaper: orphans of the kernel come to us
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for s in stopping.STOP_SIGNALS:  # whichever arrives (ours, or the machine's shutdown) interrupts the notebook
        signal.signal(s, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping.STOP_SIGNALS)
    orphaned = threading.Event()
    threading.Thread(target=_await_stop, args=(orphaned,), daemon=True).start()
    try:
        _execute_here(Path(job["notebook"]), Path(job["output"]), job["parameters"], job["timeout"], folder)
        outcome = {"status": "ok"}
    except NotebookFailed as exc:
        outcome = {"status": "failed", "message": str(exc)}
    except KeyboardInterrupt:
        outcome = {"status": "interrupted"}
    except Exception as exc:  # whatever papermill or the kernel raised: the parent says it in one message
        traceback.print_exc()
        outcome = {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    for s in stopping.STOP_SIGNALS:  # from here on nothing may interrupt the worker's own cleanup
        signal.signal(s, signal.SIG_IGN)
    stopping.kill_tree(os.getpid(), keep_root=True)  # a kernel that would not stop, a program it left
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            child.wait(timeout=5)  # reap what came to us as a subreaper
    (folder_path / "result.tmp").write_text(json.dumps(outcome))
    (folder_path / "result.tmp").rename(folder_path / "result.json")
    if orphaned.is_set():  # nobody is left to read it or to remove the folder
        shutil.rmtree(folder_path, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter shutdown: nothing left to do, and nothing there may hang (zmq, threads)


def _await_stop(orphaned: threading.Event) -> None:
    """In the worker: wait for "stop" (or the end of file, when leaklab died), then interrupt the notebook."""
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping.STOP_SIGNALS)  # signals go to the main thread
    try:
        said = os.read(0, 64)  # not sys.stdin: its lock, held here, would stop the interpreter from exiting
    except OSError:
        said = b""
    if not said:
        orphaned.set()
    ident = threading.main_thread().ident
    assert ident is not None  # the main thread has started
    signal.pthread_kill(ident, signal.SIGINT)


def _execute_here(notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float, folder: str) -> None:
    """Run ``notebook`` with papermill in this process (a worker), the kernel's sockets in ``folder``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters), kernel_name=KERNEL,
                                   execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
                                   kernel_manager_class=_local_kernel_manager(folder))
    except PapermillExecutionError as exc:
        printed = _printed(output, exc.cell_index)
        raise NotebookFailed(f"notebook {notebook.name} failed in cell {exc.cell_index}:\n{exc.source}\n"
                             + (f"--- the cell printed ---\n{printed}\n" if printed else "")
                             + f"{exc}\n(executed copy: {output})", notebook=notebook.name) from None
    except TimeoutError as exc:
        raise NotebookFailed(f"notebook {notebook.name} exceeded its {timeout:g} s cell timeout: {exc}"
                             f"\n(executed copy: {output})", notebook=notebook.name) from None
