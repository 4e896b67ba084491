"""The article's claims, each measured by a small case, and the table that lists what the lab found.

Every :class:`Claim` names its family, says in the lab's own words what the article asserts, and has
two parts: ``run`` runs real Go code on the installed toolchain (a Go example, a timed run of a case,
a benchmark, or a program run many times) and returns the numbers it measured; ``judge`` (pure, no Go)
reads those numbers against what the article says and returns the verdict with a sentence for the
table: ``confirmed`` (the measurement agrees with the claim), ``refuted`` (it contradicts it),
``corrected`` (the effect is real but the article's account of it is wrong or incomplete) or
``inconclusive`` (this measurement cannot tell). ``expected`` is the verdict the lab expects on this
toolchain; a :class:`Finding` that differs is flagged in the table. :func:`claims_markdown` renders
the findings as the claims table of docs/claims.md, the labs pages and the overview notebook.

Each claim is measured on each Go release asked for (``run_claims(versions=...)``; default the
installed Go): one finding per claim and toolchain, a column per Go version in the table. A toolchain
older than go-cases' own go directive (``go 1.24``) measures a copy of go-cases whose go.mod names
that toolchain's release, so the cases build as that Go would have built them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import re
import resource
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from . import _json
from .errors import BadParameter, ClaimCheckFailed, LeakLabError
from .bench import crossover, run_bench
from .build import build
from .cases import cases_dir, get_family
from .paths import content
from .lab import DEFAULT_OUT, measure
from .matrix import Cell, matrix_png, run_matrix
from .probe import SIGNALS, read_samples
from .run import Limits, execute
from .toolchain import GoToolchain, fetch_go, find_go, parse_version
from .verdict import judge_samples

__all__ = ["CLAIMS", "claims_json", "VERDICTS", "Claim", "ClaimsTable", "Finding",
           "claims_markdown", "evaluate", "load_findings", "run_claims", "table", "versions_markdown", "write_claims"]

#: Where ``leaklab claims`` keeps the findings (the markdown table goes beside it as claims.md).
def claims_json() -> Path:
    """The committed findings: docs/claims.json of the checkout."""
    return content("docs", "claims.json")
#: What a verdict on a claim can be.
VERDICTS = ("confirmed", "refuted", "corrected", "inconclusive")

_HEAP = SIGNALS["heap_bytes"]


@dataclasses.dataclass
class Finding:
    """What the lab measured about one claim, on which Go, when."""

    claim_id: str
    family: str
    claim: str
    measured: str
    verdict: str  # one of VERDICTS, derived from ``numbers``
    as_expected: bool  # verdict == expected
    go_version: str
    date: str
    how: str
    numbers: dict = dataclasses.field(default_factory=dict)
    expected: str = ""


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the article: how to measure it, and how to judge the measurement."""

    id: str
    family: str
    claim: str
    how: str
    run: Callable[["_Context"], dict]  # runs Go; returns the numbers measured
    judge: Callable[[dict], tuple[str, str]]  # numbers -> (verdict, what was measured, in a sentence)
    expected: Callable[[dict], str]  # numbers -> the verdict the lab expects (on this toolchain)


@dataclasses.dataclass
class _Context:
    go: GoToolchain
    limits: Limits
    out: Path
    versions: Sequence[str]
    cases: Path = dataclasses.field(default_factory=cases_dir)


def _always(verdict: str) -> Callable[[dict], str]:
    return lambda numbers: verdict


def _go_example(ctx: _Context, package: str, name: str) -> bool:
    """Run one Go example; True when its output matched its ``// Output:`` comment."""
    proc = ctx.go.run("test", "-count=1", "-run", f"^{name}$", "-v", f"./{package}/", cwd=ctx.cases, timeout=300)
    if f"--- PASS: {name}" in proc.stdout:
        return True
    if f"--- FAIL: {name}" in proc.stdout:
        return False
    raise ClaimCheckFailed(f"the example {name} in go-cases/{package} did not run:\n{proc.stdout}{proc.stderr}")


def _counters(ctx: _Context, package: str, name: str, **kwargs) -> tuple[dict[str, float], object]:
    """Run a case for the context's duration; its last expvar counters and its result."""
    result = measure(ctx.cases / package, f"claims-{name}", package.rsplit("/", 1)[-1], limits=ctx.limits,
                     out=ctx.out, go=ctx.go, work="requests", **kwargs)
    samples = read_samples(Path(result.run_dir) / "samples.jsonl")
    return {k.removeprefix("expvar."): float(v[-1]) for k, v in samples.columns.items()
            if k.startswith("expvar.")}, result


# --- syncmap -------------------------------------------------------------------------------------------

