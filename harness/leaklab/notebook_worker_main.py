"""Inside a notebook worker process (see :mod:`leaklab.notebook_workers`): start the kernel before the
notebook's turn, wait for "go", execute the notebook with papermill, and end leaving nothing behind.

The worker reads its standard input: "go" lets the notebook begin; "stop", or the end of file when
leaklab dies however it dies, interrupts it (or ends the worker before it began). It is a child
subreaper, so a program whose kernel died becomes its child, not init's, and is killed with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

import psutil

from . import stopping
from .errors import NotebookFailed

__all__ = ["KERNEL", "worker_main"]

#: The Jupyter kernel ``make setup`` installs; papermill runs every notebook under it.
KERNEL = "leaklab"
_PR_SET_CHILD_SUBREAPER = 36


def worker_main(folder: str) -> None:
    """A worker process: execute the notebook ``folder/job.json`` describes; write ``folder/result.json``."""
    folder_path = Path(folder)
    job = json.loads((folder_path / "job.json").read_text())
    with contextlib.suppress(OSError, AttributeError):  # a child subreaper: orphans of the kernel come to us
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for s in stopping.STOP_SIGNALS:  # whichever arrives (ours, or the machine's shutdown) interrupts the notebook
        signal.signal(s, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping.STOP_SIGNALS)
    orphaned, km, first = threading.Event(), None, _FirstWord()
    threading.Thread(target=_listen, args=(orphaned, first), daemon=True).start()
    try:
        km = _start_kernel(Path(job["notebook"]), folder)
        with _interrupting:
            first.started.set()  # from here the first word is waited for, not sent as an interruption
        (folder_path / "ready").touch()
        first.heard.wait()
        if first.word == "go":
            _execute_here(Path(job["notebook"]), Path(job["output"]), job["parameters"], job["timeout"], km)
            outcome = {"status": "ok"}
        else:  # "stop" before its turn, or leaklab died
            outcome = {"status": "cancelled"}
    except NotebookFailed as exc:
        outcome = {"status": "failed", "message": str(exc)}
    except KeyboardInterrupt:
        outcome = {"status": "interrupted"}
    except Exception as exc:  # whatever papermill or the kernel raised: the parent says it in one message
        traceback.print_exc()
        outcome = {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    _ignore_stop_signals()  # from here on nothing may interrupt the worker's own cleanup
    if km is not None:  # as nbclient does with a kernel of its own: interrupt it (a run keeps .failed), then end it
        with contextlib.suppress(Exception):
            from jupyter_core.utils import run_sync
            # One that never ran the notebook has nothing to finish: no need to wait up to 5 s for it to end itself
            run_sync(km.shutdown_kernel)(now=outcome["status"] == "cancelled")
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


_heard = bytearray()  # what leaklab wrote on the worker's stdin and was not read as a word yet


def _next_word() -> str:
    """The next line leaklab writes on stdin ("go", "stop"); "" at its end of file, when leaklab died."""
    while b"\n" not in _heard:
        try:
            chunk = os.read(0, 64)  # not sys.stdin: its lock, held here, would stop the interpreter from exiting
        except OSError:
            chunk = b""
        if not chunk:
            return ""
        _heard.extend(chunk)
    line, _, rest = bytes(_heard).partition(b"\n")
    _heard[:] = rest
    return line.decode(errors="replace").strip()


#: Held while the notebook is interrupted, and while the worker stops taking interruptions: a "stop" that
#: comes as the notebook ends does not interrupt the worker's cleanup.
_interrupting = threading.Lock()
_ended = threading.Event()


@dataclasses.dataclass
class _FirstWord:
    """The first word leaklab wrote ("go", "stop"; "" when it died), and whether the kernel has started."""

    word: str = ""
    heard: threading.Event = dataclasses.field(default_factory=threading.Event)
    started: threading.Event = dataclasses.field(default_factory=threading.Event)


def _listen(orphaned: threading.Event, first: _FirstWord) -> None:
    """In the worker, from its start: read leaklab's first word for the main thread; after "go", wait for
    "stop" and interrupt the notebook. At the end of file (leaklab died) interrupt the notebook, or the
    kernel's start if it is still starting: an orphaned worker ends at once, not after the start."""
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping.STOP_SIGNALS)  # signals go to the main thread
    first.word = _next_word()
    first.heard.set()
    if first.word == "stop":
        return  # before its turn: the main thread cancels once its kernel has started
    word = _next_word() if first.word == "go" else ""
    if not word:
        orphaned.set()
    ident = threading.main_thread().ident
    assert ident is not None  # the main thread has started
    with _interrupting:
        if not _ended.is_set() and (first.word == "go" or not first.started.is_set()):
            signal.pthread_kill(ident, signal.SIGINT)


def _ignore_stop_signals() -> None:
    """From now on the stop signals are ignored; one that came as the notebook ended is dropped."""
    while True:
        try:
            with _interrupting:
                _ended.set()
                for s in stopping.STOP_SIGNALS:
                    signal.signal(s, signal.SIG_IGN)  # a signal already pending is raised here, once
            return
        except KeyboardInterrupt:
            continue  # the notebook has ended (or was interrupted) already: nothing left to interrupt


#: What the kernel imports before the notebook's turn: the modules the lab's pages begin with.
_WARM_UP = "import leaklab.notebooks, leaklab.diagnose, leaklab.service"


def _start_kernel(notebook: Path, folder: str):
    """Start the ``leaklab`` kernel for ``notebook`` (its folder the working one, its sockets in ``folder``)
    and have it import the lab, silently (no output, no execution count); return its manager."""
    from jupyter_core.utils import run_sync

    km = _local_kernel_manager(folder)(kernel_name=KERNEL)
    # as nbclient starts a kernel: in the notebook's folder, with an in-memory history
    run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(notebook.parent))
    import papermill  # noqa: F401  (imported while the kernel starts, before the notebook's turn)

    async def warm_up() -> None:
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(_WARM_UP, silent=True, store_history=False, timeout=60)
        finally:
            kc.stop_channels()

    run_sync(warm_up)()
    return km


def _execute_here(notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float, km) -> None:
    """Run ``notebook`` with papermill in this process (a worker), on the kernel ``km`` started for it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters), kernel_name=KERNEL,
                                   execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent), km=km)
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
