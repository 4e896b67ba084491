"""Find the leak, not only see it: the diagnosis of a run's profiles (:mod:`leaklab.profiles`), the
checks Go itself offers for each family, and :func:`report`: both as the tables a notebook or ``leaklab run``
shows (:mod:`leaklab.diagnosis_report`).

Every program a check runs goes through :func:`leaklab.run.execute` (memory cap, time limit, its own
process group, killed at the end) and every go command through :meth:`GoToolchain.run` (killed with
its children past its time limit).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from .build import build
from .cases import Family, cases_dir, get_family
from .diagnosis_report import DiagnosisReport
from .errors import BuildFailed, DiagnosisMissing, LeakLabError
from .lab import measure
from .probe import SIGNALS, read_samples
from .profiles import (
    LEAK_PROFILE_MISSES,
    Diagnosis,
    Frame,
    diagnose,
    diagnosis_fields,
    goroutine_groups,
    heap_growth,
    leak_profile,
    leak_profile_env,
    leak_profile_supported,
)
from .run import Limits, execute
from .runfolder import RunFolder
from .toolchain import GoToolchain, find_go

__all__ = [
    "FAMILY_CHECKS", "LEAK_PROFILE_MISSES", "Diagnosis", "DiagnosisMissing", "Frame",
    "asan_leaks", "c_allocations", "cgocheck_demo", "check_finalizers", "diagnose", "diagnosis_fields",
    "family_checks", "goleak_test", "goroutine_groups", "heap_growth", "leak_profile",
    "leak_profile_blind_spots", "leak_profile_env", "leak_profile_supported", "report", "vet",
]

_HEAP, _C = SIGNALS["heap_bytes"], SIGNALS["outside_go_bytes"]

#: A program under go-cases/05-cgo/testdata that passes C a Go pointer to a Go pointer.


# -- the checks Go offers ---------------------------------------------------------------------------

_VET_LINE = re.compile(r"^(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:\d+:)? (?P<message>.*)$")


def vet(package: Path, *, go: GoToolchain | None = None) -> list[dict]:
    """Run ``go vet`` on one package folder; return its findings (``file``, ``line``, ``message``)."""
    go = go or find_go()
    package = Path(package).resolve()
    proc = go.run("vet", ".", cwd=package, timeout=300)
    found = [m.groupdict() for m in map(_VET_LINE.match, proc.stderr.splitlines()) if m]
    if proc.returncode != 0 and not found:
        raise LeakLabError(f"`go vet` could not check {package}:\n{proc.stderr.strip()}")
    return [{**f, "line": int(f["line"]), "file": os.path.basename(f["file"])} for f in found]


def goleak_test(package: Path, *, go: GoToolchain | None = None) -> dict:
    """Run the package's Go tests (goleak) verbosely; ``passed`` and the ``output``."""
    proc = (go or find_go()).run("test", "-count=1", "-v", ".", cwd=Path(package), timeout=300)
    return {"passed": proc.returncode == 0, "output": proc.stdout + proc.stderr}


def _briefly(seconds: float) -> Limits:
    return Limits(duration_s=seconds, warmup_s=0.0, grace_s=30.0)


def _run_briefly(package: Path, limits: Limits, *, go: GoToolchain, build_env: dict[str, str] | None = None,
                 run_env: dict[str, str] | None = None, backstop: bool = True) -> tuple[int | None, str]:
    """Build ``package`` (probe included) and run it under ``limits``: the probe makes it exit after
    ``limits.duration_s``. Returns its exit status and what it wrote on stderr."""
    with tempfile.TemporaryDirectory(prefix="leaklab-check-") as tmp:
        folder = RunFolder(Path(tmp))
        binary = build(Path(package), folder.binary, go, env=build_env)
        outcome = execute(binary, folder.path, limits, env=run_env, backstop=backstop)
        stderr = folder.stderr.read_text(errors="replace")
    if outcome.timed_out:
        raise LeakLabError(f"{package} was still running {limits.grace_s:g} s after its {limits.duration_s:g} s "
                           "and was stopped; is it a lab program (built with the probe, which ends it)?")
    if outcome.capped:
        raise LeakLabError(f"{package} went over the {_HEAP.amount(limits.mem_cap_bytes, 0)} memory cap and "
                           "was stopped")
    return outcome.returncode, stderr


