"""How leaklab stops what it started: on a signal, and whatever else ends it.

``timeout``, a cancelled CI job, ``docker stop`` and systemd send SIGTERM; a closed terminal sends
SIGHUP. Their default action ends Python at once, without running a ``finally``: the go command, the
program or the notebook workers would live on. Inside :func:`raising`, both raise
:class:`~leaklab.errors.Interrupted`, as SIGINT raises ``KeyboardInterrupt``, and the code that
started a process stops it on the way out: :func:`kill_tree` (frozen first, so nothing forks while
it is being killed), then :func:`wait_ended` (a process is gone when it no longer runs or is a zombie).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import psutil

from .errors import Interrupted

__all__ = ["STOP_SIGNALS", "Descendants", "kill_all", "kill_tree", "raising", "signum_of",
           "wait_ended"]

#: The signals that end leaklab cleanly: Ctrl-C, `timeout`/`docker stop`/systemd, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}", signum)


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.

    Only a signal left at its default action is changed: one that is ignored (``nohup`` ignores
    SIGHUP) or handled by the caller stays as it is. Outside the main thread, where Python cannot
    handle signals, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(s) == signal.SIG_DFL}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def signum_of(exc: BaseException) -> int:
    """The signal behind an interruption: ``signum`` of :class:`Interrupted`, SIGINT for a bare Ctrl-C."""
    return int(getattr(exc, "signum", signal.SIGINT))


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_ended(procs: Iterable[psutil.Process], within: float) -> list[psutil.Process]:
    """Wait up to ``within`` seconds for ``procs`` to end; return those still running (zombies count as ended).

    Unlike ``psutil.wait_procs`` this does not wait for a zombie that is not our child to be reaped.
    """
    procs = list(procs)
    deadline = time.monotonic() + within
    while True:
        alive = [p for p in procs if _alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int, *, also: Iterable[psutil.Process] = (), within: float = 5.0,
              keep_root: bool = False) -> list[psutil.Process]:
    """SIGKILL process ``pid``, its descendants and ``also``; return those still running after ``within`` s.

    Each is stopped (SIGSTOP) before anything is killed, and the tree is walked again until no new
    process shows up: a process cannot fork a replacement while it waits to be killed. With
    ``keep_root``, ``pid`` itself (say, the caller) is spared and only its descendants are killed.
    """
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        root = None
    also = list(also)
    return kill_all(lambda: [p for p in (_tree(root) if root else []) + also if not (keep_root and p.pid == pid)],
                    within=within)


def kill_all(find: Callable[[], Iterable[psutil.Process]], *, within: float = 5.0) -> list[psutil.Process]:
    """SIGKILL every process ``find()`` returns, calling it again until it finds none it has not stopped yet.

    Return those still running after ``within`` s. Each is stopped (SIGSTOP) before any is killed, so
    none forks a replacement, or hands a child over to a subreaper, while the others are being killed.
    """
    frozen: dict[int, psutil.Process] = {}
    for _ in range(20):
        new = [p for p in find() if p.pid not in frozen]
        if not new:
            break
        for p in new:
            frozen[p.pid] = p
            with contextlib.suppress(psutil.Error):
                p.suspend()
    for p in frozen.values():
        with contextlib.suppress(psutil.Error):
            p.kill()
    return wait_ended(frozen.values(), within)


@contextlib.contextmanager
def subreaper() -> Iterator[bool]:
    """While the block runs, this process is a child subreaper (Linux 3.4+): an orphan among its descendants
    becomes its child, not init's, however it detached (``setsid``, a double fork).

    Yields whether the kernel agreed. Blocks may nest and overlap (threads): the process stays a
    subreaper until the last one ends, so orphans of unrelated work that end later (a browser's helper
    processes, say) go to init as before. Reaping what comes here is the block's part (see :class:`Descendants`).
    """
    global _subreapers, _subreaper_before
    with _subreaper_lock:
        if _subreapers == 0:
            _subreaper_before = _prctl(_PR_GET_CHILD_SUBREAPER)  # a process that already was one stays one
            _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _subreapers += 1
        agreed = bool(_prctl(_PR_GET_CHILD_SUBREAPER))
    try:
        yield agreed
    finally:
        with _subreaper_lock:
            _subreapers -= 1
            if _subreapers == 0:
                _prctl(_PR_SET_CHILD_SUBREAPER, _subreaper_before)


def _prctl(option: int, value: int | None = None) -> int:
    """prctl(2) for the child-subreaper flag: set it to ``value``, or read it; 0 where there is no prctl."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return 0
    if value is not None:
        return int(prctl(option, value, 0, 0, 0) == 0)
    flag = ctypes.c_int(0)
    return flag.value if prctl(option, ctypes.byref(flag), 0, 0, 0) == 0 else 0


