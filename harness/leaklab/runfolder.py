"""The run folder: the files one run leaves, and folders in the making, removed when their run died.

:class:`RunFolder` names every file of a run, so that no other module spells a file name::

    OUT/<family>/<variant>/     (<variant>.failed/ when the run failed; its samples are kept)
        binary                  the program, built with the probe
        samples.jsonl           one JSON line per sample (the probe writes it)
        stdout.txt, stderr.txt  what the program printed
        meta.json               provenance: Go, parameters, program, outcome
        result.json             the verdict (:class:`leaklab.lab.Result`)
        heap-start.txt, heap-end.txt, goroutines-start.txt, goroutines.txt, goroutineleak.txt
                                the profiles of ``--diagnose`` (pprof text; the probe writes them)
        load.jsonl, load-stderr.txt   with ``--load``: the driver's counts and its last words
        curve.png               ``leaklab check``'s picture of the run

A run is written into a hidden folder beside its final place and renamed into place when it ends
(see :mod:`leaklab.lab`). :func:`partial_folder` names that folder after the process writing it::

    OUT/<family>/.<variant>.partial-<scope>.<pid>.<start>-<random>/

``<pid>`` and ``<start>`` (the process's start time, in clock ticks since boot, from
``/proc/<pid>/stat``) identify the owner even after its pid is reused; ``<scope>`` (a hash of the
boot and of the PID namespace) says where that pid means something. A run that is killed outright
(SIGKILL, the OOM killer, a lost machine) leaves its folder behind; :func:`clean_stale_partials`,
called before the next run in the same place, removes every such folder whose owner is gone:

- same scope: the owner is gone when no process has that pid and start time;
- another scope (a container sharing the folder, another machine, a reboot) or a name without an
  owner (an older leaklab): the folder is stale once nothing in it has changed for
  ``unowned_after_s`` seconds (default 10 minutes; a live run writes its samples every 50 ms).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["UNOWNED_AFTER_S", "RunFolder", "clean_stale_partials", "owner_alive", "partial_folder"]


class RunFolder:
    """The files of one run in ``path`` (see the module); nothing is read or made until asked."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def binary(self) -> Path:
        """The program, built with the probe."""
        return self.path / "binary"

    @property
    def samples(self) -> Path:
        """The samples, a JSON line each."""
        return self.path / "samples.jsonl"

    @property
    def stdout(self) -> Path:
        """What the program wrote on stdout."""
        return self.path / "stdout.txt"

    @property
    def stderr(self) -> Path:
        """What the program wrote on stderr."""
        return self.path / "stderr.txt"

    @property
    def meta(self) -> Path:
        """Provenance: Go, parameters, program, outcome."""
        return self.path / "meta.json"

    @property
    def result(self) -> Path:
        """The verdict, as ``Result.as_dict()``."""
        return self.path / "result.json"

    @property
    def goroutines(self) -> Path:
        """The goroutine dump at the end."""
        return self.path / "goroutines.txt"

    @property
    def goroutines_start(self) -> Path:
        """The goroutine dump after the warm-up."""
        return self.path / "goroutines-start.txt"

    @property
    def goroutine_leaks(self) -> Path:
        """The goroutine leak profile."""
        return self.path / "goroutineleak.txt"

    @property
    def load(self) -> Path:
        """With ``--load``: the driver's counts."""
        return self.path / "load.jsonl"

    @property
    def load_stderr(self) -> Path:
        """With ``--load``: the driver's stderr."""
        return self.path / "load-stderr.txt"

    @property
    def curve(self) -> Path:
        """``leaklab check``'s picture of the run."""
        return self.path / "curve.png"

    def heap_profile(self, when: str) -> Path:
        """The heap profile taken at ``when``: ``"start"`` (after the warm-up) or ``"end"``."""
        return self.path / f"heap-{when}.txt"

    def read_meta(self) -> dict:
        """meta.json as a dict; empty when the run has none."""
        return json.loads(self.meta.read_text()) if self.meta.is_file() else {}

    def last_words(self, lines: int = 15) -> str:
        """The last ``lines`` lines the program wrote on stderr, else on stdout (where a test binary reports)."""
        said = ""
        for path in (self.stderr, self.stdout):
            said = path.read_text(errors="replace").strip() if path.is_file() else ""
            if said:
                break
        return "\n".join(said.splitlines()[-lines:])

#: How long a folder whose owner cannot be checked must stay untouched before it counts as stale.
UNOWNED_AFTER_S = 600.0

_NAME = re.compile(r"^\.(?P<name>.+)\.partial-(?:(?P<scope>[0-9a-f]{8})\.(?P<pid>\d+)\.(?P<start>\d+)-)?")


def _scope() -> str:
    """Where a pid means the same process: this boot of the kernel and this PID namespace."""
    parts = []
    for path, read in (("/proc/sys/kernel/random/boot_id", lambda p: Path(p).read_text().strip()),
                       ("/proc/self/ns/pid", os.readlink)):
        try:
            parts.append(read(path))
        except OSError:
            parts.append("")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count the fields after its last ')'
    return int(stat[stat.rindex(")") + 2:].split()[19])


def partial_folder(parent: Path, name: str) -> Path:
    """Create ``parent/.<name>.partial-<scope>.<pid>.<start>-<random>/`` for a run this process writes."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f".{name}.partial-{_scope()}.{pid}.{_start_ticks(pid) or 0}-", dir=parent))


def owner_alive(folder: Path) -> bool | None:
    """Whether the process that made ``folder`` still runs; None when its name cannot tell (see the module)."""
    m = _NAME.match(Path(folder).name)
    if not m or not m["pid"] or m["scope"] != _scope():
        return None
    return _start_ticks(int(m["pid"])) == int(m["start"])


def _untouched_for(folder: Path) -> float:
    """Seconds since anything in ``folder`` (itself or an entry in it) last changed."""
    newest = folder.stat().st_mtime
    for entry in folder.iterdir():
        try:
            newest = max(newest, entry.stat().st_mtime)
        except OSError:
            pass
    return time.time() - newest


def clean_stale_partials(folder: Path, *, unowned_after_s: float = UNOWNED_AFTER_S) -> list[Path]:
    """Remove the ``.<name>.partial-*`` folders in ``folder`` whose run died; return what was removed.

    A folder whose owner still runs is left alone, and so is one whose owner cannot be checked
    until it has been untouched for ``unowned_after_s`` seconds. A folder that does not exist is
    nothing to clean.
    """
    removed: list[Path] = []
    try:
        candidates = sorted(p for p in Path(folder).glob(".*.partial-*") if p.is_dir() and not p.is_symlink())
    except OSError:
        return removed
    for path in candidates:
        try:
            alive = owner_alive(path)
            stale = (not alive) if alive is not None else _untouched_for(path) > unowned_after_s
        except OSError:
            continue  # gone already, or unreadable: not ours to judge
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    return removed