def _run_unhashable(ctx: _Context) -> dict:
    panics = _go_example(ctx, "01-syncmap", "Example_unhashableKeyPanics")
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        Path(tmp, "go.mod").write_text("module claim\n\ngo 1.22\n")
        Path(tmp, "main.go").write_text("package main\n\ntype user struct {\n\tid   int\n\ttags []string\n}\n\n"
                                        "func main() {\n\tm := map[user]int{}\n\t_ = m\n}\n")
        proc = ctx.go.run("build", "-o", os.devnull, ".", cwd=Path(tmp), timeout=300)
    refused = proc.returncode != 0 and "invalid map key type" in proc.stderr
    return {"syncmap_panics": panics, "map_refused": refused}


def _judge_unhashable(n: dict) -> tuple[str, str]:
    panics, refused = n["syncmap_panics"], n["map_refused"]
    measured = (f"sync.Map: {'panics on the first Store (hash of unhashable type)' if panics else 'did NOT panic'}; "
                f"plain map: {'does not compile (invalid map key type)' if refused else 'compiled'}")
    if panics and refused:
        return "refuted", measured + ". Nothing can grow."
    return "inconclusive", measured + ": such keys were accepted, this check cannot tell whether the map grows."


def _run_race(ctx: _Context) -> dict:
    leaky, _ = _counters(ctx, "01-syncmap/race/leaky", "race")
    fixed, _ = _counters(ctx, "01-syncmap/race/fixed", "race")
    return {"leaky": leaky, "fixed": fixed}


def _judge_race(n: dict) -> tuple[str, str]:
    leaky, fixed = n["leaky"], n["fixed"]
    bad = lambda c: c.get("resurrected", 0) + c.get("lost", 0)  # noqa: E731
    measured = (f"Load-then-Store/Delete: {leaky.get('resurrected', 0):,.0f} sessions came back after logout and "
                f"{leaky.get('lost', 0):,.0f} fresh logins were deleted in {leaky.get('requests', 0):,.0f} rounds; "
                f"CompareAndSwap/CompareAndDelete: {bad(fixed):,.0f} of {fixed.get('requests', 0):,.0f}")
    if not fixed.get("requests", 0):
        return "inconclusive", measured + " (the CompareAndSwap program did no work)"
    if bad(fixed) > 0:
        return "confirmed", measured + ": even the conditional operations went wrong"
    if bad(leaky) == 0:
        return "inconclusive", measured + ": the race did not show in this run"
    return "corrected", measured + ": the race is real, and sync.Map's conditional operations fix it"


_ARTICLE_WRITES = (5.0, 20.0)  # the article: sync.Map ahead below 5% writes, map+RWMutex ahead above ~20%
#: With no writes neither map blocks, so the benchmark should keep every core busy; below this share of
#: GOMAXPROCS other programs were taking the CPUs and nothing contended: the comparison says little.
_QUIET_CORES = 0.75


def _run_bench(ctx: _Context, attempts: int = 3) -> dict:
    for attempt in range(1, attempts + 1):
        result = run_bench(keys=(100,), benchtime="100000x", count=3, go=ctx.go, cases_dir=ctx.cases)
        numbers = {"keys": 100, "go_version": ctx.go.version, "benchtime": result.benchtime, "count": result.count,
                   "attempts": attempt,
                   "ns_per_op": result.ns_per_op["100"], "cores": result.cores.get("100", {}),
                   "procs": result.procs, "crossover_write_percent": crossover(result.ns_per_op["100"])}
        if _bench_cores(numbers) is None:
            break
    return numbers


def _bench_cores(n: dict) -> float | None:
    """The cores the read-only cases used when that is too few to compare the maps; None when enough."""
    used = [n.get("cores", {}).get(impl, {}).get("0", float("nan")) for impl in ("sync.Map", "RWMutex")]
    least = min(used)
    return least if n.get("procs") and least < _QUIET_CORES * n["procs"] else None


def _judge_bench(n: dict) -> tuple[str, str]:
    sm, rw = n["ns_per_op"]["sync.Map"], n["ns_per_op"]["RWMutex"]
    ratios = sorted(set(sm) & set(rw), key=float)
    low, high = _ARTICLE_WRITES
    reads_side = all(sm[w] < rw[w] for w in ratios if float(w) < low)  # sync.Map faster when almost all reads
    writes_side = all(rw[w] < sm[w] for w in ratios if float(w) > high)  # RWMutex faster when many writes
    cross = crossover(n["ns_per_op"])
    cells = ", ".join(f"{w}%: {sm[w]:.0f} vs {rw[w]:.0f} ns" for w in ratios)
    where = f"RWMutex overtakes sync.Map at ~{cross:.0f}% writes" if cross is not None else "they never cross"
    measured = (f"{n.get('keys', 100)} keys, sync.Map vs RWMutex per op: {cells} ({where}; the article: sync.Map "
                f"ahead below {low:.0f}%, RWMutex above {high:.0f}%. `leaklab bench` draws the full grid)")
    busy = _bench_cores(n)
    if busy is not None:
        return "inconclusive", (measured + f": with no writes the benchmark got only {busy:.1f} of {n['procs']} "
                                "cores, other programs were running; rerun on a quiet machine")
    if reads_side and writes_side and cross is not None:
        return "confirmed", measured
    if reads_side or writes_side:
        side = "read-heavy" if reads_side else "write-heavy"
        return "corrected", measured + f": only the {side} half holds"
    return "refuted", measured


