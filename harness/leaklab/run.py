"""Run a built program under a memory cap and a time limit, and leave nothing behind.

The program runs in a session (process group) of its own. Whatever happens (the run's end, the
memory cap, the time limit, a crash, Ctrl-C, SIGTERM, SIGHUP) it is killed with every process it
started before :func:`execute` returns, and what the probe wrote so far stays on disk. The probe
holds the read end of a pipe from the harness: "stop" on it ends the run early (after the last
profiles), and its end of file, when the harness dies however it dies, ends the program at once with
every process that carries the run's mark (below), in the program's session or not.

Its descendants are found wherever they went: while it runs leaklab is a child subreaper, so one that
left the session (``setsid``) and lost its parent becomes leaklab's child instead of init's, and is known
by a mark in its environment; those seen under the program while it ran are remembered too
(:class:`leaklab.stopping.Descendants`). This needs no privilege and works in any container, which
a cgroup (the other way to hold every descendant) does not: its hierarchy is often read-only there.
All of them are frozen, then killed, then reaped.

Memory: the cap is on the resident memory of the program and its descendants, read every 50 ms
(at most ``interval_s``). Address space is not limited: a program may reserve terabytes it never
touches (Go's own arenas, ``mmap``, AddressSanitizer's shadow). In case the machine runs out of
memory before the cap is seen, the program and its descendants are the kernel's first choice
(``oom_score_adj`` 1000), not leaklab or the user's other work.

Its stdout and stderr are kept in bounded files (:mod:`leaklab.output`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import BadParameter, Interrupted
from .output import Output
from .runfolder import RunFolder
from .stopping import STOP_SIGNALS, Descendants, subreaper

__all__ = ["DEFAULT_OUT", "MIN_INTERVAL_S", "Limits", "check_limits", "Outcome", "Tick", "execute", "signals_end_runs"]

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


#: Sampling faster than this costs more than it tells (and the harness keeps every sample).
MIN_INTERVAL_S = 0.01


def check_limits(limits: Limits) -> None:
    """Raise :class:`BadParameter` when run limits make no sense."""
    numbers = {"--interval": limits.interval_s, "--duration": limits.duration_s, "--warmup": limits.warmup_s,
               "--mem-cap": limits.mem_cap_bytes, "--settle": limits.settle_s if limits.settle_s is not None else 1.0}
    for name, value in numbers.items():
        if not math.isfinite(value):
            raise BadParameter(f"{name} must be a finite number, not {value}")
    if not MIN_INTERVAL_S <= limits.interval_s <= 5:
        raise BadParameter(f"--interval must be between {MIN_INTERVAL_S:g} and 5 seconds, not {limits.interval_s:g}")
    if not 0 < limits.duration_s <= 3600:
        raise BadParameter(f"--duration must be between 0 and 3600 seconds, not {limits.duration_s:g}")
    if limits.warmup_s < 0 or limits.warmup_s >= limits.duration_s:
        raise BadParameter(f"--warmup ({limits.warmup_s:g} s) must be shorter than --duration "
                           f"({limits.duration_s:g} s)")
    if limits.mem_cap_bytes < 16 * 1024 * 1024:
        raise BadParameter("--mem-cap must be at least 16 MiB")


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
    #: Bytes dropped from the middle of the program's stdout and stderr (see :mod:`leaklab.output`).
    output_dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    #: How many processes the program and its descendants counted at most, the program included.
    peak_processes: int = 0


#: The environment variable that marks the program's descendants (see :class:`~leaklab.stopping.Descendants`).
RUN_MARK = "LEAKLAB_RUN_ID"


def _rss(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            pass  # ended meanwhile
    return total


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rank_first(pid: int) -> None:
    """Make ``pid`` the OOM killer's first choice, should the machine run out of memory before the cap is seen.

    Raising one's own or a child's ``oom_score_adj`` needs no privilege; its children inherit it.
    """
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass  # it already ended, or no /proc: the RSS cap still holds


def _end(popen: subprocess.Popen, family: Descendants) -> None:
    """Kill the program and every descendant (frozen first, so none escapes), then reap it."""
    family.kill()
    try:
        os.killpg(popen.pid, signal.SIGKILL)  # anything of its group born too late to be seen
    except ProcessLookupError:
        pass
    popen.wait()


#: The runs under way in this process, in any thread: a signal the main thread notes ends each of them.
_runs: dict[int, Outcome] = {}  # by id: two runs' outcomes may be equal
_runs_lock = threading.Lock()  # taken to add or remove a run, never by the signal handler (it only reads)
#: The signal noted by :func:`signals_end_runs`, so that a run starting after it (its build was under way) ends too.
_noted: list[int] = []


def _note(signum: int, frame: object) -> None:
    _noted.append(signum)
    for outcome in list(_runs.values()):
        outcome.interrupted, outcome.signum = True, signum


@contextlib.contextmanager
def signals_end_runs() -> Iterator[None]:
    """While the block runs, SIGINT, SIGTERM and SIGHUP end every run under way, in whatever thread it is watched.

    A signal only marks each run interrupted; its watcher ends it within 50 ms and it returns (or
    raises) as interrupted: the program and all it started are stopped, what it gathered is kept. A
    flag, not an exception raised at an arbitrary point (say, while a progress display holds its
    lock), which could leave a watcher stuck. Python delivers signals to the main thread only: call
    this there, around the wait for runs watched by other threads (:func:`execute` itself calls it).
    Elsewhere it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _note) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if not any(h is _note for h in previous.values()):
            _noted.clear()  # the outermost block: a later signal starts afresh