_FINALIZER_ISSUE = re.compile(r"Has (finalizer|cleanup) at 0x[0-9a-f]+\n\s+(\S+?)(?:\(.*\))?\n\s+(\S+):(\d+)")


def check_finalizers(package: Path, *, seconds: float = 2.0, go: GoToolchain | None = None) -> dict:
    """Run the package with ``GODEBUG=checkfinalizers=1`` (Go 1.25+).

    Returns ``crashed`` (the runtime stops a program whose finalizer or cleanup can reach its own
    object), ``issues`` (the finalizers it named, by site, with counts) and the exit status.
    """
    go = go or find_go()
    if go.version_tuple < (1, 25):
        return {"available": False, "crashed": False, "issues": [], "returncode": None}
    status, stderr = _run_briefly(package, _briefly(seconds), go=go, run_env={"GODEBUG": "checkfinalizers=1"})
    issues = Counter(f"{m[1]} {m[2]} {os.path.basename(m[3])}:{m[4]}" for m in _FINALIZER_ISSUE.finditer(stderr))
    return {"available": True, "crashed": "detected possible issues with cleanups" in stderr,
            "issues": [{"site": s, "count": c} for s, c in issues.most_common()], "returncode": status}


_LSAN = re.compile(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation")


def asan_leaks(package: Path, *, seconds: float = 1.5, go: GoToolchain | None = None) -> dict:
    """Build with ``go build -asan`` (Go 1.25+ reports C memory never freed at exit) and run briefly.

    Returns ``available`` (false when the toolchain or C compiler cannot build with ASan), ``bytes``
    and ``allocations`` leaked, and the LeakSanitizer ``report``.
    """
    go = go or find_go()
    if go.version_tuple < (1, 25):
        return {"available": False, "bytes": 0, "allocations": 0, "report": "needs Go 1.25 or newer"}
    try:  # ASan reserves terabytes of shadow address space: no address-space backstop, the RSS cap holds
        status, stderr = _run_briefly(package, _briefly(seconds), go=go, backstop=False,
                                      build_env={"GOFLAGS": "-asan", "CGO_ENABLED": "1"})
    except BuildFailed as exc:
        return {"available": False, "bytes": 0, "allocations": 0, "report": str(exc)}
    m = _LSAN.search(stderr)
    return {"available": True, "bytes": int(m[1]) if m else 0, "allocations": int(m[2]) if m else 0,
            "report": stderr[stderr.find("=" * 20):].strip() if m else "", "returncode": status}


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
        func = ""
        body: list[tuple[int, str]] = []
        for no, line in enumerate(path.read_text().splitlines() + ["func _end"], 1):
            m = _FUNC.match(line)
            if m:
                freed = any("C.free(" in b for _, b in body)
                found += [{"site": f"main.{func} {path.name}:{n}", "call": f"C.{c}", "freed": freed}
                          for n, b in body for c in _C_ALLOC.findall(b)]
                func, body = m[1], []
            body.append((no, line))
    return found


def cgocheck_demo(*, go: GoToolchain | None = None, demo: Path | None = None) -> dict:
    """Run the cgocheck demo twice: unpinned (the runtime's cgocheck panics) and with runtime.Pinner
    (``PIN=1``, it passes). Returns ``unpinned`` and ``pinned``, each the exit status and the first line
    the program wrote (on stderr when it failed)."""
    go = go or find_go()
    demo = demo or cases_dir() / "05-cgo" / "testdata" / "cgocheck"
    out = {}
    with tempfile.TemporaryDirectory(prefix="leaklab-cgocheck-") as tmp:
        try:
            binary = build(demo, Path(tmp) / "demo", go, env={"CGO_ENABLED": "1"})
        except BuildFailed as exc:
            raise LeakLabError(f"the cgocheck demo needs cgo and a C compiler (gcc); {exc}") from None
        for name, env in (("unpinned", {}), ("pinned", {"PIN": "1"})):
            run_dir = Path(tmp) / name
            run_dir.mkdir()
            outcome = execute(binary, run_dir, Limits(duration_s=10.0, warmup_s=0.0), env=env)
            said = RunFolder(run_dir).stderr if outcome.returncode else RunFolder(run_dir).stdout
            text = said.read_text().strip().splitlines()
            out[name] = {"returncode": outcome.returncode, "message": text[0] if text else ""}
    return out


def leak_profile_blind_spots(*, out: Path | None = None, seconds: float = 2.0,
                             go: GoToolchain | None = None) -> list[dict]:
    """Run the two goroutine leaks the leak profile cannot see, with profiles, and report both views.

    ``reachable`` (go-cases/03-goroutine/testdata/reachable) blocks senders on channels a global
    registry still holds; ``spin`` (go-cases/03-goroutine/claims/closed-channel-worker/leaky) loops on a closed channel.
    Each entry has ``case``, the largest goroutine group (``group``, ``count``) and ``leak_profile_total``.
    """
    go = go or find_go()
    root = get_family("goroutine").package("leaky").parent
    cases = (("reachable", root / "testdata" / "reachable"),
             ("spin", root / "claims" / "closed-channel-worker" / "leaky"))
    with tempfile.TemporaryDirectory(prefix="leaklab-blind-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        runs = list(pool.map(lambda case: measure(
            case[1], "blind-spots", case[0], signal="goroutines", go=go, profiles=True,
            limits=Limits(duration_s=seconds, warmup_s=min(1.0, seconds / 3), sequential=False),
            out=Path(out or tmp)), cases))
    found = []
    for (name, _), r in zip(cases, runs, strict=True):
        top: dict = next((g for g in r.top_goroutines or [] if g["function"] != "main.main"), {})
        lp = r.leak_profile or {}
        found.append({"case": name, "group": top.get("fingerprint", ""), "count": top.get("count", 0),
                      "leak_profile_total": lp.get("total", 0), "available": lp.get("available", False)})
    return found