def _bench_expected(n: dict) -> str:
    """Confirmed, when the benchmark had the machine's cores; a busy machine cannot tell. Before Go 1.24's
    sync.Map (a hash trie) the old one loses to map+RWMutex from about 1% writes (measured twice on Go 1.22.10:
    0%: 36 vs 68 and 34 vs 86 ns, 1%: 35 vs 27 and 36 vs 35 ns): only the write-heavy half holds."""
    if _bench_cores(n) is not None:
        return "inconclusive"
    return "corrected" if parse_version(n.get("go_version") or "go1.24") < (1, 24) else "confirmed"


# --- timer ---------------------------------------------------------------------------------------------

def _run_defer_stop(ctx: _Context) -> dict:
    return {"panic": _go_example(ctx, "02-timer", "Example_deferredStopRunsOnPanic"),
            "goexit": _go_example(ctx, "02-timer", "Example_deferredStopRunsOnGoexit")}


def _judge_defer_stop(n: dict) -> tuple[str, str]:
    measured = (f"the deferred Stop {'ran' if n['panic'] else 'did NOT run'} on a recovered panic and "
                f"{'ran' if n['goexit'] else 'did NOT run'} on runtime.Goexit (only os.Exit skips defers)")
    return ("refuted" if n["panic"] else "confirmed"), measured


def _run_classic_timer(ctx: _Context) -> dict:
    cells = run_matrix("timer", "classic", ctx.versions, limits=ctx.limits, out=ctx.out)
    return {"cells": [dataclasses.asdict(c) for c in cells]}


def _old_timers(cell: dict) -> bool:
    """Whether a cell ran with the timers of before Go 1.23, which live until they fire."""
    go = parse_version(cell["go_version"])
    directive = parse_version(cell["go_directive"] or cell["go_version"])
    asynchronous = "asynctimerchan=1" in [s.strip() for s in cell["godebug"].split(",")]
    return go < (1, 23) or (go < (1, 27) and (asynchronous or directive < (1, 23)))


def _cell_text(c: dict) -> str:
    debug = f" + GODEBUG={c['godebug']}" if c["godebug"] else ""
    shown = f"{c['verdict']} ({_HEAP.rate(c['rate_per_s'], 1)})" if c["status"] == "measured" else c["status"]
    return f"{c['go_version']}{debug}: {shown}" + ("" if Cell(**c).as_expected else f" (expected {c['expected']})")


def _judge_timer(n: dict) -> tuple[str, str]:
    cells = [c for c in n["cells"] if c["status"] != "not applicable"]
    measured = [c for c in cells if c["status"] == "measured"]
    text = "; ".join(_cell_text(c) for c in cells)
    leaking = [c for c in measured if c["verdict"] == "leak"]
    if not measured:
        return "inconclusive", text + ": no toolchain could run the case"
    if len(leaking) == len(measured):
        return "confirmed", text + ": it leaks on every toolchain measured"
    if not leaking:
        return "refuted", text + ": flat on every toolchain measured"
    if leaking == [c for c in measured if _old_timers(c)]:
        return "corrected", text + ": it leaks only with the timers of before Go 1.23"
    return "inconclusive", text + ": the leaking cells are not those with the old timers"


def _timer_expected(n: dict) -> str:
    """The verdict :func:`_judge_timer` gives when every cell shows what expect.toml says it should."""
    def as_expected(c: dict) -> dict:
        measured = c["expected"] in ("leak", "flat")
        return {**c, "verdict": c["expected"], "status": "measured" if measured else c["expected"]}
    return _judge_timer({"cells": [as_expected(c) for c in n["cells"]]})[0]


# --- goroutine -----------------------------------------------------------------------------------------

def _cpu_run(ctx: _Context, package: str) -> tuple[float, dict, str]:
    """Build and run a case; the CPU seconds it used, its last counters, its goroutine verdict."""
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        binary = build(ctx.cases / package, Path(tmp) / "binary", ctx.go)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        execute(binary, Path(tmp), ctx.limits)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples = read_samples(Path(tmp) / "samples.jsonl")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counters = {k.removeprefix("expvar."): float(v[-1]) for k, v in samples.columns.items() if k.startswith("expvar.")}
    verdict = judge_samples(samples, ctx.limits.warmup_s, ["goroutines"])["goroutines"].verdict
    return cpu, counters, verdict


