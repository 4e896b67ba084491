"""How each of the article's claims is measured (real Go runs) and judged (pure, no Go).

For every claim of :data:`leaklab.claim_runs.CLAIMS` a ``run_*`` function runs Go code on the toolchain of its
:class:`Context` (a Go example, a timed run of a case, a benchmark, or a program run many times) and returns
the numbers it measured; a ``judge_*`` function reads those numbers against what the article says and returns
the verdict with a sentence for the table; ``*_expected`` (or :func:`always`) is the verdict the lab expects.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .bench import crossover, run_bench
from .build import build
from .cases import cases_dir, get_family
from .errors import ClaimCheckFailed
from .godebug import Cell, run_matrix
from .lab import Result, measure
from .probe import SIGNALS, read_samples
from .run import Limits, execute
from .runfolder import RunFolder
from .toolchain import GoToolchain, parse_version
from .verdict import judge_samples

__all__ = ["Context", "always", "benchmark_expected", "judge_atexit", "judge_benchmark", "judge_defer_stop",
           "judge_keepalive", "judge_onesided", "judge_race", "judge_spin", "judge_timer", "judge_unhashable",
           "run_atexit", "run_benchmark", "run_classic_timer", "run_defer_stop", "run_keepalive", "run_onesided",
           "run_race", "run_spin", "run_unhashable", "timer_expected"]

_HEAP = SIGNALS["heap_bytes"]


@dataclasses.dataclass
class Context:
    """What every check is given: the toolchain, the run limits, where runs go, the releases, go-cases."""

    go: GoToolchain
    limits: Limits
    out: Path
    versions: Sequence[str]
    cases: Path = dataclasses.field(default_factory=cases_dir)


def always(verdict: str) -> Callable[[dict], str]:
    return lambda numbers: verdict


def _go_example(ctx: Context, package: str, name: str) -> bool:
    """Run one Go example; True when its output matched its ``// Output:`` comment."""
    proc = ctx.go.run("test", "-count=1", "-run", f"^{name}$", "-v", f"./{package}/", cwd=ctx.cases, timeout=300)
    if f"--- PASS: {name}" in proc.stdout:
        return True
    if f"--- FAIL: {name}" in proc.stdout:
        return False
    raise ClaimCheckFailed(f"the example {name} in go-cases/{package} did not run:\n{proc.stdout}{proc.stderr}")


def _counters(ctx: Context, package: str, name: str, **kwargs) -> tuple[dict[str, float], Result]:
    """Run a case for the context's duration; its last expvar counters and its result."""
    result = measure(ctx.cases / package, f"claims-{name}", package.rsplit("/", 1)[-1], limits=ctx.limits,
                     out=ctx.out, go=ctx.go, work="requests", **kwargs)
    samples = read_samples(RunFolder(result.run_dir).samples)
    return {k.removeprefix("expvar."): float(v[-1]) for k, v in samples.columns.items()
            if k.startswith("expvar.")}, result


# --- syncmap -------------------------------------------------------------------------------------------

def run_unhashable(ctx: Context) -> dict:
    panics = _go_example(ctx, "01-syncmap", "Example_unhashableKeyPanics")
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        Path(tmp, "go.mod").write_text("module claim\n\ngo 1.22\n")
        Path(tmp, "main.go").write_text("package main\n\ntype user struct {\n\tid   int\n\ttags []string\n}\n\n"
                                        "func main() {\n\tm := map[user]int{}\n\t_ = m\n}\n")
        proc = ctx.go.run("build", "-o", os.devnull, ".", cwd=Path(tmp), timeout=300)
    refused = proc.returncode != 0 and "invalid map key type" in proc.stderr
    return {"syncmap_panics": panics, "map_refused": refused}


def judge_unhashable(n: dict) -> tuple[str, str]:
    panics, refused = n["syncmap_panics"], n["map_refused"]
    measured = (f"sync.Map: {'panics on the first Store (hash of unhashable type)' if panics else 'did NOT panic'}; "
                f"plain map: {'does not compile (invalid map key type)' if refused else 'compiled'}")
    if panics and refused:
        return "refuted", measured + ". Nothing can grow."
    return "inconclusive", measured + ": such keys were accepted, this check cannot tell whether the map grows."


def run_race(ctx: Context) -> dict:
    leaky, _ = _counters(ctx, "01-syncmap/claims/check-then-act/leaky", "race")
    fixed, _ = _counters(ctx, "01-syncmap/claims/check-then-act/fixed", "race")
    return {"leaky": leaky, "fixed": fixed}