_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37
_subreaper_lock = threading.Lock()
_subreapers = 0
_subreaper_before = 0


def _scan() -> dict[int, tuple[int, int]]:
    """Every process now: pid -> (parent pid, start time in clock ticks), from one pass over /proc."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue  # ended meanwhile
            # the command name (field 2) may hold spaces and parentheses: count the fields after its last ')'
            fields = stat[stat.rindex(b")") + 2:].split()
            found[int(name)] = (int(fields[1]), int(fields[19]))
    return found


class Descendants:
    """Every process a program started, wherever it went, until :meth:`kill` ends them all.

    The program's descendants are those under it now, those seen under it before (a daemon whose
    parent has exited), and, with this process a child subreaper (:func:`subreaper`), the
    children of this process whose environment holds ``marker`` (``NAME=VALUE``, given to the
    program alone): orphans of the program that came here. :meth:`note` (called while it runs)
    remembers what it finds, so a descendant that detached and cleared its environment is still
    known once it has been seen. A process is known by its pid and start time, so a pid reused by
    another process is never mistaken for one of them.
    """

    def __init__(self, root: int, marker: tuple[str, str]) -> None:
        self.root, self.marker, self.me = root, marker, os.getpid()
        self.seen: dict[int, int] = {}  # pid -> start time
        self._marks: dict[tuple[int, int], bool] = {}

    def _marked(self, pid: int, start: int) -> bool:
        if (pid, start) not in self._marks:
            try:
                environ = psutil.Process(pid).environ()
            except psutil.Error:
                return False  # a zombie shows no environment: it counts only if it was seen before
            self._marks[(pid, start)] = environ.get(self.marker[0]) == self.marker[1]
        return self._marks[(pid, start)]

    def note(self) -> list[int]:
        """The pids of the program and of its descendants running now (the program first), each remembered."""
        procs = _scan()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        tops = [self.root] + [pid for pid in children.get(self.me, []) if pid != self.root and (
            self.seen.get(pid) == procs[pid][1] or self._marked(pid, procs[pid][1]))]
        tops += [pid for pid, start in self.seen.items() if procs.get(pid, (0, None))[1] == start]
        found: dict[int, None] = {}
        while tops:
            pid = tops.pop(0)
            if pid in procs and pid not in found:
                found[pid] = None
                tops += children.get(pid, [])
        for pid in found:
            self.seen[pid] = procs[pid][1]
        return list(found)

    def processes(self) -> list[psutil.Process]:
        """:meth:`note`, as processes (those that ended meanwhile left out)."""
        found = []
        for pid in self.note():
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
        return found

    def kill(self, within: float = 5.0) -> list[psutil.Process]:
        """SIGKILL them all (frozen first), reap those that came here; return any still running after ``within`` s."""
        alive = kill_all(self.processes, within=within)
        procs = _scan()
        for pid, start in self.seen.items():
            if pid != self.root and procs.get(pid) == (self.me, start):  # the program itself: its Popen reaps it
                with contextlib.suppress(OSError):
                    os.waitpid(pid, os.WNOHANG)
        return alive