def _run_spin(ctx: _Context) -> dict:
    cpu_l, leaky, gor_l = _cpu_run(ctx, "03-goroutine/spin/leaky")
    cpu_f, fixed, gor_f = _cpu_run(ctx, "03-goroutine/spin/fixed")
    return {"seconds": ctx.limits.duration_s, "cpu_s": {"leaky": cpu_l, "fixed": cpu_f}, "leaky": leaky,
            "fixed": fixed, "goroutines": {"leaky": gor_l, "fixed": gor_f}}


def _judge_spin(n: dict) -> tuple[str, str]:
    leaky, fixed, secs = n["leaky"], n["fixed"], n["seconds"]
    measured = (f"after close: goroutines {n['goroutines']['leaky']}, {n['cpu_s']['leaky'] / secs:.2f} CPU cores "
                f"busy, {leaky.get('handled', 0):,.0f} tasks handled for {leaky.get('requests', 0):,.0f} sent; "
                f"`for range`: goroutines {n['goroutines']['fixed']}, {n['cpu_s']['fixed'] / secs:.2f} cores, "
                f"{fixed.get('handled', 0):,.0f} handled")
    if not fixed.get("requests") or fixed.get("handled") != fixed.get("requests"):
        return "inconclusive", measured + " (the `for range` control did not handle exactly what was sent)"
    if leaky.get("handled", 0) > leaky.get("requests", 0):
        return "refuted", measured + ": the receive on a closed channel returns zero values at once, a busy spin"
    return "confirmed", measured + ": the workers stayed blocked"


# --- finalizer -----------------------------------------------------------------------------------------

def _run_onesided(ctx: _Context) -> dict:
    counters, result = _counters(ctx, "04-finalizer/onesided", "finalizer", signal=get_family("finalizer").signal)
    return {"heap_verdict": result.verdict, "rate_per_s": result.rate_per_s, **counters}


def _judge_onesided(n: dict) -> tuple[str, str]:
    released = n.get("released", 0)
    measured = (f"heap {n['heap_verdict']} at {_HEAP.rate(n['rate_per_s'], 1)}; {released:,.0f} of "
                f"{n.get('requests', 0):,.0f} finalizers ran")
    if n["heap_verdict"] == "leak" and released == 0:
        return "refuted", measured + ": the cycle is never collected"
    if n["heap_verdict"] == "flat" and released > 0:
        return "confirmed", measured
    return "inconclusive", measured


def _run_atexit(ctx: _Context, runs: int = 10) -> dict:
    limits = dataclasses.replace(ctx.limits, grace_s=min(ctx.limits.grace_s, 60))
    outputs, crashes = [], 0
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        binary = build(ctx.cases / "04-finalizer/atexit", Path(tmp) / "binary", ctx.go)
        for i in range(runs):
            run_dir = Path(tmp) / f"run-{i}"
            run_dir.mkdir()
            outcome = execute(binary, run_dir, limits)
            if outcome.timed_out or outcome.capped:
                raise ClaimCheckFailed(f"go-cases/04-finalizer/atexit should end on its own in well under a second; "
                                       f"run {i + 1} was stopped after {outcome.wall_s:.1f} s "
                                       f"(peak RSS {outcome.peak_rss_bytes / 2**20:.0f} MiB)")
            crashes += outcome.returncode != 0
            outputs.append((run_dir / "stdout.txt").read_text(errors="replace"))
    ran = [out.count("finalizer ran") for out in outputs]
    after = sum(out.split("main returns", 1)[-1].count("finalizer ran") for out in outputs if "main returns" in out)
    return {"runs": runs, "queued": 100_000, "crashes": crashes, "ran": ran, "after_last_line": after}


def _judge_atexit(n: dict) -> tuple[str, str]:
    ran, queued = n["ran"], n.get("queued", 100_000)
    measured = (f"{n['runs']} runs of {queued:,} queued finalizers: {n['crashes']} crashes; {min(ran):,}-{max(ran):,} "
                f"ran before the process ended ({n['after_last_line']} of them after main printed its last line)")
    if n["crashes"] > 0:
        return "inconclusive", measured + ": the program crashed, though it frees no C memory"
    if min(ran) >= queued:
        return "inconclusive", measured + ": every finalizer ran before the exit, none was left to test the claim"
    return "refuted", measured + "; the rest never ran: exiting does not run the queued finalizers"


# --- cgo -----------------------------------------------------------------------------------------------

