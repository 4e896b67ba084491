"""Read the profiles a run leaves: where the live heap grew, where goroutines wait, what the goroutine
leak profile says.

The probe (probe.go) writes, when asked (``measure(..., profiles=True)``), each after a forced GC:
``heap-start.txt`` and ``goroutines-start.txt`` after the warm-up; ``heap-end.txt``, ``goroutines.txt``
and ``goroutineleak.txt`` (if the toolchain has that profile) at the end. All are pprof's text forms,
which name every frame by function, file and line.

A *site* is the first frame of a stack that belongs to the program, not to the Go runtime or
standard library: for ``make([]byte, n)`` inside ``main.handle`` that is ``main.handle main.go:22``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections import Counter
from pathlib import Path

from .errors import DiagnosisMissing
from .probe import SIGNALS
from .runfolder import RunFolder
from .toolchain import GoToolchain

__all__ = ["LEAK_PROFILE_MISSES", "SITE_MIN_RATE", "SITE_MIN_SIGMAS", "Diagnosis", "Frame", "diagnose", "diagnosis_fields",
           "goroutine_groups", "heap_growth", "leak_profile", "leak_profile_env", "leak_profile_supported"]

#: What the goroutine leak profile cannot see; shown beside its findings.
LEAK_PROFILE_MISSES = (
    "The leak profile reports a goroutine only when the channel or lock it waits on can no longer be "
    "reached by any running code. A goroutine blocked on a channel that is still reachable (kept in a "
    "global, a map or a struct that lives on) is not reported, however long it waits; a goroutine that "
    "spins (for example `task := <-ch` on a closed channel) is runnable, not blocked, and is not "
    "reported either. An empty profile is no proof of health."
)

_PROBE_FILE = "zz_leaklab_probe.go"

#: The allocator's own frames: a stack with no frame of the program is named by the caller of these
#: (``runtime.malg`` for the descriptors of new goroutines, for instance).
_ALLOCATOR = ("runtime.mallocgc", "runtime.newobject", "runtime.growslice", "runtime.makeslice",
              "runtime.makemap", "runtime.rawstring", "runtime.rawbyteslice")


@dataclasses.dataclass(frozen=True)
class Frame:
    """One stack frame: function, source file and line."""

    function: str
    file: str
    line: int

    @property
    def site(self) -> str:
        return f"{self.function} {os.path.basename(self.file)}:{self.line}"


@dataclasses.dataclass
class Diagnosis:
    """What the profiles of one run say: growing allocation sites, goroutine groups, the leak profile."""

    top_sites: list[dict]
    top_goroutines: list[dict]
    leak_profile: dict
    window_s: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _site(frames: list[Frame], goroot: str) -> Frame | None:
    """The first frame that is the program's own; ``None`` for the probe's stacks."""
    if not frames or any(f.file.endswith(_PROBE_FILE) for f in frames):
        return None
    std = goroot.rstrip("/") + "/" if goroot else "\0"
    own = (f for f in frames if not f.file.startswith(std) and not f.function.startswith(("runtime.", "runtime/")))
    return next(own, None) or next((f for f in frames if not f.function.startswith(_ALLOCATOR)), frames[0])


# -- pprof's text form (debug=1): "<counts> @ 0x.. 0x.." then one "#\t0x..\tfunc+0x..\tfile:line" per frame

_FRAME = re.compile(r"^#\s+0x[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+(.*):(\d+)$")


def _records(text: str, header: re.Pattern) -> list[tuple[re.Match, list[Frame]]]:
    """Each record of a debug=1 profile: its header line's match and its frames, leaf first."""
    records: list[tuple[re.Match, list[Frame]]] = []
    for line in text.splitlines():
        if m := header.match(line):
            records.append((m, []))
        elif records and (f := _FRAME.match(line)):
            records[-1][1].append(Frame(f[1], f[2], int(f[3])))
    return records


_HEAP_RECORD = re.compile(r"^(\d+): (\d+) \[(\d+): (\d+)\] @(.*)$")