# -- every family's checks: each takes (family, its results, go) and returns findings ---------------

def _finding(check: str, variant: str, flagged: bool, text: str) -> dict:
    return {"check": check, "variant": variant, "flagged": flagged, "finding": text}


def _vet_text(found: list[dict]) -> str:
    return "; ".join(f"{f['file']}:{f['line']}: {f['message']}" for f in found) or "no finding"


def _vet_both(fam: Family, results, go: GoToolchain) -> list[dict]:
    return [_finding("go vet", v, bool(found), _vet_text(found))
            for v in ("leaky", "fixed") for found in [vet(fam.package(v), go=go)]]


def _lostcancel(fam: Family, results, go: GoToolchain) -> list[dict]:
    found = vet(fam.package("leaky").parent / "testdata" / "lostcancel", go=go)
    return [_finding("go vet (lostcancel)", "testdata/lostcancel", bool(found), _vet_text(found))]


def _goleak(fam: Family, results, go: GoToolchain) -> list[dict]:
    out = []
    for v in ("leaky", "fixed"):
        t = goleak_test(fam.package(v), go=go)
        lines = [ln.strip().lstrip("[ ") for ln in t["output"].splitlines() if "in state" in ln]
        out.append(_finding("goleak (go test)", v, bool(lines), f"{len(lines)} goroutines left, e.g. {lines[0]}"
                            if lines else ("test passed: no goroutine left" if t["passed"] else t["output"][-300:])))
    return out