def _run_keepalive(ctx: _Context) -> dict:
    leaky, _ = _counters(ctx, "05-cgo/keepalive/leaky", "keepalive")
    fixed, _ = _counters(ctx, "05-cgo/keepalive/fixed", "keepalive")
    return {"leaky": leaky, "fixed": fixed}


def _judge_keepalive(n: dict) -> tuple[str, str]:
    leaky, fixed = n["leaky"], n["fixed"]
    measured = (f"without runtime.KeepAlive {leaky.get('wrong', 0):,.0f} of {leaky.get('requests', 0):,.0f} C reads "
                f"returned wrong data, no crash; with it {fixed.get('wrong', 0):,.0f} of "
                f"{fixed.get('requests', 0):,.0f}")
    if not fixed.get("requests", 0):
        return "inconclusive", measured + " (the KeepAlive program did no work)"
    if leaky.get("wrong", 0) > 0 and fixed.get("wrong", 0) > 0:
        return "refuted", measured + ": freeing C memory in a finalizer corrupted reads even with KeepAlive"
    if leaky.get("wrong", 0) > 0:
        return "corrected", measured + ": the finalizer frees C memory still in use unless KeepAlive holds the owner"
    return "inconclusive", measured + ": the use-after-free did not show in this run"


#: The claims, in family order. Wording is the lab's own summary of what the article asserts.
CLAIMS = [
    Claim("unhashable-key", "syncmap", "A struct key holding a slice (not comparable) makes the map keep growing.",
          "go-cases/01-syncmap/example_test.go; a plain map with that key built by the Go compiler",
          _run_unhashable, _judge_unhashable, _always("refuted")),
    Claim("check-then-act", "syncmap", "Without a conditional replace/delete, stale sync.Map entries pile up; "
          "sync.Map lacks the operation to do it safely.", "go-cases/01-syncmap/race/{leaky,fixed} (expvar counters)",
          _run_race, _judge_race, _always("corrected")),
    Claim("syncmap-vs-rwmutex", "syncmap", "sync.Map wins when over 95% of operations are reads; map+RWMutex wins "
          "above about 20% writes.", "go-cases/bench/syncmap_test.go (`leaklab bench` for the full grid)",
          _run_bench, _judge_bench, _bench_expected),
    Claim("defer-stop-panic", "timer", "A panic can skip `defer t.Stop()`, leaving the timer running.",
          "go-cases/02-timer/example_test.go", _run_defer_stop, _judge_defer_stop, _always("refuted")),
    Claim("ticker-time-after", "timer", "A Ticker never stopped, or time.After in a loop, leaks its timer.",
          "go-cases/02-timer/classic (`leaklab matrix timer`)", _run_classic_timer, _judge_timer, _timer_expected),
    Claim("closed-channel-worker", "goroutine", "A worker doing `task := <-taskCh` after the channel is closed "
          "waits forever: a goroutine leak.", "go-cases/03-goroutine/spin/{leaky,fixed} (CPU from getrusage)",
          _run_spin, _judge_spin, _always("refuted")),
    Claim("finalizer-one-side", "finalizer", "Putting the finalizer on only one object of a cycle lets the "
          "cycle be collected.", "go-cases/04-finalizer/onesided (`leaklab run finalizer --variant onesided`)",
          _run_onesided, _judge_onesided, _always("refuted")),
    Claim("finalizer-at-exit", "finalizer", "Finalizers run when the program exits, so one that frees C memory "
          "crashes after exit.", "go-cases/04-finalizer/atexit, run 10 times", _run_atexit, _judge_atexit,
          _always("refuted")),
    Claim("cgo-keepalive", "cgo", "The cgo danger is pointers escaping; a finalizer freeing C memory is a safe "
          "way to manage it.", "go-cases/05-cgo/keepalive/{leaky,fixed} (expvar counters)", _run_keepalive,
          _judge_keepalive, _always("corrected")),
]


def evaluate(claim: Claim, numbers: dict, go_version: str, date: str | None = None) -> Finding:
    """Judge ``numbers`` measured for ``claim`` (no Go runs): the finding the table shows."""
    verdict, measured = claim.judge(numbers)
    expected = claim.expected(numbers)
    return Finding(claim_id=claim.id, family=claim.family, claim=claim.claim, measured=measured, verdict=verdict,
                   as_expected=verdict == expected, go_version=go_version, how=claim.how,
                   date=date or datetime.date.today().isoformat(), numbers=numbers, expected=expected)