@dataclasses.dataclass
class _Site:
    """One site of a heap profile, unsampled: its in-use bytes and objects, and per record (a stack and an
    object size, as the runtime keeps them) the in-use bytes and the bytes allocated since the start."""

    bytes: float = 0.0
    objects: float = 0.0
    records: dict[tuple[str, int], tuple[float, float]] = dataclasses.field(default_factory=dict)


def _scale(size: float, sampling: float) -> float:
    """How many objects of ``size`` bytes one sample stands for: the runtime samples one with probability
    ``p = 1 - exp(-size/rate)``, and pprof counts it ``1/p`` times."""
    return 1 / -math.expm1(-size / sampling) if sampling > 1 and size > 0 else 1.0


def _read_heap(path: Path, goroot: str) -> tuple[float, float, dict[Frame, _Site]]:
    """When the snapshot was taken (its GC, in s), the sampling rate (bytes), and each site's numbers."""
    if not path.exists():
        raise DiagnosisMissing(f"{path.parent} has no heap profiles: run with profiles=True (`leaklab run --diagnose`)", path=path)
    text = path.read_text(errors="replace")
    rate, last_gc = re.search(r"@ heap/(\d+)", text), re.search(r"^# LastGC = (\d+)$", text, re.M)
    if not (rate and last_gc):
        raise DiagnosisMissing(f"{path} is not a heap profile in pprof's text form (debug=1)", path=path)
    sampling = int(rate[1]) / 2  # the legacy header carries twice runtime.MemProfileRate
    sites: dict[Frame, _Site] = {}
    for m, frames in _records(text, _HEAP_RECORD):
        site = _site(frames, goroot)
        (n, b), (an, ab) = (int(m[1]), int(m[2])), (int(m[3]), int(m[4]))
        if site is None or not (n or an):
            continue
        size = b / n if n else ab / an  # one object size per record
        scale = _scale(size, sampling)
        one = sites.setdefault(site, _Site())
        one.bytes, one.objects = one.bytes + b * scale, one.objects + n * scale
        key = (m[5].strip(), round(size))
        inuse, allocated = one.records.get(key, (0.0, 0.0))
        one.records[key] = (inuse + b * scale, allocated + ab * scale)
    return int(last_gc[1]) / 1e9, sampling, sites


def _noise(a: _Site, b: _Site, sampling: float) -> float:
    """The standard deviation, from sampling alone, of a site's growth from profile ``a`` to ``b``.

    ``n`` objects of ``s`` bytes are estimated with variance ``n s² (1-p)/p``, about their bytes times the
    rate for small objects and none for objects much larger than it. Per record, the growth is what was
    sampled among the objects allocated in between and kept, less what was sampled among the old ones freed;
    their bytes are bounded by what the two profiles say (allocated in between: ``new``). A record that
    only keeps (a leak) is then as noisy as its growth; one whose objects are all replaced (a bounded cache)
    as its two in-use sizes together, the two profiles sampling different objects.
    """
    variance = 0.0
    for key in a.records.keys() | b.records.keys():
        (a_bytes, a_alloc), (b_bytes, b_alloc) = a.records.get(key, (0.0, 0.0)), b.records.get(key, (0.0, 0.0))
        new = max(0.0, b_alloc - a_alloc)
        kept_new, freed_old = min(new, b_bytes), min(a_bytes, max(0.0, a_bytes + new - b_bytes))
        size = key[1]
        variance += (kept_new + freed_old) * size * (_scale(size, sampling) - 1)
    return math.sqrt(variance)


#: A site is named as growing from this rate on: a sampled heap profile (one sample per 16 KiB) over a
#: window of a second or two scatters by a few hundred KiB, far above the verdict's 100 KiB/s threshold.
SITE_MIN_RATE = 512 * 1024

#: And only when its growth is this many standard deviations of its sampling noise (:func:`_noise`): a fixed
#: program's bounded 4 MiB map was once named at +591 KiB in a ~1 s window, 1.6 of them.
SITE_MIN_SIGMAS = 4.0


