"""Find the leak, not only see it: where the heap grows, where goroutines wait, what the goroutine leak
profile says, and the checks Go itself offers for each family.

The probe (probe.go) writes, when asked (``measure(..., profiles=True)``), into the run folder:
``heap-start.pb.gz`` and ``goroutines-start.txt`` after the warm-up, ``heap-end.pb.gz``,
``goroutines.txt`` and ``goroutineleak.txt`` at the end, each after a forced GC. This module reads
them with the standard library only (the heap profile is a gzipped protocol buffer, decoded here).

A *site* is the first frame of a stack that belongs to the program, not to the Go runtime or
standard library: for ``make([]byte, n)`` inside ``main.handle`` that is ``main.handle main.go:22``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from ._exceptions import LeakLabError
from .build import build
from .probe import SIGNALS
from .toolchain import GoToolchain, find_go

__all__ = [
    "CGOCHECK_DEMO", "LEAK_PROFILE_MISSES", "Diagnosis", "DiagnosisMissing", "Frame", "asan_leaks",
    "c_allocations", "cgocheck_demo", "check_finalizers", "diagnose", "diagnosis_fields", "diagnosis_tables",
    "family_checks", "goleak_test", "goroutine_groups", "heap_growth", "leak_profile", "leak_profile_blind_spots",
    "leak_profile_env", "leak_profile_supported", "load_diagnosis", "Report", "report", "vet",
]

#: What the goroutine leak profile cannot see; shown beside its findings.
LEAK_PROFILE_MISSES = (
    "The leak profile reports a goroutine only when the channel or lock it waits on can no longer be "
    "reached by any running code. A goroutine blocked on a channel that is still reachable (kept in a "
    "global, a map or a struct that lives on) is not reported, however long it waits; a goroutine that "
    "spins (for example `task := <-ch` on a closed channel) is runnable, not blocked, and is not "
    "reported either. An empty profile is no proof of health."
)

_PROBE_FILE = "zz_leaklab_probe.go"
_MiB = 1024 * 1024


class DiagnosisMissing(LeakLabError):
    """A run folder lacks the profiles a diagnosis needs."""


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


# -- the heap profile: a gzipped protocol buffer (github.com/google/pprof proto/profile.proto) --------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield key >> 3, wire, value


def _ints(wire: int, value) -> list[int]:
    """A repeated integer field, packed or not, as signed 64-bit numbers."""
    raw = [value] if wire == 0 else []
    i = 0
    while wire == 2 and i < len(value):
        v, i = _varint(value, i)
        raw.append(v)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in raw]


def _read_profile(path: Path) -> dict:
    """Decode a pprof profile into sample types, stacks (leaf first) with values, and its time."""
    data = gzip.decompress(path.read_bytes())
    strings, types, samples, locations, functions, time_ns = [], [], [], {}, {}, 0
    for field, wire, value in _fields(data):
        if field == 1:
            t = {f: v for f, _, v in _fields(value)}
            types.append(t.get(1, 0))
        elif field == 2:
            locs, vals = [], []
            for f, w, v in _fields(value):
                if f == 1:
                    locs += _ints(w, v)
                elif f == 2:
                    vals += _ints(w, v)
            samples.append((locs, vals))
        elif field == 4:
            loc_id, lines = 0, []
            for f, w, v in _fields(value):
                if f == 1:
                    loc_id = v
                elif f == 4:
                    ln = {lf: lv for lf, _, lv in _fields(v)}
                    lines.append((ln.get(1, 0), ln.get(2, 0)))
            locations[loc_id] = lines
        elif field == 5:
            fn = {f: v for f, _, v in _fields(value)}
            functions[fn.get(1, 0)] = (fn.get(2, 0), fn.get(4, 0))
        elif field == 6:
            strings.append(value.decode("utf-8", "replace"))
        elif field == 9:
            time_ns = value

    def frames(locs: list[int]) -> list[Frame]:
        out = []
        for loc in locs:
            for fn_id, line in locations.get(loc, []):  # inlined frames come innermost first
                name, file = functions.get(fn_id, (0, 0))
                out.append(Frame(strings[name], strings[file], line))
        return out

    return {"types": [strings[t] for t in types], "time_s": time_ns / 1e9,
            "samples": [(frames(locs), vals) for locs, vals in samples]}


def _is_program(frame: Frame, goroot: str) -> bool:
    if frame.file.endswith(_PROBE_FILE):
        return False
    if goroot and frame.file.startswith(goroot.rstrip("/") + "/"):
        return False
    return not frame.function.startswith(("runtime.", "runtime/"))


def _site(frames: list[Frame], goroot: str) -> Frame | None:
    """The first frame that is the program's own; ``None`` for the probe's or the runtime's stacks."""
    if any(f.file.endswith(_PROBE_FILE) for f in frames):
        return None
    inner = [f for f in frames if not f.function.startswith(_ALLOCATOR)] or frames
    return next((f for f in frames if _is_program(f, goroot)), inner[0] if inner else None)