def run_claims(ids: Sequence[str] = (), *, limits: Limits = Limits(duration_s=4, warmup_s=1),
               out: Path = DEFAULT_OUT, versions: Sequence[str] | None = None,
               go: GoToolchain | None = None) -> list[Finding]:
    """Check the claims named in ``ids`` (all by default) on each Go release in ``versions``.

    Without ``versions``, on ``go`` (default: the installed Go). Each release is fetched once and
    cached (:func:`leaklab.toolchain.fetch_go`); the installed Go serves its own release. The classic
    timer claim runs its matrix on the toolchain being measured (with and without asynctimerchan=1).
    Run data goes to ``OUT/claims-<go version>/``.
    """
    known = {c.id: c for c in CLAIMS}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadParameter(f"no claim called {', '.join(unknown)}; the claims are: {', '.join(known)}")
    local = go or find_go()
    chosen = [known[i] for i in ids] if ids else CLAIMS
    findings = []
    for tool in ([local] if not versions else [_toolchain(v, local) for v in dict.fromkeys(versions)]):
        release = "%d.%d" % tool.version_tuple
        with _cases_for(tool) as cases:
            ctx = _Context(go=tool, limits=limits, out=Path(out) / f"claims-{tool.version}", versions=[release],
                           cases=cases)
            findings += [evaluate(claim, claim.run(ctx), tool.version) for claim in chosen]
    return _ordered(findings, local.version)


def _ordered(findings: Sequence[Finding], installed: str, main: Sequence[Finding] = ()) -> list[Finding]:
    """In claim order; a claim's findings in Go version order, its main one last: one of ``main``, else the
    installed Go's, else the newest."""
    order = {c.id: i for i, c in enumerate(CLAIMS)}
    mains = {(f.claim_id, f.go_version) for f in main}
    return sorted(findings, key=lambda f: (order.get(f.claim_id, len(order)),
                                           (f.claim_id, f.go_version) in mains or f.go_version == installed,
                                           _go_key(f.go_version)))


def _toolchain(release: str, local: GoToolchain) -> GoToolchain:
    """``local`` when it is that release, else the cached (or downloaded) toolchain."""
    if local.version.removeprefix("go") == release or local.version.startswith(f"go{release}."):
        return local
    return fetch_go(release)


_GO_LINE = re.compile(r"^go (\d+)\.(\d+)(\.\d+)?$", re.M)


@contextlib.contextmanager
def _cases_for(go: GoToolchain) -> Iterator[Path]:
    """go-cases as ``go`` builds it: the module itself, or for a toolchain older than its go directive a
    temporary copy whose go.mod says that toolchain's release (with GOTOOLCHAIN=local an older Go
    refuses a module that asks for a newer one)."""
    cases = cases_dir()
    m = _GO_LINE.search((cases / "go.mod").read_text())
    if not m or go.version_tuple >= (int(m[1]), int(m[2])):
        yield cases
        return
    with tempfile.TemporaryDirectory(prefix="leaklab-cases-") as tmp:
        copy = Path(tmp) / "go-cases"
        shutil.copytree(cases, copy)
        gomod = copy / "go.mod"
        gomod.write_text(_GO_LINE.sub("go %d.%d" % go.version_tuple, gomod.read_text(), count=1))
        yield copy


def _by_claim(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by claim, in the order given; a claim's last finding is its main one."""
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.claim_id, []).append(f)
    return grouped


def _go_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)) or (0,)


def _mark(f: Finding) -> str:
    return f.verdict if f.as_expected else f"{f.verdict} (NOT as the lab expects: {f.expected or '?'})"


def claims_markdown(findings: Sequence[Finding], family: str | None = None) -> str:
    """The claims table (one family's rows when ``family`` is given) as GitHub markdown.

    One row per claim and a verdict column per Go version measured; "the lab measured" is the claim's
    last finding (the one :func:`write_claims` puts last: the installed Go's).
    """
    rows = [f for f in findings if family in (None, f.family)]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    gos = sorted({f.go_version for f in rows}, key=_go_key)
    lines = ["| family | the article claims | " + "".join(f"{g} | " for g in gos)
             + "the lab measured | Go, date | how |", "|---|---|" + "---|" * len(gos) + "---|---|---|"]
    for group in _by_claim(rows).values():
        main, on = group[-1], {f.go_version: f for f in group}
        cells = "".join(f"{_mark(on[g]) if g in on else '-'} | " for g in gos)
        lines.append(f"| {main.family} | {esc(main.claim)} | {cells}{esc(main.measured)} | {main.go_version}, "
                     f"{main.date} | {esc(main.how)} |")
    return "\n".join(lines) + "\n"


def versions_markdown(findings: Sequence[Finding]) -> str:
    """What each Go version measured, claim by claim (for the claims measured on more than one)."""
    parts = []
    for group in _by_claim(findings).values():
        if len(group) < 2:
            continue
        parts.append(f"**{group[-1].claim}**\n\n" + "".join(
            f"- {f.go_version}: {_mark(f)}: {f.measured}\n"
            for f in sorted(group, key=lambda f: _go_key(f.go_version))))
    return "\n".join(parts)


