"""Run a built program under a memory cap and a time limit, and leave nothing behind.

The program runs in a session (process group) of its own. Whatever happens (the run's end, the
memory cap, the time limit, a crash, Ctrl-C) the whole group is killed before :func:`execute`
returns, and what the probe wrote so far stays on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

__all__ = ["Limits", "Outcome", "execute"]

_MiB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    """How long and how big a run may get."""

    duration_s: float = 4.0
    interval_s: float = 0.05
    warmup_s: float = 1.0
    mem_cap_bytes: int = 512 * _MiB
    #: Extra time for start-up and the last profiles before the run counts as hung.
    grace_s: float = 20.0


@dataclasses.dataclass
class Outcome:
    """How a run ended."""

    returncode: int | None
    wall_s: float
    peak_rss_bytes: int
    capped: bool = False
    timed_out: bool = False
    interrupted: bool = False


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
def _ctrl_c_noted(outcome: Outcome) -> Iterator[None]:
    """While a run is watched, Ctrl-C only marks it interrupted; the watcher then ends it cleanly.

    An exception raised at an arbitrary point (say, while a progress display holds its lock) could
    leave the watcher stuck; a flag cannot. Python delivers signals to the main thread only: a run
    watched from another thread ends at its time limit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: object) -> None:
        outcome.interrupted = True

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def execute(binary: Path, run_dir: Path, limits: Limits, *, env: dict[str, str] | None = None,
            on_tick: Callable[[float, int], None] | None = None, backstop: bool = True,
            return_interrupted: bool = False) -> Outcome:
    """Run ``binary`` with the probe writing into ``run_dir/samples.jsonl``.

    Ctrl-C ends the run (the process group is killed first) and raises ``KeyboardInterrupt``; with
    ``return_interrupted`` the outcome is returned instead, marked ``interrupted``, for a caller that
    keeps what was gathered.

    ``backstop=False`` leaves the address space unlimited, for programs that reserve terabytes they never
    touch (AddressSanitizer's shadow memory); the RSS cap and the time limit still hold.
    """
    run_dir, binary = run_dir.resolve(), binary.resolve()
    probe_env = {
        "LEAKLAB_OUT": str(run_dir / "samples.jsonl"),
        "LEAKLAB_INTERVAL": str(limits.interval_s),
        "LEAKLAB_DURATION": str(limits.duration_s),
        "LEAKLAB_WARMUP": str(limits.warmup_s),
    }
    outcome = Outcome(returncode=None, wall_s=0.0, peak_rss_bytes=0)
    with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err, \
            _ctrl_c_noted(outcome):
        began = time.monotonic()
        popen = subprocess.Popen([str(binary)], cwd=run_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env={**os.environ, **(env or {}), **probe_env}, start_new_session=True)
        try:
            proc = psutil.Process(popen.pid)
            if backstop:
                _backstop(proc, limits.mem_cap_bytes)
            while popen.poll() is None and not outcome.interrupted:
                elapsed = time.monotonic() - began
                rss = _tree_rss(proc)
                outcome.peak_rss_bytes = max(outcome.peak_rss_bytes, rss)
                if rss > limits.mem_cap_bytes:
                    outcome.capped = True
                    break
                if elapsed > limits.duration_s + limits.grace_s:
                    outcome.timed_out = True
                    break
                if on_tick:
                    on_tick(elapsed, rss)
                time.sleep(min(0.05, limits.interval_s))
        except KeyboardInterrupt:  # raised by a handler other than ours (e.g. a caller's own)
            outcome.interrupted = True
        finally:
            _kill_group(popen)
        outcome.wall_s = time.monotonic() - began
        outcome.returncode = popen.returncode
    if outcome.interrupted and not return_interrupted:
        raise KeyboardInterrupt(f"interrupted while running {binary.name}")
    return outcome