def _blind_spots(fam: Family, results, go: GoToolchain) -> list[dict]:
    if not leak_profile_supported(go):
        return []
    return [_finding("what the leak profile misses", b["case"], b["leak_profile_total"] > 0,
                     f"{b['count']:,} goroutines at {b['group']}; the leak profile reports {b['leak_profile_total']:,}")
            for b in leak_profile_blind_spots(go=go)]


def _checkfinalizers(fam: Family, results, go: GoToolchain) -> list[dict]:
    out = []
    for r in results:
        c = check_finalizers(fam.package(r.variant), seconds=1.0, go=go)
        text = ("; ".join(f"{i['site']} can reach its own object (x{i['count']})" for i in c["issues"])
                or "no issue") + ("; the runtime stopped the program" if c["crashed"] else "")
        out.append(_finding("GODEBUG=checkfinalizers=1", r.variant, c["crashed"] or bool(c["issues"]), text))
    return out


def _finalizer_counts(fam: Family, results, go: GoToolchain) -> list[dict]:
    out = []
    for r in results:
        samples = read_samples(RunFolder(r.run_dir).samples)
        n = {k: int(samples[k][-1]) for k in ("finalizers_queued", "finalizers_executed", "cleanups_queued",
                                              "cleanups_executed") if k in samples.columns and len(samples)}
        out.append(_finding("finalizers and cleanups run (runtime/metrics)", r.variant,
                            n.get("finalizers_executed", 0) + n.get("cleanups_executed", 0) == 0,
                            ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in n.items())))
    return out


def _asan(fam: Family, results, go: GoToolchain) -> list[dict]:
    out = []
    for v in ("leaky", "fixed"):
        a = asan_leaks(fam.package(v), seconds=1.0, go=go)
        out.append(_finding("go build -asan (LeakSanitizer at exit)", v, a["bytes"] > 0,
                            f"{_C.amount(a['bytes'])} of C memory in {a['allocations']:,} allocations never freed"
                            if a["available"] else f"not available: {a['report'][:200]}"))
    return out


def _c_source(fam: Family, results, go: GoToolchain) -> list[dict]:
    return [_finding("C allocations in the source", v, any(not a["freed"] for a in allocs),
                     "; ".join(f"{a['site']} {a['call']} " + ("freed" if a["freed"] else "NEVER freed") for a in allocs))
            for v in ("leaky", "fixed") for allocs in [c_allocations(fam.package(v))]]


def _cgocheck(fam: Family, results, go: GoToolchain) -> list[dict]:
    demo = cgocheck_demo(go=go)
    return [_finding("cgocheck (default)", "testdata/cgocheck", demo["unpinned"]["returncode"] != 0,
                     f"unpinned: {demo['unpinned']['message']}; with runtime.Pinner: {demo['pinned']['message']}")]


#: The checks beyond ``go vet`` (which every family gets), by family.
FAMILY_CHECKS = {
    "timer": (_lostcancel,),
    "goroutine": (_goleak, _blind_spots),
    "finalizer": (_checkfinalizers, _finalizer_counts),
    "cgo": (_asan, _c_source, _cgocheck),
}


def family_checks(results, *, go: GoToolchain | None = None) -> list[dict]:
    """The static and runtime checks Go offers for the family of ``results`` (its leaky and fixed runs).

    Each finding has ``check``, ``variant``, ``flagged`` (the check points at a problem) and ``finding``.
    """
    go = go or find_go()
    fam = get_family(results[0].family)
    checks = (_vet_both, *FAMILY_CHECKS.get(fam.name, ()))
    # Each check builds or runs programs of its own, for a second or two: side by side, not one by one.
    with concurrent.futures.ThreadPoolExecutor(len(checks)) as pool:
        found = list(pool.map(lambda check: check(fam, results, go), checks))
    return [f for findings in found for f in findings]


def report(results, *, checks: bool = True, go: GoToolchain | None = None) -> DiagnosisReport:
    """The diagnosis of a family's runs (made with profiles) and, with ``checks``, Go's checks for it."""
    return DiagnosisReport(results, family_checks(results, go=go) if checks else [])