def load_findings(path: Path | None = None, *, all_versions: bool = False) -> list[Finding]:
    """The findings a ``leaklab claims`` run saved: each claim's main one (measured on the lab's Go, else the
    newest), as the labs pages quote them; with ``all_versions``, every Go version's, a claim's main one last."""
    path = Path(path) if path is not None else claims_json()
    if not path.is_file():
        raise ClaimCheckFailed(f"no findings at {path}: run `leaklab claims --save` first")
    doc = json.loads(Path(path).read_text())
    main = [Finding(**f) for f in doc["findings"]]
    if not all_versions:
        return main
    return _ordered([Finding(**f) for f in doc.get("other_versions", [])] + main, "", main)


class ClaimsTable:
    """Findings shown as the claims table: markdown in a notebook, plain markdown text with ``str()``."""

    def __init__(self, findings: Sequence[Finding], family: str | None = None) -> None:
        self.findings, self.family = list(findings), family

    def _repr_markdown_(self) -> str:
        return claims_markdown(self.findings, self.family)

    def __str__(self) -> str:
        return claims_markdown(self.findings, self.family)

    __repr__ = __str__  # a console or a plain-text notebook output shows the table too


def table(path: Path | None = None, family: str | None = None) -> ClaimsTable:
    """The claims table saved by ``leaklab claims --save`` (docs/claims.json): no Go is run."""
    return ClaimsTable(load_findings(path, all_versions=True), family)


def _timer_picture(findings: Sequence[Finding], img: Path) -> Path | None:
    """Redraw the timer matrix measured with these findings: every Go version's cells whose run data is
    still on disk, on one plot (a cell measured on the same toolchain by a later finding replaces it);
    None when no measured cell's data is on disk."""
    timer = sorted((f for f in findings if f.claim_id == "ticker-time-after"), key=lambda f: f.date)
    cells = {(c["go_version"], c["godebug"]): Cell.from_dict(c) for f in timer for c in f.numbers.get("cells", [])}
    on_disk = [c for c in cells.values() if c.status != "measured" or (Path(c.run_dir) / "samples.jsonl").is_file()]
    shown = sorted(on_disk, key=lambda c: (_go_key(c.go_version), c.godebug))
    if not any(c.status == "measured" for c in shown):
        return None
    dates = sorted({f.date for f in timer})
    return matrix_png(shown, img / "matrix-timer-classic.png", get_family("timer").signal,
                      f"timer/classic across Go versions, measured {' to '.join(dict.fromkeys([dates[0], dates[-1]]))} "
                      "by `leaklab claims`")


