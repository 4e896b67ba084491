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
import signal
import threading
import time
from collections.abc import Iterable, Iterator

import psutil

from .errors import Interrupted

__all__ = ["STOP_SIGNALS", "kill_tree", "raising", "signum_of", "wait_ended"]

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
    frozen: dict[int, psutil.Process] = {}
    for _ in range(20):
        found = (_tree(root) if root else []) + list(also)
        new = [p for p in found if p.pid not in frozen and not (keep_root and p.pid == pid)]
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