#: The allocator's own frames: a stack with no frame of the program is named by the caller of these
#: (``runtime.malg`` for the descriptors of new goroutines, for instance).
_ALLOCATOR = ("runtime.mallocgc", "runtime.newobject", "runtime.growslice", "runtime.makeslice",
              "runtime.makemap", "runtime.rawstring", "runtime.rawbyteslice")


def _inuse_by_site(profile: dict, goroot: str) -> tuple[Counter, Counter]:
    space = profile["types"].index("inuse_space")
    objects = profile["types"].index("inuse_objects")
    by_bytes, by_objects = Counter(), Counter()
    for frames, values in profile["samples"]:
        site = _site(frames, goroot)
        if site is not None:
            by_bytes[site] += values[space]
            by_objects[site] += values[objects]
    return by_bytes, by_objects


def heap_growth(run_dir: Path, *, goroot: str = "", top: int = 5,
                min_rate: float = SIGNALS["heap_bytes"].min_rate) -> list[dict]:
    """The allocation sites whose live (in-use) bytes grew between the two heap profiles.

    Only sites growing faster than ``min_rate`` bytes/s over the window are kept, largest first: a
    fixed program gives an empty list. Each entry has ``site``, ``bytes`` (growth), ``start_bytes``,
    ``end_bytes``, ``objects`` (growth), ``function``, ``file``, ``line``.
    """
    run_dir = Path(run_dir)
    start, end = (run_dir / "heap-start.pb.gz", run_dir / "heap-end.pb.gz")
    if not start.exists() or not end.exists():
        raise DiagnosisMissing(f"{run_dir} has no heap profiles: run with profiles=True (`leaklab run --diagnose`)")
    p0, p1 = _read_profile(start), _read_profile(end)
    window = max(p1["time_s"] - p0["time_s"], 1e-3)
    (b0, o0), (b1, o1) = _inuse_by_site(p0, goroot), _inuse_by_site(p1, goroot)
    sites = []
    for frame in set(b0) | set(b1):
        growth = b1[frame] - b0[frame]
        if growth / window >= min_rate:
            sites.append({"site": frame.site, "bytes": growth, "start_bytes": b0[frame], "end_bytes": b1[frame],
                          "objects": o1[frame] - o0[frame], "function": frame.function, "file": frame.file,
                          "line": frame.line})
    return sorted(sites, key=lambda s: -s["bytes"])[:top]


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
        wait = m.group(1).split(",")[0].strip()
        frames, func = [], None
        for line in lines[1:]:
            pos = _POS.match(line)
            if pos and func is not None:
                frames.append(Frame(func, pos.group(1), int(pos.group(2))))
                func = None
            elif not line.startswith("\t"):
                func = _ARGS.sub("", line.removeprefix("created by ").split(" in goroutine ")[0])
        out.append((wait, tuple(frames)))
    return out


def _group_goroutines(path: Path, goroot: str) -> dict[tuple, dict]:
    groups: dict[tuple, dict] = {}
    for wait, frames in _parse_goroutines(path.read_text(errors="replace")):
        site = _site(list(frames), goroot)
        if site is None:
            continue
        g = groups.setdefault((wait, frames), {"site": site.site, "wait": wait, "count": 0,
                                               "function": site.function, "file": site.file, "line": site.line})
        g["count"] += 1
    return groups