def heap_growth(run_dir: Path, *, goroot: str = "", top: int = 5,
                min_rate: float = SITE_MIN_RATE) -> list[dict]:
    """The allocation sites whose live (in-use) bytes grew between the two heap profiles.

    Only sites growing faster than ``min_rate`` bytes/s over the window, and by more than
    :data:`SITE_MIN_SIGMAS` standard deviations of the profiles' sampling noise, are kept, largest first: a
    fixed program gives an empty list. Each entry has ``site``, ``bytes`` (growth), ``start_bytes``,
    ``end_bytes``, ``noise_bytes`` (the growth's standard deviation from sampling alone), ``objects``
    (growth), ``function``, ``file``, ``line``.
    """
    (t0, _, start), (t1, sampling, end) = (_read_heap(RunFolder(run_dir).heap_profile(w), goroot)
                                           for w in ("start", "end"))
    window = max(t1 - t0, 1e-3)
    sites: list[dict] = []
    for f in set(start) | set(end):
        a, b = start.get(f, _Site()), end.get(f, _Site())
        grew, noise = round(b.bytes) - round(a.bytes), _noise(a, b, sampling)
        if grew / window >= min_rate and grew > SITE_MIN_SIGMAS * noise:
            sites.append({"site": f.site, "bytes": grew, "start_bytes": round(a.bytes), "end_bytes": round(b.bytes),
                          "noise_bytes": round(noise), "objects": round(b.objects) - round(a.objects),
                          "function": f.function, "file": f.file, "line": f.line})
    return sorted(sites, key=lambda s: -int(s["bytes"]))[:top]


def _window(run_dir: Path) -> float:
    """Seconds between the start and end snapshots (the GCs before the two heap profiles); 0 if unknown."""
    times = []
    for when in ("start", "end"):
        path = RunFolder(run_dir).heap_profile(when)
        m = re.search(r"^# LastGC = (\d+)$", path.read_text(errors="replace"), re.M) if path.exists() else None
        times.append(int(m[1]) / 1e9 if m else math.nan)
    return 0.0 if math.isnan(times[1] - times[0]) else times[1] - times[0]


# -- goroutine stacks (debug=2) and the goroutine leak profile (debug=1) ---------------------------

_HEADER = re.compile(r"^goroutine \d+.*?\[([^\]]*)\]:$")
_ARGS = re.compile(r"\([^()]*\)$")
_POS = re.compile(r"^\t(.*):(\d+)(?: \+0x[0-9a-f]+)?$")


