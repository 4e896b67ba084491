"""Run a built program under a memory cap and a time limit, and leave nothing behind.

The program runs in a session (process group) of its own. Whatever happens (the run's end, the
memory cap, the time limit, a crash, Ctrl-C, SIGTERM, SIGHUP) the whole group is killed before
:func:`execute` returns, and what the probe wrote so far stays on disk. The probe holds the read end
of a pipe from the harness: "stop" on it ends the run early (after the last profiles), and its end of
file, when the harness dies however it dies, ends the program at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psutil

from .errors import Interrupted
from .stopping import STOP_SIGNALS

__all__ = ["DEFAULT_OUT", "Limits", "Outcome", "Tick", "execute"]

_MiB = 1024 * 1024

#: Where runs are kept unless --out says otherwise.
DEFAULT_OUT = Path("runs")


@dataclasses.dataclass(frozen=True)
class Limits:
    """How long and how big a run may get."""

    #: The longest a run may go on; a sequential run stops earlier once its verdict is certain.
    duration_s: float = 10.0
    interval_s: float = 0.05
    warmup_s: float = 1.0
    mem_cap_bytes: int = 512 * _MiB
    #: Extra time for start-up and the last profiles before the run counts as hung.
    grace_s: float = 20.0
    #: Stop as soon as the verdict is certain (False: always run for ``duration_s``, a fixed window).
    sequential: bool = True
    #: How long growth must persist before an early verdict (None: a third of the window, 2 to 10 s).
    settle_s: float | None = None


@dataclasses.dataclass
class Outcome:
    """How a run ended."""

    returncode: int | None
    wall_s: float
    peak_rss_bytes: int
    capped: bool = False
    timed_out: bool = False
    interrupted: bool = False
    #: The signal that ended leaklab's watch (SIGINT, SIGTERM, SIGHUP), if one did.
    signum: int | None = None
    #: The harness asked the program to stop early (its verdict was certain).
    stopped_early: bool = False


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _kill_group(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()


def _backstop(proc: psutil.Process, cap: int) -> None:
    """An address-space limit far above the cap, in case the program outruns the sampler.

    Set from outside (prlimit) rather than in a ``preexec_fn``, which is unsafe in a threaded parent.
    """
    limit = cap + 8 * 1024 * _MiB
    try:
        proc.rlimit(psutil.RLIMIT_AS, (limit, limit))
    except psutil.Error:
        pass  # it already ended: nothing to limit


@contextlib.contextmanager
def _signals_noted(outcome: Outcome) -> Iterator[None]:
    """While a run is watched, SIGINT, SIGTERM and SIGHUP only mark it interrupted; the watcher then ends it.

    An exception raised at an arbitrary point (say, while a progress display holds its lock) could
    leave the watcher stuck; a flag cannot. Python delivers signals to the main thread only: a run
    watched from another thread ends at its time limit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: object) -> None:
        outcome.interrupted, outcome.signum = True, signum

    previous = {s: signal.signal(s, note) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


#: Called about every 50 ms with the seconds since the start and the RSS; returning True asks the
#: program to stop (its verdict is certain).
Tick = Callable[[float, int], bool | None]


def execute(binary: Path, run_dir: Path, limits: Limits, *, env: dict[str, str] | None = None,
            on_tick: Tick | None = None, backstop: bool = True, return_interrupted: bool = False,
            args: Sequence[str] = (), cwd: Path | None = None,
            on_start: Callable[[float], None] | None = None) -> Outcome:
    """Run ``binary ARGS`` with the probe writing into ``run_dir/samples.jsonl``.

    The program runs in ``cwd`` (default ``run_dir``) with stdin closed (``/dev/null``) and leaklab's
    environment plus ``env``. ``on_start`` is called once it has started, with the ``time.monotonic()``
    of its start (e.g. to start what sends it load); if it raises, the program is killed.

    A signal (SIGINT, SIGTERM, SIGHUP) ends the run (the process group is killed first) and raises
    :class:`Interrupted`; with ``return_interrupted`` the outcome is returned instead, marked
    ``interrupted``, for a caller that keeps what was gathered.

    ``backstop=False`` leaves the address space unlimited, for programs that reserve terabytes they never
    touch (AddressSanitizer's shadow memory); the RSS cap and the time limit still hold.
    """
    run_dir, binary = run_dir.resolve(), binary.resolve()
    control_r, control_w = os.pipe()
    probe_env = {
        "LEAKLAB_OUT": str(run_dir / "samples.jsonl"),
        "LEAKLAB_INTERVAL": str(limits.interval_s),
        "LEAKLAB_DURATION": str(limits.duration_s),
        "LEAKLAB_WARMUP": str(limits.warmup_s),
        "LEAKLAB_CONTROL_FD": str(control_r),
    }
    outcome = Outcome(returncode=None, wall_s=0.0, peak_rss_bytes=0)
    try:
        with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err, \
                _signals_noted(outcome):
            began = time.monotonic()
            popen = subprocess.Popen([str(binary), *args], cwd=cwd or run_dir, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, env={**os.environ, **(env or {}), **probe_env},
                                     start_new_session=True, pass_fds=(control_r,))
            os.close(control_r)
            control_r = -1
            try:
                if on_start:
                    on_start(began)
                _watch(popen, outcome, limits, on_tick, backstop, began, control_w)
            except KeyboardInterrupt:  # raised by a handler other than ours (e.g. a caller's own)
                outcome.interrupted = True
            finally:
                _kill_group(popen)
            outcome.wall_s = time.monotonic() - began
            outcome.returncode = popen.returncode
    finally:
        for fd in (control_r, control_w):
            if fd >= 0:
                os.close(fd)
    if outcome.interrupted and not return_interrupted:
        raise Interrupted(f"interrupted while running {binary.name}", outcome.signum or signal.SIGINT)
    return outcome


def _watch(popen: subprocess.Popen, outcome: Outcome, limits: Limits, on_tick: Tick | None, backstop: bool,
           began: float, control: int) -> None:
    """Poll the program until it ends, reaches the cap or the time limit, is signalled, or is asked to stop."""
    proc = psutil.Process(popen.pid)
    if backstop:
        _backstop(proc, limits.mem_cap_bytes)
    deadline = limits.duration_s + limits.grace_s
    while popen.poll() is None and not outcome.interrupted:
        elapsed = time.monotonic() - began
        rss = _tree_rss(proc)
        outcome.peak_rss_bytes = max(outcome.peak_rss_bytes, rss)
        if rss > limits.mem_cap_bytes:
            outcome.capped = True
            break
        if elapsed > deadline:
            outcome.timed_out = True
            break
        if on_tick and on_tick(elapsed, rss) and not outcome.stopped_early:
            outcome.stopped_early = True
            deadline = elapsed + limits.grace_s  # the last profiles may take a moment
            try:
                os.write(control, b"stop\n")
            except OSError:
                pass  # it is ending anyway
        time.sleep(min(0.05, limits.interval_s))