@contextlib.contextmanager
def _signals_noted(outcome: Outcome) -> Iterator[None]:
    """While a run is watched, it is among the runs a signal ends (see :func:`signals_end_runs`)."""
    with _runs_lock:
        _runs[id(outcome)] = outcome
    try:
        if _noted:  # signalled while it was being built
            outcome.interrupted, outcome.signum = True, _noted[-1]
        with signals_end_runs():
            yield
    finally:
        with _runs_lock:
            del _runs[id(outcome)]


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

    The program and every process it starts (see the module) have ended when this returns. Its
    stdout and stderr are kept in ``run_dir/stdout.txt`` and ``stderr.txt``, bounded
    (:mod:`leaklab.output`); an error writing them (a full disk) raises that :class:`OSError` once
    the program has ended, unless a signal ended the run.

    ``backstop=False`` leaves its OOM-killer ranking as it is (see the module); cap and time limit hold.
    """
    run_dir, binary = run_dir.resolve(), binary.resolve()
    folder, mark = RunFolder(run_dir), secrets.token_hex(8)
    control_r, control_w = os.pipe()
    probe_env = _probe_env(folder, limits, control_r, mark)
    outcome = Outcome(returncode=None, wall_s=0.0, peak_rss_bytes=0)
    try:
        # while it runs, a descendant that loses its parent comes to us, not to init
        with subreaper(), _signals_noted(outcome), Output(folder.stdout, folder.stderr) as output:
            began = time.monotonic()
            popen = subprocess.Popen([str(binary), *args], cwd=cwd or run_dir, stdin=subprocess.DEVNULL,
                                     stdout=output.fds[0], stderr=output.fds[1],
                                     env={**os.environ, **(env or {}), **probe_env},
                                     start_new_session=True, pass_fds=(control_r,))
            output.started()
            os.close(control_r)
            control_r = -1
            family = Descendants(popen.pid, (RUN_MARK, mark))
            try:
                if backstop:
                    _rank_first(popen.pid)
                if on_start:
                    on_start(began)
                _watch(popen, family, output, outcome, limits, on_tick, backstop, began, control_w)
            except KeyboardInterrupt:  # raised by a handler other than ours (e.g. a caller's own)
                outcome.interrupted = True
            finally:
                _end(popen, family)
            outcome.wall_s = time.monotonic() - began
            outcome.returncode = popen.returncode
        outcome.output_dropped = output.dropped
    finally:
        for fd in (control_r, control_w):
            if fd >= 0:
                os.close(fd)
    if outcome.interrupted and not return_interrupted:
        raise Interrupted(f"interrupted while running {binary.name}", outcome.signum or signal.SIGINT)
    if output.error is not None and not outcome.interrupted:
        raise output.error
    return outcome


def _probe_env(folder: RunFolder, limits: Limits, control_fd: int, mark: str) -> dict[str, str]:
    """What the probe reads: where to write, how often, for how long, its control pipe; and the run's mark."""
    return {"LEAKLAB_OUT": str(folder.samples), "LEAKLAB_INTERVAL": str(limits.interval_s),
            "LEAKLAB_DURATION": str(limits.duration_s), "LEAKLAB_WARMUP": str(limits.warmup_s),
            "LEAKLAB_CONTROL_FD": str(control_fd), RUN_MARK: mark}


def _watch(popen: subprocess.Popen, family: Descendants, output: Output, outcome: Outcome, limits: Limits,
           on_tick: Tick | None, backstop: bool, began: float, control: int) -> None:
    """Poll the program until it ends, reaches the cap or the time limit, is signalled, is asked to stop, or
    its output can no longer be written (a full disk)."""
    deadline = limits.duration_s + limits.grace_s
    ranked = {popen.pid}
    while popen.poll() is None and not outcome.interrupted and output.error is None:
        elapsed = time.monotonic() - began
        pids = family.note()
        if backstop:
            for pid in set(pids) - ranked:
                _rank_first(pid)
                ranked.add(pid)
        rss = _rss(pids)
        outcome.peak_rss_bytes = max(outcome.peak_rss_bytes, rss)
        outcome.peak_processes = max(outcome.peak_processes, len(pids))
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