def _parse_goroutines(text: str) -> list[tuple[str, tuple[Frame, ...]]]:
    """(wait reason, frames) of each goroutine in a debug=2 dump; ``created by`` is the last frame."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        m = _HEADER.match(lines[0]) if lines else None
        if not m:
            continue
        frames, func = [], None
        for line in lines[1:]:
            pos = _POS.match(line)
            if pos and func is not None:
                frames.append(Frame(func, pos[1], int(pos[2])))
                func = None
            elif not line.startswith("\t"):
                func = _ARGS.sub("", line.removeprefix("created by ").split(" in goroutine ")[0])
        out.append((m[1].split(",")[0].strip(), tuple(frames)))
    return out


def _group_goroutines(path: Path, goroot: str) -> dict[tuple, dict]:
    groups: dict[tuple, dict] = {}
    for wait, frames in _parse_goroutines(path.read_text(errors="replace")):
        site = _site(list(frames), goroot)
        if site is not None:
            g = groups.setdefault((wait, frames), {"site": site.site, "wait": wait, "count": 0,
                                                   "function": site.function, "file": site.file, "line": site.line})
            g["count"] += 1
    return groups


def goroutine_groups(run_dir: Path, *, goroot: str = "", top: int = 5,
                     min_rate: float = SIGNALS["goroutines"].min_rate, window: float | None = None) -> list[dict]:
    """Goroutines at the end of the run grouped by stack and wait reason, largest groups first.

    Each group has ``fingerprint`` (e.g. ``main.work main.go:25 chan send``), ``count``, ``growth``
    since the start of the steady window, and ``growing`` (faster than ``min_rate`` per second). Two
    snapshots, with no bound on their noise: a group of per-request goroutines differs by more than the
    1/s the verdict leaks from (goroutine/fixed in make test), so a group grows from the 10/s flat bound.
    """
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    if not folder.goroutines.exists():
        raise DiagnosisMissing(f"{run_dir} has no goroutine dump: run with profiles=True (`leaklab run --diagnose`)",
                               path=folder.goroutines)
    start = folder.goroutines_start
    before = _group_goroutines(start, goroot) if start.exists() else {}
    window = _window(run_dir) if window is None else window
    groups = []
    for key, g in _group_goroutines(folder.goroutines, goroot).items():
        g["growth"] = g["count"] - before.get(key, {}).get("count", 0)
        g["growing"] = bool(window and g["growth"] / window >= min_rate)
        g["fingerprint"] = f"{g['site']} {g['wait']}"
        groups.append(g)
    return sorted(groups, key=lambda g: (-g["count"], g["fingerprint"]))[:top]


def leak_profile(run_dir: Path, *, goroot: str = "", top: int = 5) -> dict:
    """What the goroutine leak profile found at the end of the run.

    ``available`` is false when this toolchain or build has no such profile (Go 1.26 needs
    ``GOEXPERIMENT=goroutineleakprofile`` at build time). ``total`` counts leaked goroutines;
    ``sites`` lists them by the program's first frame; ``misses`` says what the profile cannot see.
    """
    path = RunFolder(run_dir).goroutine_leaks
    if not path.exists():
        return {"available": False, "total": 0, "sites": [], "misses": LEAK_PROFILE_MISSES}
    text = path.read_text(errors="replace")
    sites: Counter = Counter()
    for m, frames in _records(text, re.compile(r"^(\d+) @")):
        if (site := _site(frames, goroot)) is not None:
            sites[site.site] += int(m[1])
    total = re.search(r"total (\d+)", text)
    return {"available": True, "total": int(total[1]) if total else sum(sites.values()),
            "sites": [{"site": s, "count": c} for s, c in sites.most_common(top)], "misses": LEAK_PROFILE_MISSES}


def leak_profile_supported(go: GoToolchain) -> bool:
    """Go 1.27+ always has the goroutine leak profile; Go 1.26 has it as an experiment."""
    return go.version_tuple >= (1, 26)


def leak_profile_env(go: GoToolchain, current: str | None = None) -> dict[str, str]:
    """The build environment that gives this toolchain the goroutine leak profile (empty if none is needed
    or none can); ``current`` is the GOEXPERIMENT the build would otherwise use."""
    if go.version_tuple != (1, 26):
        return {}
    current = current if current is not None else os.environ.get("GOEXPERIMENT", go.goexperiment)
    if "goroutineleakprofile" in current.split(","):
        return {}
    return {"GOEXPERIMENT": ",".join(filter(None, [current, "goroutineleakprofile"]))}


def diagnose(run_dir: Path, *, goroot: str | None = None, top: int = 5,
             site_min_rate: float = SITE_MIN_RATE) -> Diagnosis:
    """Read every profile of a run folder; ``goroot`` defaults to the one its meta.json records."""
    run_dir = Path(run_dir)
    if goroot is None:
        goroot = RunFolder(run_dir).read_meta().get("goroot", "")
    window = _window(run_dir)
    return Diagnosis(top_sites=heap_growth(run_dir, goroot=goroot, top=top, min_rate=site_min_rate),
                     top_goroutines=goroutine_groups(run_dir, goroot=goroot, top=top, window=window),
                     leak_profile=leak_profile(run_dir, goroot=goroot, top=top), window_s=round(window, 3))


def diagnosis_fields(run_dir: Path, goroot: str, heap_leak_rate: float | None = None) -> dict:
    """The fields a :class:`leaklab.lab.Result` carries from a diagnosis; empty when the run left no
    profiles (a run stopped at the memory cap never writes its end profiles).

    ``heap_leak_rate``: where the verdict found the heap leaking, this fast; sites growing at a quarter of that
    are named then, even under :data:`SITE_MIN_RATE` (a slow leak still gets its line)."""
    floor = min(SITE_MIN_RATE, heap_leak_rate / 4) if heap_leak_rate else SITE_MIN_RATE
    try:
        d = diagnose(run_dir, goroot=goroot, site_min_rate=floor)
    except DiagnosisMissing:
        return {}
    return {"top_sites": d.top_sites, "top_goroutines": d.top_goroutines, "leak_profile": d.leak_profile}