def judge_race(n: dict) -> tuple[str, str]:
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


def run_benchmark(ctx: Context, attempts: int = 3) -> dict:
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


def judge_benchmark(n: dict) -> tuple[str, str]:
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


def benchmark_expected(n: dict) -> str:
    """Confirmed, when the benchmark had the machine's cores; a busy machine cannot tell. Before Go 1.24's
    sync.Map (a hash trie) the old one loses to map+RWMutex from about 1% writes (measured twice on Go 1.22.10:
    0%: 36 vs 68 and 34 vs 86 ns, 1%: 35 vs 27 and 36 vs 35 ns): only the write-heavy half holds."""
    if _bench_cores(n) is not None:
        return "inconclusive"
    return "corrected" if parse_version(n.get("go_version") or "go1.24") < (1, 24) else "confirmed"


# --- timer ---------------------------------------------------------------------------------------------

def run_defer_stop(ctx: Context) -> dict:
    return {"panic": _go_example(ctx, "02-timer", "Example_deferredStopRunsOnPanic"),
            "goexit": _go_example(ctx, "02-timer", "Example_deferredStopRunsOnGoexit")}


def judge_defer_stop(n: dict) -> tuple[str, str]:
    measured = (f"the deferred Stop {'ran' if n['panic'] else 'did NOT run'} on a recovered panic and "
                f"{'ran' if n['goexit'] else 'did NOT run'} on runtime.Goexit (only os.Exit skips defers)")
    return ("refuted" if n["panic"] else "confirmed"), measured


def run_classic_timer(ctx: Context) -> dict:
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


def judge_timer(n: dict) -> tuple[str, str]:
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


def timer_expected(n: dict) -> str:
    """The verdict :func:`judge_timer` gives when every cell shows what expect.toml says it should."""
    def as_expected(c: dict) -> dict:
        measured = c["expected"] in ("leak", "flat")
        return {**c, "verdict": c["expected"], "status": "measured" if measured else c["expected"]}
    return judge_timer({"cells": [as_expected(c) for c in n["cells"]]})[0]


# --- goroutine -----------------------------------------------------------------------------------------

#: How long a CPU-measured case runs after its warm-up, at most: a worker spinning on a closed channel keeps
#: a core busy from the first second, and its goroutines are judged on a fixed window (no early stop).
CPU_RUN_S = 3.0


def _cpu_run(ctx: Context, package: str) -> tuple[float, float, dict, str]:
    """Build and run a case: the CPU seconds it used after the warm-up (the probe's ``cpu_s``, the process's
    own user and system time), over how many seconds, its last counters and its goroutine verdict."""
    limits = dataclasses.replace(ctx.limits, duration_s=min(ctx.limits.duration_s, ctx.limits.warmup_s + CPU_RUN_S))
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        folder = RunFolder(tmp)
        binary = build(ctx.cases / package, folder.binary, ctx.go)
        execute(binary, folder.path, limits)
        samples = read_samples(folder.samples)
    after = samples.t >= ctx.limits.warmup_s
    t, cpu = samples.t[after], samples["cpu_s"][after]
    counters = {k.removeprefix("expvar."): float(v[-1]) for k, v in samples.columns.items() if k.startswith("expvar.")}
    verdict = judge_samples(samples, ctx.limits.warmup_s, ["goroutines"])["goroutines"].verdict
    return float(cpu[-1] - cpu[0]), float(t[-1] - t[0]), counters, verdict


def run_spin(ctx: Context) -> dict:
    cpu_l, secs_l, leaky, gor_l = _cpu_run(ctx, "03-goroutine/claims/closed-channel-worker/leaky")
    cpu_f, secs_f, fixed, gor_f = _cpu_run(ctx, "03-goroutine/claims/closed-channel-worker/fixed")
    return {"seconds": {"leaky": secs_l, "fixed": secs_f}, "cpu_s": {"leaky": cpu_l, "fixed": cpu_f},
            "leaky": leaky, "fixed": fixed, "goroutines": {"leaky": gor_l, "fixed": gor_f}}


