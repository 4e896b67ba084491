"""The worker processes that execute the notebooks, one each, with papermill under the ``leaklab`` kernel.

Each notebook is executed by a Python process of its own, in a session of its own: a Ctrl-C at
the terminal reaches leaklab alone, which then stops every worker in order, rather than every
process of the group at whatever point each happens to be (in the old process pool a worker
could take it while starting, or between two notebooks, and die holding the pool's queue).
The worker is a child subreaper, so a program whose kernel died becomes its child, not init's,
and is stopped with it. It reads its standard input: "stop", or the end of file when leaklab
dies however it dies, interrupts the notebook. The kernel's and the worker's own output go to a
log file, shown only when the worker fails unexpectedly: an interrupted kernel prints pages of
ZMQError tracebacks that say nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from . import stopping
from .errors import Interrupted, LeakLabError, NotebookFailed

__all__ = ["KERNEL", "STOP_GRACE_S", "execute_in_workers"]

#: The Jupyter kernel ``make setup`` installs; papermill runs every notebook under it.
KERNEL = "leaklab"
#: How long the workers have to stop in order (interrupt the kernel, keep the runs as .failed) before they are killed.
STOP_GRACE_S = 15.0
_WORKER = "import sys; from leaklab.notebook_workers import _worker_main; _worker_main(sys.argv[1])"
_PR_SET_CHILD_SUBREAPER = 36


class _Worker:
    """One notebook executed by a worker process (:func:`_worker_main`) in a session of its own."""

    def __init__(self, notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float) -> None:
        self.notebook, self.output = notebook, output
        self.folder = Path(tempfile.mkdtemp(prefix="leaklab-notebook-", dir=_socket_home()))
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


#: The longest path a Unix socket may have (sun_path holds 108 bytes, the last a NUL).
_SOCKET_PATH_MAX = 107


def _socket_home() -> str | None:
    """Where the workers' folders go: the temporary folder (None), unless its path is too long for the
    kernel's sockets in it (``<folder>/kernel-ipc-N``; a deep TMPDIR of a CI workspace), then /tmp."""
    longest = os.path.join(tempfile.gettempdir(), "leaklab-notebook-" + "x" * 8, "kernel-ipc-99")
    return None if len(os.fsencode(longest)) <= _SOCKET_PATH_MAX else "/tmp"


def _wait_any(workers: Sequence[_Worker], timeout: float) -> list[_Worker]:
    """Wait up to ``timeout`` seconds for a worker to end; return those that have."""
    deadline = time.monotonic() + timeout
    while True:
        ended = [w for w in workers if w.popen.poll() is not None]
        left = deadline - time.monotonic()
        if ended or left <= 0:
            return ended
        time.sleep(min(0.05, left))


def execute_in_workers(jobs_to_run: Sequence[tuple[Path, Path]], parameters: Mapping[str, object], timeout: float,
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