def goroutine_groups(run_dir: Path, *, goroot: str = "", top: int = 5,
                     min_rate: float = SIGNALS["goroutines"].min_rate) -> list[dict]:
    """Goroutines at the end of the run grouped by stack and wait reason, largest groups first.

    Each group has ``fingerprint`` (e.g. ``main.work main.go:25 chan send``), ``count``, ``growth``
    since the start of the steady window, and ``growing`` (faster than ``min_rate`` per second).
    """
    run_dir = Path(run_dir)
    end = run_dir / "goroutines.txt"
    if not end.exists():
        raise DiagnosisMissing(f"{run_dir} has no goroutine dump: run with profiles=True (`leaklab run --diagnose`)")
    start = run_dir / "goroutines-start.txt"
    before = _group_goroutines(start, goroot) if start.exists() else {}
    window = _window(run_dir)
    groups = []
    for key, g in _group_goroutines(end, goroot).items():
        g["growth"] = g["count"] - before.get(key, {}).get("count", 0)
        g["growing"] = bool(window and g["growth"] / window >= min_rate)
        g["fingerprint"] = f"{g['site']} {g['wait']}"
        groups.append(g)
    return sorted(groups, key=lambda g: (-g["count"], g["fingerprint"]))[:top]


def _window(run_dir: Path) -> float:
    """Seconds between the start and end snapshots, read from the heap profiles' timestamps."""
    try:
        return _read_profile(run_dir / "heap-end.pb.gz")["time_s"] - _read_profile(run_dir / "heap-start.pb.gz")["time_s"]
    except (OSError, ValueError):
        return 0.0


_LEAK_ENTRY = re.compile(r"^(\d+) @")
_LEAK_FRAME = re.compile(r"^#\s+0x[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+(.*):(\d+)$")