def _bench_caption(png: Path) -> str:
    try:
        doc = json.loads(png.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return "sync.Map vs map+RWMutex, drawn by `leaklab bench`"
    return f"sync.Map vs map+RWMutex, drawn by `leaklab bench` on {doc['date'][:10]} with {doc['go_version']}"


def _installed_version() -> str:
    try:
        return find_go().version
    except LeakLabError:
        return ""


def write_claims(findings: Sequence[Finding], path: Path | None = None, families: dict | None = None) -> Path:
    """Save the findings as JSON and the table beside it as ``claims.md``; returns the markdown path.

    Findings already saved there for other claims, or for other Go versions of a claim, are kept:
    ``leaklab claims ID --save`` updates one claim's row on the toolchains it measured. The JSON's
    ``findings`` hold each claim's main finding (the installed Go's, else the newest: what the labs
    pages quote, see :func:`load_findings`), ``other_versions`` the other toolchains' findings. ``families`` (``{"results": [...], "checks": [...]}`` of :func:`leaklab.matrix.run_versions`
    and :func:`~leaklab.matrix.version_checks`) replaces the saved family-by-version table; without it
    the saved one is kept.

    The timer matrix picture (``img/matrix-timer-classic.png`` beside it) is redrawn from the runs
    these findings measured; without them the page shows no picture rather than a stale one.
    """
    path = Path(path) if path is not None else claims_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = {(f.claim_id, f.go_version) for f in findings}
    saved = json.loads(path.read_text()) if path.is_file() else {}
    kept = [f for f in load_findings(path, all_versions=True) if (f.claim_id, f.go_version) not in fresh] \
        if path.is_file() else []
    families = families if families is not None else saved.get("families")
    installed = _installed_version()
    findings = _ordered([*kept, *findings], installed)
    main = [group[-1] for group in _by_claim(findings).values()]  # each claim's last finding is its main one
    doc = {"findings": [dataclasses.asdict(f) for f in main],
           "other_versions": [dataclasses.asdict(f) for f in findings if all(f is not m for m in main)],
           **({"families": families} if families else {})}
    path.write_text(_json.dumps(doc, indent=2, default=str))
    versions = sorted({f.go_version for f in findings}
                      | {c["go_version"] for f in findings for c in f.numbers.get("cells", [])}, key=_go_key)
    pictures = ""
    timer = _timer_picture(findings, path.parent / "img")
    if timer is None and not any(k == "ticker-time-after" for k, _ in fresh) \
            and (path.parent / "img/matrix-timer-classic.png").is_file():
        timer = path.parent / "img/matrix-timer-classic.png"  # not measured this time: the saved picture still holds
    if timer:
        pictures += f"\n![The classic timer case across Go versions, measured with this table](img/{timer.name})\n"
    bench = path.parent / "img" / "bench-syncmap.png"
    if bench.is_file():
        pictures += f"\n![{_bench_caption(bench)}](img/{bench.name})\n"
    per_version = versions_markdown(findings)
    md = path.with_suffix(".md")
    md.write_text("# What the article claims, and what the lab measured\n\n"
                  f"Generated by `leaklab claims` on {datetime.date.today().isoformat()} with {', '.join(versions)} "
                  f"({os.cpu_count()} CPUs). Each verdict is derived from the numbers measured: *confirmed* (they "
                  "agree with the claim), *refuted* (they contradict it), *corrected* (the effect is real but the "
                  "article's account of it is wrong or incomplete), *inconclusive* (this run cannot tell). A column "
                  "per Go version holds the verdict measured on that toolchain; *the lab measured* is the run on "
                  f"the lab's own Go{f' ({installed})' if installed else ''}. The numbers come from short runs on a "
                  "shared machine: rerun to see your own (`leaklab claims --go 1.22 1.24 1.26 1.27 --save`).\n\n"
                  + claims_markdown(findings) + pictures
                  + (f"\n## What each Go version measured\n\n{per_version}" if per_version else "")
                  + (_families_section(families, path.parent) if families else ""))
    return md


def _families_section(families: dict, docs: Path) -> str:
    """The families on each Go version (``leaklab matrix all``), their pictures and the toolchains' checks."""
    from .matrix import VersionRun, costs_table, leak_profile_lines, versions_table

    rows = [VersionRun.from_dict({k: v for k, v in r.items() if k != "as_expected"}) for r in families["results"]]
    text = ("\n## The five families on each Go version\n\n"
            f"Measured by `leaklab matrix all` on {families.get('date', '?')[:10]}: each cell is the verdict on the "
            "family's signal and its growth, built with that toolchain and its own release as the go directive. "
            "Where a variant does not build, the cell says why and shows the fix of that era instead.\n\n"
            + versions_table(rows))
    text += "\nWhat one request leaves behind in each leaky program:\n\n" + costs_table(rows)
    if leak_profile_lines(rows):
        text += "\nThe goroutine leak profile (Go 1.26: `GOEXPERIMENT=goroutineleakprofile`; 1.27: by default):\n\n" \
            + leak_profile_lines(rows)
    for fam in dict.fromkeys(r.family for r in rows):
        if (docs / "img" / f"matrix-{fam}.png").is_file():
            text += f"\n![{fam}: leaky and fixed on every Go version measured](img/matrix-{fam}.png)\n"
    checks = families.get("checks") or []
    if checks:
        text += ("\nWhat each toolchain's own checks find (a check the toolchain does not have: -):\n\n"
                 "| check | program | " + " | ".join(dict.fromkeys(c["go_version"] for c in checks)) + " |\n"
                 + "|---|---|" + "---|" * len(dict.fromkeys(c["go_version"] for c in checks)) + "\n")
        gos = list(dict.fromkeys(c["go_version"] for c in checks))
        for check, fam, variant in dict.fromkeys((c["check"], c["family"], c["variant"]) for c in checks):
            on = {c["go_version"]: c for c in checks
                  if (c["check"], c["family"], c["variant"]) == (check, fam, variant)}
            cells = " | ".join((on[g]["found"].replace("|", "\\|") if on[g]["available"] else "-") if g in on else "-"
                               for g in gos)
            text += f"| `{check}` | {fam}/{variant} | {cells} |\n"
    return text


def cmd_claims(args) -> int:
    """``leaklab claims [ID ...]``: check the claims, print the table, save it."""
    findings = run_claims(args.ids, limits=args.limits, out=args.out, versions=args.go)
    if args.json:
        print(_json.dumps({"findings": [dataclasses.asdict(f) for f in findings]}, indent=2, default=str))
    else:
        print(claims_markdown(findings))
    if args.save:
        print(f"table: {write_claims(findings, None if args.save is True else args.save)}", file=sys.stderr)
    return 0 if all(f.as_expected for f in findings) else 1