def judge_spin(n: dict) -> tuple[str, str]:
    leaky, fixed, cpu, secs = n["leaky"], n["fixed"], n["cpu_s"], n["seconds"]
    if not isinstance(secs, dict):  # recorded before each variant had its own window (docs/claims.json)
        secs = {"leaky": secs, "fixed": secs}
    measured = (f"after close: goroutines {n['goroutines']['leaky']}, {cpu['leaky'] / secs['leaky']:.2f} CPU cores "
                f"busy, {leaky.get('handled', 0):,.0f} tasks handled for {leaky.get('requests', 0):,.0f} sent; "
                f"`for range`: goroutines {n['goroutines']['fixed']}, {cpu['fixed'] / secs['fixed']:.2f} cores, "
                f"{fixed.get('handled', 0):,.0f} handled")
    if not fixed.get("requests") or fixed.get("handled") != fixed.get("requests"):
        return "inconclusive", measured + " (the `for range` control did not handle exactly what was sent)"
    if leaky.get("handled", 0) > leaky.get("requests", 0):
        return "refuted", measured + ": the receive on a closed channel returns zero values at once, a busy spin"
    return "confirmed", measured + ": the workers stayed blocked"


# --- finalizer -----------------------------------------------------------------------------------------

def run_onesided(ctx: Context) -> dict:
    counters, result = _counters(ctx, "04-finalizer/claims/finalizer-one-side/leaky", "finalizer",
                                 signal=get_family("finalizer").signal)
    return {"heap_verdict": result.verdict, "rate_per_s": result.rate_per_s, **counters}


def judge_onesided(n: dict) -> tuple[str, str]:
    released = n.get("released", 0)
    measured = (f"heap {n['heap_verdict']} at {_HEAP.rate(n['rate_per_s'], 1)}; {released:,.0f} of "
                f"{n.get('requests', 0):,.0f} finalizers ran")
    if n["heap_verdict"] == "leak" and released == 0:
        return "refuted", measured + ": the cycle is never collected"
    if n["heap_verdict"] == "flat" and released > 0:
        return "confirmed", measured
    return "inconclusive", measured


def run_atexit(ctx: Context, runs: int = 10) -> dict:
    limits = dataclasses.replace(ctx.limits, grace_s=min(ctx.limits.grace_s, 60))
    outputs, crashes = [], 0
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        binary = build(ctx.cases / "04-finalizer/claims/finalizer-at-exit/leaky", RunFolder(tmp).binary, ctx.go)
        for i in range(runs):
            run_dir = Path(tmp) / f"run-{i}"
            run_dir.mkdir()
            outcome = execute(binary, run_dir, limits)
            if outcome.timed_out or outcome.capped:
                raise ClaimCheckFailed("go-cases/04-finalizer/claims/finalizer-at-exit/leaky should end on its own in "
                                       "well under a second; "
                                       f"run {i + 1} was stopped after {outcome.wall_s:.1f} s "
                                       f"(peak RSS {outcome.peak_rss_bytes / 2**20:.0f} MiB)")
            crashes += outcome.returncode != 0
            outputs.append(RunFolder(run_dir).stdout.read_text(errors="replace"))
    ran = [out.count("finalizer ran") for out in outputs]
    after = sum(out.split("main returns", 1)[-1].count("finalizer ran") for out in outputs if "main returns" in out)
    return {"runs": runs, "queued": 100_000, "crashes": crashes, "ran": ran, "after_last_line": after}


def judge_atexit(n: dict) -> tuple[str, str]:
    ran, queued = n["ran"], n.get("queued", 100_000)
    measured = (f"{n['runs']} runs of {queued:,} queued finalizers: {n['crashes']} crashes; {min(ran):,}-{max(ran):,} "
                f"ran before the process ended ({n['after_last_line']} of them after main printed its last line)")
    if n["crashes"] > 0:
        return "inconclusive", measured + ": the program crashed, though it frees no C memory"
    if min(ran) >= queued:
        return "inconclusive", measured + ": every finalizer ran before the exit, none was left to test the claim"
    return "refuted", measured + "; the rest never ran: exiting does not run the queued finalizers"


# --- cgo -----------------------------------------------------------------------------------------------

def run_keepalive(ctx: Context) -> dict:
    leaky, _ = _counters(ctx, "05-cgo/claims/cgo-keepalive/leaky", "keepalive")
    fixed, _ = _counters(ctx, "05-cgo/claims/cgo-keepalive/fixed", "keepalive")
    return {"leaky": leaky, "fixed": fixed}


def judge_keepalive(n: dict) -> tuple[str, str]:
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