def leak_profile(run_dir: Path, *, goroot: str = "", top: int = 5) -> dict:
    """What the goroutine leak profile found at the end of the run.

    ``available`` is false when this toolchain or build has no such profile (Go 1.26 needs
    ``GOEXPERIMENT=goroutineleakprofile`` at build time). ``total`` counts leaked goroutines;
    ``sites`` lists them by the program's first frame; ``misses`` says what the profile cannot see.
    """
    path = Path(run_dir) / "goroutineleak.txt"
    if not path.exists():
        return {"available": False, "total": 0, "sites": [], "misses": LEAK_PROFILE_MISSES}
    text = path.read_text(errors="replace")
    m = re.search(r"total (\d+)", text)
    sites: Counter = Counter()
    for entry in text.split("\n\n"):
        lines = entry.strip().splitlines()
        head = [i for i, ln in enumerate(lines) if _LEAK_ENTRY.match(ln)]
        if not head:
            continue
        count = int(_LEAK_ENTRY.match(lines[head[0]]).group(1))
        frames = [Frame(f.group(1), f.group(2), int(f.group(3)))
                  for f in map(_LEAK_FRAME.match, lines[head[0] + 1:]) if f]
        site = _site(frames, goroot)
        if site is not None:
            sites[site.site] += count
    return {"available": True, "total": int(m.group(1)) if m else sum(sites.values()),
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


def diagnose(run_dir: Path, *, goroot: str | None = None, top: int = 5) -> Diagnosis:
    """Read every profile of a run folder; ``goroot`` defaults to the one its meta.json records."""
    run_dir = Path(run_dir)
    if goroot is None:
        meta = run_dir / "meta.json"
        goroot = json.loads(meta.read_text()).get("goroot", "") if meta.exists() else ""
    return Diagnosis(top_sites=heap_growth(run_dir, goroot=goroot, top=top),
                     top_goroutines=goroutine_groups(run_dir, goroot=goroot, top=top),
                     leak_profile=leak_profile(run_dir, goroot=goroot, top=top), window_s=round(_window(run_dir), 3))


def diagnosis_fields(run_dir: Path, goroot: str) -> dict:
    """The fields a :class:`harness.lab.Result` carries from a diagnosis; empty when the run left no
    profiles (a run stopped at the memory cap never writes its end profiles)."""
    try:
        d = diagnose(run_dir, goroot=goroot)
    except DiagnosisMissing:
        return {}
    return {"top_sites": d.top_sites, "top_goroutines": d.top_goroutines, "leak_profile": d.leak_profile}


def load_diagnosis(run_dir: Path) -> Diagnosis:
    """The diagnosis a finished run folder holds (in result.json), or one computed from its profiles."""
    result = Path(run_dir) / "result.json"
    if result.exists():
        data = json.loads(result.read_text())
        if data.get("top_sites") is not None and data.get("leak_profile"):
            return Diagnosis(data["top_sites"], data["top_goroutines"], data["leak_profile"],
                             data.get("diagnosis_window_s", 0.0))
    return diagnose(run_dir)


# -- the checks Go offers, family by family ---------------------------------------------------------

_VET_LINE = re.compile(r"^(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:\d+:)? (?P<message>.*)$")


def vet(package: Path, *, go: GoToolchain | None = None) -> list[dict]:
    """Run ``go vet`` on one package folder; return its findings (``file``, ``line``, ``message``)."""
    go = go or find_go()
    package = Path(package).resolve()
    proc = subprocess.run([go.go, "vet", "."], cwd=package, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GOTOOLCHAIN": "local"})
    found = [m.groupdict() for m in map(_VET_LINE.match, proc.stderr.splitlines()) if m]
    if proc.returncode != 0 and not found:
        raise LeakLabError(f"`go vet` could not check {package}:\n{proc.stderr.strip()}")
    return [{**f, "line": int(f["line"]), "file": os.path.basename(f["file"])} for f in found]


def _run_briefly(package: Path, seconds: float, *, go: GoToolchain, build_env: dict[str, str],
                 run_env: dict[str, str]) -> subprocess.CompletedProcess:
    """Build the package with the probe and run it for ``seconds``; the probe makes it exit by itself."""
    with tempfile.TemporaryDirectory(prefix="leaklab-check-") as tmp:
        binary = build(Path(package), Path(tmp) / "binary", go, env=build_env)
        env = {**os.environ, "LEAKLAB_OUT": str(Path(tmp) / "samples.jsonl"), "LEAKLAB_DURATION": str(seconds),
               "LEAKLAB_WARMUP": "0", **run_env}
        try:
            return subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=seconds + 60)
        except subprocess.TimeoutExpired as exc:
            raise LeakLabError(f"{package} did not stop {seconds:g} s after it started; is it a lab program?") from exc


_FINALIZER_ISSUE = re.compile(r"Has (finalizer|cleanup) at 0x[0-9a-f]+\n\s+(\S+?)(?:\(.*\))?\n\s+(\S+):(\d+)")


def check_finalizers(package: Path, *, seconds: float = 2.0, go: GoToolchain | None = None) -> dict:
    """Run the package with ``GODEBUG=checkfinalizers=1`` (Go 1.25+).

    Returns ``crashed`` (the runtime stops a program whose finalizer or cleanup can reach its own
    object), ``issues`` (the finalizers it named, by site, with counts) and the exit status.
    """
    go = go or find_go()
    if go.version_tuple < (1, 25):
        return {"available": False, "crashed": False, "issues": [], "returncode": None}
    proc = _run_briefly(package, seconds, go=go, build_env={}, run_env={"GODEBUG": "checkfinalizers=1"})
    issues = Counter(f"{m.group(1)} {m.group(2)} {os.path.basename(m.group(3))}:{m.group(4)}"
                     for m in _FINALIZER_ISSUE.finditer(proc.stderr))
    return {"available": True, "crashed": "detected possible issues with cleanups" in proc.stderr,
            "issues": [{"site": s, "count": c} for s, c in issues.most_common()], "returncode": proc.returncode}


_LSAN = re.compile(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation")


def asan_leaks(package: Path, *, seconds: float = 1.5, go: GoToolchain | None = None) -> dict:
    """Build with ``go build -asan`` (Go 1.25+ reports C memory never freed at exit) and run briefly.

    Returns ``available`` (false when the toolchain or C compiler cannot build with ASan), ``bytes``
    and ``allocations`` leaked, and the LeakSanitizer ``report``.
    """
    go = go or find_go()
    if go.version_tuple < (1, 25):
        return {"available": False, "bytes": 0, "allocations": 0, "report": "needs Go 1.25 or newer"}
    try:
        proc = _run_briefly(package, seconds, go=go, build_env={"GOFLAGS": "-asan", "CGO_ENABLED": "1"},
                            run_env={})
    except LeakLabError as exc:
        return {"available": False, "bytes": 0, "allocations": 0, "report": str(exc)}
    m = _LSAN.search(proc.stderr)
    report = proc.stderr[proc.stderr.find("=" * 20):].strip() if m else ""
    return {"available": True, "bytes": int(m.group(1)) if m else 0, "allocations": int(m.group(2)) if m else 0,
            "report": report, "returncode": proc.returncode}


_C_ALLOC = re.compile(r"\bC\.(malloc|calloc|CString|CBytes)\(")
_FUNC = re.compile(r"^func (?:\([^)]*\) )?(\w+)")


def c_allocations(package: Path) -> list[dict]:
    """Find C allocations in the package's Go source and whether the same function frees them.

    A source scan, not a proof: it names each ``C.malloc``/``C.CString``/... call and flags those
    whose function holds no ``C.free``, the line a LeakSanitizer report cannot name (its stacks stop
    at the cgo boundary).
    """
    found = []
    for path in sorted(Path(package).glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        func, body = "", []
        for no, line in enumerate(path.read_text().splitlines() + ["func _end"], 1):
            m = _FUNC.match(line)
            if m:
                freed = any("C.free(" in b for _, b in body)
                found += [{"site": f"main.{func} {path.name}:{n}", "call": f"C.{c}", "freed": freed}
                          for n, b in body for c in _C_ALLOC.findall(b)]
                func, body = m.group(1), []
            body.append((no, line))
    return found


# -- shown under the verdict table of `leaklab run` ------------------------------------------------

def _mib(n: float) -> str:
    return f"{n / _MiB:+,.1f} MiB"


def diagnosis_tables(result) -> list:
    """Rich tables for one :class:`harness.lab.Result`: growing allocation sites, goroutine groups and the
    goroutine leak profile. Empty when the run was made without profiles."""
    from rich.table import Table

    if result.top_sites is None:
        return []
    name = f"{result.family}/{result.variant}"
    sites = Table(title=f"{name}: where the live heap grew (heap profiles after a GC, start vs end of the window)")
    for col in ("allocation site", "growth", "objects"):
        sites.add_column(col)
    for s in result.top_sites:
        sites.add_row(s["site"], _mib(s["bytes"]), f"{s['objects']:+,}")
    if not result.top_sites:
        sites.add_row("[green]no site grows faster than 0.5 MiB/s[/]", "", "")
    gor = Table(title=f"{name}: goroutines at the end, grouped by stack and wait reason")
    for col in ("where it waits", "state", "count", "since warm-up"):
        gor.add_column(col)
    for g in result.top_goroutines or []:
        style = "red" if g["growing"] else "default"
        gor.add_row(f"[{style}]{g['site']}[/]", g["wait"], f"{g['count']:,}", f"{g['growth']:+,}")
    lp = result.leak_profile or {}
    leak = Table(title=f"{name}: goroutine leak profile")
    leak.add_column("leaked goroutines blocked at")
    leak.add_column("count")
    if not lp.get("available"):
        leak.add_row("not available: needs Go 1.27, or Go 1.26 built with GOEXPERIMENT=goroutineleakprofile", "")
    for s in lp.get("sites", []):
        leak.add_row(s["site"], f"{s['count']:,}")
    if lp.get("available") and not lp.get("sites"):
        leak.add_row("[green]none reported[/] (it cannot see goroutines blocked on a still-reachable channel, "
                     "nor spinning ones)", "0")
    return [sites, gor, leak]


#: A program under go-cases/05-cgo/testdata that passes C a Go pointer to a Go pointer.
CGOCHECK_DEMO = Path(__file__).resolve().parent.parent / "go-cases" / "05-cgo" / "testdata" / "cgocheck"


def cgocheck_demo(*, go: GoToolchain | None = None, demo: Path = CGOCHECK_DEMO) -> dict:
    """Run the cgocheck demo twice: unpinned (the runtime's cgocheck panics) and with runtime.Pinner
    (it passes). Returns ``unpinned`` and ``pinned``, each the exit status and the program's last line."""
    go = go or find_go()
    out = {}
    with tempfile.TemporaryDirectory(prefix="leaklab-cgocheck-") as tmp:
        binary = Path(tmp) / "demo"
        proc = subprocess.run([go.go, "build", "-o", str(binary), "."], cwd=demo, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "1"})
        if proc.returncode != 0:
            raise LeakLabError(f"the cgocheck demo needs cgo and a C compiler (gcc); `go build` said:\n{proc.stderr}")
        for name, args in (("unpinned", []), ("pinned", ["pin"])):
            run = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
            text = (run.stderr if run.returncode else run.stdout).strip().splitlines()
            out[name] = {"returncode": run.returncode, "message": text[0] if text else ""}
    return out


# -- every family's checks, and the report a notebook shows ------------------------------------------

def _finding(check: str, variant: str, flagged: bool, text: str) -> dict:
    return {"check": check, "variant": variant, "flagged": flagged, "finding": text}


def goleak_test(package: Path, *, go: GoToolchain | None = None) -> dict:
    """Run the package's Go tests (goleak) verbosely; ``passed`` and the ``output``."""
    go = go or find_go()
    proc = subprocess.run([go.go, "test", "-count=1", "-v", "."], cwd=Path(package), capture_output=True, text=True,
                          timeout=300, env={**os.environ, "GOTOOLCHAIN": "local"})
    return {"passed": proc.returncode == 0, "output": proc.stdout + proc.stderr}


def _final_counts(result, names: list[str]) -> dict[str, int]:
    from .probe import read_samples
    samples = read_samples(Path(result.run_dir) / "samples.jsonl")
    return {n: int(samples[n][-1]) for n in names if n in samples.columns and len(samples)}


def family_checks(results, *, go: GoToolchain | None = None) -> list[dict]:
    """The static and runtime checks Go offers for the family of ``results`` (its leaky and fixed runs).

    Each finding has ``check``, ``variant``, ``flagged`` (the check points at a problem) and ``finding``.
    """
    from .cases import get_family
    go = go or find_go()
    fam = get_family(results[0].family)
    out = []
    for v in ("leaky", "fixed"):
        found = vet(fam.package(v), go=go)
        out.append(_finding("go vet", v, bool(found), "; ".join(f"{f['file']}:{f['line']}: {f['message']}"
                                                               for f in found) or "no finding"))
    if fam.name == "timer":
        demo = fam.package("leaky").parent / "testdata" / "lostcancel"
        found = vet(demo, go=go)
        out.append(_finding("go vet (lostcancel)", "testdata/lostcancel", bool(found),
                            "; ".join(f"{f['file']}:{f['line']}: {f['message']}" for f in found)))
    if fam.name == "goroutine":
        for v in ("leaky", "fixed"):
            t = goleak_test(fam.package(v), go=go)
            lines = [ln.strip().lstrip("[ ") for ln in t["output"].splitlines() if "in state" in ln]
            out.append(_finding("goleak (go test)", v, bool(lines),
                                f"{len(lines)} goroutines left, e.g. {lines[0]}" if lines
                                else ("test passed: no goroutine left" if t["passed"] else t["output"][-300:])))
        if leak_profile_supported(go):
            for b in leak_profile_blind_spots(go=go):
                out.append(_finding("what the leak profile misses", b["case"], b["leak_profile_total"] > 0,
                                    f"{b['count']:,} goroutines at {b['group']}; the leak profile reports "
                                    f"{b['leak_profile_total']:,}"))
    if fam.name == "finalizer":
        for r in results:
            c = check_finalizers(fam.package(r.variant), seconds=1.0, go=go)
            text = ("; ".join(f"{i['site']} can reach its own object (x{i['count']})" for i in c["issues"])
                    or "no issue") + ("; the runtime stopped the program" if c["crashed"] else "")
            out.append(_finding("GODEBUG=checkfinalizers=1", r.variant, c["crashed"] or bool(c["issues"]), text))
            n = _final_counts(r, ["finalizers_queued", "finalizers_executed", "cleanups_queued", "cleanups_executed"])
            out.append(_finding("finalizers and cleanups run (runtime/metrics)", r.variant,
                                n.get("finalizers_executed", 0) + n.get("cleanups_executed", 0) == 0,
                                ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in n.items())))
    if fam.name == "cgo":
        for v in ("leaky", "fixed"):
            a = asan_leaks(fam.package(v), seconds=1.0, go=go)
            out.append(_finding("go build -asan (LeakSanitizer at exit)", v, a["bytes"] > 0,
                                f"{a['bytes'] / _MiB:,.1f} MiB of C memory in {a['allocations']:,} allocations "
                                "never freed" if a["available"] else f"not available: {a['report'][:200]}"))
            allocs = c_allocations(fam.package(v))
            out.append(_finding("C allocations in the source", v, any(not a["freed"] for a in allocs),
                                "; ".join(f"{a['site']} {a['call']} " + ("freed" if a["freed"] else "NEVER freed")
                                          for a in allocs)))
        demo = cgocheck_demo(go=go)
        out.append(_finding("cgocheck (default)", "testdata/cgocheck", demo["unpinned"]["returncode"] != 0,
                            f"unpinned: {demo['unpinned']['message']}; with runtime.Pinner: "
                            f"{demo['pinned']['message']}"))
    return out


def leak_profile_blind_spots(*, out: Path | None = None, seconds: float = 2.0,
                             go: GoToolchain | None = None) -> list[dict]:
    """Run the two goroutine leaks the leak profile cannot see, with profiles, and report both views.

    ``reachable`` (go-cases/03-goroutine/testdata/reachable) blocks senders on channels a global
    registry still holds; ``spin`` (go-cases/03-goroutine/spin/leaky) loops on a closed channel.
    Each entry has ``case``, the largest goroutine group (``group``, ``count``) and ``leak_profile_total``.
    """
    from .cases import get_family
    from .lab import measure
    from .run import Limits
    go = go or find_go()
    fam = get_family("goroutine")
    cases = {"reachable": fam.package("leaky").parent / "testdata" / "reachable",
             "spin": fam.package("leaky").parent / "spin" / "leaky"}
    found = []
    with tempfile.TemporaryDirectory(prefix="leaklab-blind-") as tmp:
        for name, package in cases.items():
            r = measure(package, "blind-spots", name, signal="goroutines", go=go, profiles=True,
                        limits=Limits(duration_s=seconds, warmup_s=min(1.0, seconds / 3)), out=Path(out or tmp))
            top = next((g for g in r.top_goroutines or [] if g["function"] != "main.main"), {})
            found.append({"case": name, "group": top.get("fingerprint", ""), "count": top.get("count", 0),
                          "leak_profile_total": (r.leak_profile or {}).get("total", 0),
                          "available": (r.leak_profile or {}).get("available", False)})
    return found


class Report:
    """What :func:`report` returns: shown as HTML in a notebook, as text elsewhere."""

    def __init__(self, results, checks: list[dict]) -> None:
        self.results, self.checks = list(results), checks

    def _sections(self):
        for r in self.results:
            name = f"{r.family}/{r.variant}"
            if r.top_sites is None:
                yield name, ["note"], [["run without profiles: run it with profiles=True to diagnose it"]]
                continue
            yield (f"{name}: where the live heap grew", ["allocation site", "growth", "objects"],
                   [[s["site"], _mib(s["bytes"]), f"{s['objects']:+,}"] for s in r.top_sites]
                   or [["no site grows faster than 0.5 MiB/s", "", ""]])
            yield (f"{name}: goroutines at the end, by stack and wait reason", ["where", "state", "count", "since warm-up"],
                   [[g["site"], g["wait"], f"{g['count']:,}", f"{g['growth']:+,}"] for g in r.top_goroutines])
            lp = r.leak_profile or {}
            rows = [[s["site"], f"{s['count']:,}"] for s in lp.get("sites", [])]
            if not lp.get("available"):
                rows = [["not available on this toolchain (Go 1.27, or Go 1.26 with the experiment)", ""]]
            yield f"{name}: goroutine leak profile", ["leaked goroutines blocked at", "count"], rows or [["none", "0"]]
        if self.checks:
            yield ("Go's own checks", ["check", "variant", "flags a problem?", "finding"],
                   [[c["check"], c["variant"], "yes" if c["flagged"] else "no", c["finding"]] for c in self.checks])

    def _repr_html_(self) -> str:
        import html
        parts = []
        for title, head, rows in self._sections():
            parts.append(f"<h4>{html.escape(title)}</h4><table class='leaklab-diagnosis'><thead><tr>"
                         + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
                         + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                                   for row in rows) + "</tbody></table>")
        parts.append(f"<p><em>What the leak profile misses:</em> {html.escape(LEAK_PROFILE_MISSES)}</p>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return "\n".join(f"{title}\n" + "\n".join("  " + "  ".join(row) for row in rows)
                         for title, _, rows in self._sections())


def report(results, *, checks: bool = True, go: GoToolchain | None = None) -> Report:
    """The diagnosis of a family's runs (made with profiles) and, with ``checks``, Go's checks for it."""
    return Report(results, family_checks(results, go=go) if checks else [])
