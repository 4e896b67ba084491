"""The worker processes that execute the notebooks, one each, with papermill under the ``leaklab`` kernel.

Each notebook is executed by a Python process of its own (:mod:`leaklab.notebook_worker_main`), in a
session of its own: a Ctrl-C at the terminal reaches leaklab alone, which then stops every worker in
order, rather than every process of the group at whatever point each happens to be (in the old
process pool a worker could take it while starting, or between two notebooks, and die holding the
pool's queue). The kernel's and the worker's own output go to a log file, shown only when the worker
fails unexpectedly: an interrupted kernel prints pages of ZMQError tracebacks that say nothing.

A worker is started before its notebook's turn: it imports papermill, starts the kernel and has it
import the lab, then waits for "go". One is started ahead of its turn, while the notebooks before it
run their programs, so a freed slot finds a kernel ready: the second or two a page would spend
starting is spent while the others work.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import stopping
from .errors import Interrupted, LeakLabError, NotebookFailed
from .notebook_worker_main import KERNEL

__all__ = ["KERNEL", "STOP_GRACE_S", "execute_in_workers"]

#: How long the workers have to stop in order (interrupt the kernel, keep the runs as .failed) before they are killed.
STOP_GRACE_S = 15.0
_WORKER = "import sys; from leaklab.notebook_worker_main import worker_main; worker_main(sys.argv[1])"


class _Worker:
    """One notebook executed by a worker process (:func:`leaklab.notebook_worker_main.worker_main`) in a
    session of its own."""

    def __init__(self, notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float,
                 stage: int = 0) -> None:
        self.notebook, self.output, self.stage, self.going = notebook, output, stage, False
        job = {"notebook": str(notebook.resolve()), "output": str(output.resolve()), "parameters": dict(parameters),
               "timeout": timeout}
        package_home = str(Path(__file__).resolve().parents[1])  # the worker imports this very leaklab
        env = {**os.environ, "LEAKLAB_BATCH": "1", "PYTHONPATH": os.pathsep.join(filter(None, [package_home, os.environ.get("PYTHONPATH")]))}
        self.folder = Path(tempfile.mkdtemp(prefix="leaklab-notebook-", dir=_socket_home()))
        try:
            (self.folder / "job.json").write_text(json.dumps(job))
            with open(self.folder / "worker.log", "wb") as log:
                self.popen = subprocess.Popen([sys.executable, "-c", _WORKER, str(self.folder)], stdin=subprocess.PIPE,
                                              stdout=log, stderr=log, env=env, start_new_session=True)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @property
    def ready(self) -> bool:
        """Whether it has finished starting (its kernel is up and waits for "go"), or has ended."""
        return self.popen.poll() is not None or (self.folder / "ready").exists()

    def go(self) -> None:
        """Let the worker execute its notebook (once it is ready, if it is not yet)."""
        self.going = True
        self._say(b"go\n")

    def stop(self) -> None:
        """Ask the worker to interrupt its notebook (or not to begin it) and end."""
        self._say(b"stop\n")

    def _say(self, word: bytes) -> None:
        assert self.popen.stdin is not None  # started with stdin=PIPE
        try:
            self.popen.stdin.write(word)
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
        if outcome["status"] in ("ok", "cancelled"):
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


def execute_in_workers(stages: Sequence[Sequence[tuple[Path, Path]]], parameters: Mapping[str, object],
                       timeout: float, jobs: int, progress: Callable[[str], None] | None,
                       done: Callable[[Path], None] | None = None) -> None:
    """Execute each (notebook, output), at most ``jobs`` at a time; raise the first failure once none is running.

    ``stages`` run in order: a notebook of a stage begins once every notebook of the stages before it
    has ended. One worker is started ahead of its turn, once the others are up (more kernels warming at
    once took the CPU the running pages' programs needed: a fixed program was called leaking in the
    suite), so that a freed slot is taken by a worker whose kernel is ready. ``done`` is
    called with each output as its notebook has run.
    """
    schedule = _Schedule(stages, parameters, timeout, jobs)
    try:
        with stopping.raising():
            shown = ""
            while schedule.step(done):
                names = " and ".join(w.notebook.name for w in schedule.workers if w.going)
                if progress and names and names != shown:
                    progress(names)
                    shown = names
                time.sleep(0.05)
    except BaseException as exc:
        _stop(schedule.workers)
        if isinstance(exc, KeyboardInterrupt):
            signum = stopping.signum_of(exc)
            how = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
            raise Interrupted(f"interrupted{how}; the runs under way are kept as <variant>.failed", signum) from None
        raise
    if schedule.failures:
        raise schedule.failures[0]


class _Schedule:
    """Which notebook runs when: the workers started (in the order they go) and those still waiting."""

    def __init__(self, stages: Sequence[Sequence[tuple[Path, Path]]], parameters: Mapping[str, object],
                 timeout: float, jobs: int) -> None:
        self.waiting = [(stage, nb, out) for stage, pairs in enumerate(stages) for nb, out in pairs]
        self.parameters, self.timeout, self.jobs = parameters, timeout, jobs
        self.workers: list[_Worker] = []
        self.failures: list[LeakLabError] = []

    def step(self, done: Callable[[Path], None] | None) -> bool:
        """Reap the workers that ended, let the next ones go, start one ahead; False once all is over."""
        for worker in [w for w in self.workers if w.popen.poll() is not None]:
            self.workers.remove(worker)
            error = worker.result()
            worker.close()
            if error:
                self.failures.append(error)
                self.waiting.clear()
                for waiting in self.workers:  # no more notebooks begin: those waiting for their turn end
                    if not waiting.going:
                        waiting.stop()
            elif worker.going and done:
                done(worker.output)
        if self.failures:
            return bool(self.workers)
        running = sum(w.going for w in self.workers)
        earliest = min([w.stage for w in self.workers] + [stage for stage, *_ in self.waiting], default=0)
        for worker in self.workers:  # a free slot takes the next worker, once its stage has begun
            if not worker.going and running < self.jobs and worker.stage == earliest:
                worker.go()
                running += 1
        # a free slot gets a worker at once, and one more waits ready for the next free slot
        if self.waiting and (len(self.workers) < self.jobs or (len(self.workers) - running < 1
                                                               and all(w.ready for w in self.workers))):
            stage, notebook, output = self.waiting.pop(0)
            self.workers.append(_Worker(notebook, output, self.parameters, self.timeout, stage))
        return bool(self.workers or self.waiting)


def _stop(workers: Sequence[_Worker], grace_s: float = STOP_GRACE_S) -> None:
    """Stop ``workers`` in order, kill those still running after ``grace_s`` (at once on a second Ctrl-C)."""
    try:
        for worker in workers:
            worker.stop()
        running, deadline = list(workers), time.monotonic() + grace_s
        while running and time.monotonic() < deadline:
            running = [w for w in running if w.popen.poll() is None]
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # asked twice: no more waiting
    finally:
        for worker in workers:
            worker.close()
