"""The article's claims, each measured by a small case, and the table that lists what the lab found.

Every :class:`Claim` names its family, says in the lab's own words what the article asserts, and has a
check that runs real Go code on the installed toolchain (a Go example, a timed run of a case, a
benchmark, or a program run many times) and returns a :class:`Finding`: the numbers measured, the
verdict on the claim (``refuted``, ``confirmed`` or ``corrected``), and whether the measurement came
out as the lab expects. :func:`claims_markdown` renders the findings as the claims table of
docs/claims.md, the labs pages and the overview notebook.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ._exceptions import BadParameter, LeakLabError
from .bench import crossover, run_bench
from .build import build
from .cases import CASES_DIR, get_family
from .lab import measure
from .matrix import run_matrix
from .probe import read_samples
from .run import Limits, execute
from .toolchain import GoToolchain, find_go
from .verdict import judge_samples

__all__ = ["CLAIMS", "CLAIMS_JSON", "Claim", "Finding", "claims_markdown", "load_findings", "run_claims",
           "write_claims"]

#: Where ``leaklab claims`` keeps the findings (the markdown table goes beside it as claims.md).
CLAIMS_JSON = Path(__file__).resolve().parent.parent / "docs" / "claims.json"


class ClaimCheckFailed(LeakLabError):
    """A check could not run (a Go example failed to build, a program crashed...)."""


@dataclasses.dataclass
class Finding:
    """What the lab measured about one claim, on which Go, when."""

    claim_id: str
    family: str
    claim: str
    measured: str
    verdict: str  # "refuted", "confirmed" or "corrected"
    as_expected: bool
    go_version: str
    date: str
    how: str
    numbers: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the article and the check that measures it."""

    id: str
    family: str
    claim: str
    how: str
    check: Callable[["_Context"], tuple[str, str, bool, dict]]  # -> measured, verdict, as_expected, numbers


@dataclasses.dataclass
class _Context:
    go: GoToolchain
    limits: Limits
    out: Path
    versions: Sequence[str]
    cases: Path = CASES_DIR


def _go_example(ctx: _Context, package: str, name: str) -> bool:
    """Run one Go example; True when its output matched its ``// Output:`` comment."""
    proc = subprocess.run([ctx.go.go, "test", "-count=1", "-run", f"^{name}$", "-v", f"./{package}/"],
                          cwd=ctx.cases, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GOTOOLCHAIN": "local"})
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


def _unhashable(ctx: _Context) -> tuple[str, str, bool, dict]:
    panics = _go_example(ctx, "01-syncmap", "Example_unhashableKeyPanics")
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        Path(tmp, "go.mod").write_text("module claim\n\ngo 1.22\n")
        Path(tmp, "main.go").write_text("package main\n\ntype user struct {\n\tid   int\n\ttags []string\n}\n\n"
                                        "func main() {\n\tm := map[user]int{}\n\t_ = m\n}\n")
        proc = subprocess.run([ctx.go.go, "build", "-o", os.devnull, "."], cwd=tmp, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "GOTOOLCHAIN": "local"})
    refused = proc.returncode != 0 and "invalid map key type" in proc.stderr
    measured = (f"sync.Map: {'panics on the first Store (hash of unhashable type)' if panics else 'did NOT panic'}; "
                f"plain map: {'does not compile (invalid map key type)' if refused else 'compiled'}. Nothing grows.")
    return measured, "refuted", panics and refused, {"syncmap_panics": panics, "map_refused": refused}


def _race(ctx: _Context) -> tuple[str, str, bool, dict]:
    leaky, _ = _counters(ctx, "01-syncmap/race/leaky", "race")
    fixed, _ = _counters(ctx, "01-syncmap/race/fixed", "race")
    bad = lambda c: c.get("resurrected", 0) + c.get("lost", 0)  # noqa: E731
    measured = (f"Load-then-Store/Delete: {leaky.get('resurrected', 0):,.0f} sessions came back after logout and "
                f"{leaky.get('lost', 0):,.0f} fresh logins were deleted in {leaky.get('requests', 0):,.0f} rounds; "
                f"CompareAndSwap/CompareAndDelete: {bad(fixed):,.0f} of {fixed.get('requests', 0):,.0f}")
    ok = bad(leaky) > 0 and bad(fixed) == 0 and fixed.get("requests", 0) > 0
    return measured, "corrected", ok, {"leaky": leaky, "fixed": fixed}


def _bench(ctx: _Context) -> tuple[str, str, bool, dict]:
    result = run_bench(keys=(100,), benchtime="20000x", count=1, go=ctx.go, cases_dir=ctx.cases)
    by_impl = result.ns_per_op["100"]
    cross = crossover(by_impl)
    cells = ", ".join(f"{w}%: {by_impl['sync.Map'][w]:.0f} vs {by_impl['RWMutex'][w]:.0f} ns"
                      for w in sorted(by_impl["sync.Map"], key=float))
    where = f"crossover at ~{cross:.0f}% writes" if cross is not None else "no crossover"
    measured = (f"100 keys, sync.Map vs RWMutex per op: {cells} ({where}; a short run, see "
                f"docs/img/bench-syncmap.png for the full one)")
    ok = all(len(v) >= 2 for v in by_impl.values())
    return measured, "corrected", ok, {"ns_per_op": by_impl, "crossover_write_percent": cross}


def _defer_stop(ctx: _Context) -> tuple[str, str, bool, dict]:
    panic = _go_example(ctx, "02-timer", "Example_deferredStopRunsOnPanic")
    goexit = _go_example(ctx, "02-timer", "Example_deferredStopRunsOnGoexit")
    measured = (f"the deferred Stop {'ran' if panic else 'did NOT run'} on a recovered panic and "
                f"{'ran' if goexit else 'did NOT run'} on runtime.Goexit (only os.Exit skips defers)")
    return measured, "refuted", panic and goexit, {"panic": panic, "goexit": goexit}


def _classic_timer(ctx: _Context) -> tuple[str, str, bool, dict]:
    cells = run_matrix("timer", "classic", ctx.versions, limits=ctx.limits, out=ctx.out)
    parts = [f"{c.go_version}{' + GODEBUG=' + c.godebug if c.godebug else ''}: "
             + (f"{c.verdict} ({c.rate_per_s / 2**20:+.1f} MiB/s)" if c.status == "measured" else c.status)
             for c in cells if c.status != "not applicable"]
    return "; ".join(parts), "corrected", all(c.as_expected for c in cells), {
        "cells": [dataclasses.asdict(c) for c in cells]}


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


def _spin(ctx: _Context) -> tuple[str, str, bool, dict]:
    cpu_l, leaky, gor_l = _cpu_run(ctx, "03-goroutine/spin/leaky")
    cpu_f, fixed, gor_f = _cpu_run(ctx, "03-goroutine/spin/fixed")
    secs = ctx.limits.duration_s
    measured = (f"after close: goroutines {gor_l}, {cpu_l / secs:.2f} CPU cores busy, {leaky.get('handled', 0):,.0f} "
                f"tasks handled for {leaky.get('requests', 0):,.0f} sent (zero values); `for range`: goroutines "
                f"{gor_f}, {cpu_f / secs:.2f} cores, {fixed.get('handled', 0):,.0f} handled")
    ok = (gor_l == "flat" and leaky.get("handled", 0) > 100 * leaky.get("requests", 1)
          and fixed.get("handled") == fixed.get("requests") and cpu_l > 5 * cpu_f and cpu_l > 0.3 * secs)
    return measured, "refuted", ok, {"cpu_s": {"leaky": cpu_l, "fixed": cpu_f}, "leaky": leaky, "fixed": fixed,
                                     "goroutines": {"leaky": gor_l, "fixed": gor_f}}


def _onesided(ctx: _Context) -> tuple[str, str, bool, dict]:
    fam = get_family("finalizer")
    counters, result = _counters(ctx, "04-finalizer/onesided", "finalizer", signal=fam.signal)
    measured = (f"heap {result.verdict} at {result.rate_per_s / 2**20:+.1f} MiB/s; {counters.get('released', 0):,.0f} "
                f"of {counters.get('requests', 0):,.0f} finalizers ran")
    ok = result.verdict == fam.expect["onesided"].verdict and counters.get("released", 1) == 0
    return measured, "refuted", ok, {"rate_per_s": result.rate_per_s, **counters}


def _atexit(ctx: _Context, runs: int = 20) -> tuple[str, str, bool, dict]:
    with tempfile.TemporaryDirectory(prefix="leaklab-claim-") as tmp:
        binary = build(ctx.cases / "04-finalizer/atexit", Path(tmp) / "binary", ctx.go)
        procs = [subprocess.run([str(binary)], capture_output=True, text=True, timeout=60) for _ in range(runs)]
    crashes = sum(p.returncode != 0 for p in procs)
    ran = [p.stdout.count("finalizer ran") for p in procs]
    after = sum(p.stdout.split("main returns", 1)[-1].count("finalizer ran") for p in procs if "main returns" in p.stdout)
    measured = (f"{runs} runs of 100,000 queued finalizers: {crashes} crashes; {min(ran):,}-{max(ran):,} ran before "
                f"main returned, {after} after its last line; the rest never ran")
    ok = crashes == 0 and min(ran) < 100_000
    return measured, "refuted", ok, {"runs": runs, "crashes": crashes, "ran": ran, "after_last_line": after}


def _keepalive(ctx: _Context) -> tuple[str, str, bool, dict]:
    leaky, _ = _counters(ctx, "05-cgo/keepalive/leaky", "keepalive")
    fixed, _ = _counters(ctx, "05-cgo/keepalive/fixed", "keepalive")
    measured = (f"without runtime.KeepAlive {leaky.get('wrong', 0):,.0f} of {leaky.get('requests', 0):,.0f} C reads "
                f"returned wrong data, no crash; with it {fixed.get('wrong', 0):,.0f} of {fixed.get('requests', 0):,.0f}")
    ok = leaky.get("wrong", 0) > 0 and fixed.get("wrong", 1) == 0 and fixed.get("requests", 0) > 0
    return measured, "corrected", ok, {"leaky": leaky, "fixed": fixed}


#: The claims, in family order. Wording is the lab's own summary of what the article asserts.
CLAIMS = [
    Claim("unhashable-key", "syncmap", "A struct key holding a slice (not comparable) makes the map keep growing.",
          "go-cases/01-syncmap/example_test.go; a plain map with that key built by the Go compiler", _unhashable),
    Claim("check-then-act", "syncmap", "Without a conditional replace/delete, stale sync.Map entries pile up; "
          "sync.Map lacks the operation to do it safely.", "go-cases/01-syncmap/race/{leaky,fixed} (expvar counters)",
          _race),
    Claim("syncmap-vs-rwmutex", "syncmap", "sync.Map wins when over 95% of operations are reads; map+RWMutex wins "
          "above about 20% writes.", "go-cases/bench/syncmap_test.go (`leaklab bench` for the full grid)", _bench),
    Claim("defer-stop-panic", "timer", "A panic can skip `defer t.Stop()`, leaving the timer running.",
          "go-cases/02-timer/example_test.go", _defer_stop),
    Claim("ticker-time-after", "timer", "A Ticker never stopped, or time.After in a loop, leaks its timer.",
          "go-cases/02-timer/classic (`leaklab matrix timer`)", _classic_timer),
    Claim("closed-channel-worker", "goroutine", "A worker doing `task := <-taskCh` after the channel is closed "
          "waits forever: a goroutine leak.", "go-cases/03-goroutine/spin/{leaky,fixed} (CPU from getrusage)", _spin),
    Claim("finalizer-one-side", "finalizer", "Putting the finalizer on only one object of a cycle lets the "
          "cycle be collected.", "go-cases/04-finalizer/onesided (`leaklab run finalizer --variant onesided`)",
          _onesided),
    Claim("finalizer-at-exit", "finalizer", "Finalizers run when the program exits, so one that frees C memory "
          "crashes after exit.", "go-cases/04-finalizer/atexit, run 20 times", _atexit),
    Claim("cgo-keepalive", "cgo", "The cgo danger is pointers escaping; a finalizer freeing C memory is a safe "
          "way to manage it.", "go-cases/05-cgo/keepalive/{leaky,fixed} (expvar counters)", _keepalive),
]


def run_claims(ids: Sequence[str] = (), *, limits: Limits = Limits(duration_s=4, warmup_s=1),
               out: Path = Path("runs"), versions: Sequence[str] | None = None,
               go: GoToolchain | None = None) -> list[Finding]:
    """Check the claims named in ``ids`` (all by default) on the installed Go.

    ``versions`` are the Go releases of the timer matrix (default: 1.22 and the installed one; 1.22
    is fetched once and cached).
    """
    known = {c.id: c for c in CLAIMS}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadParameter(f"no claim called {', '.join(unknown)}; the claims are: {', '.join(known)}")
    go = go or find_go()
    local = "%d.%d" % go.version_tuple
    ctx = _Context(go=go, limits=limits, out=Path(out), versions=list(versions or ["1.22", local]))
    findings = []
    for claim in [known[i] for i in ids] if ids else CLAIMS:
        measured, verdict, ok, numbers = claim.check(ctx)
        findings.append(Finding(claim_id=claim.id, family=claim.family, claim=claim.claim, measured=measured,
                                verdict=verdict, as_expected=ok, go_version=go.version, how=claim.how,
                                date=datetime.date.today().isoformat(), numbers=numbers))
    return findings


def claims_markdown(findings: Sequence[Finding], family: str | None = None) -> str:
    """The claims table (one family's rows when ``family`` is given) as GitHub markdown."""
    rows = [f for f in findings if family in (None, f.family)]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| family | the article claims | the lab measured | verdict | Go, date | how |",
             "|---|---|---|---|---|---|"]
    for f in rows:
        mark = f.verdict if f.as_expected else f"{f.verdict} (NOT as the lab expects: check)"
        lines.append(f"| {f.family} | {esc(f.claim)} | {esc(f.measured)} | {mark} | {f.go_version}, {f.date} | "
                     f"{esc(f.how)} |")
    return "\n".join(lines) + "\n"


def load_findings(path: Path = CLAIMS_JSON) -> list[Finding]:
    """The findings a ``leaklab claims`` run saved."""
    if not Path(path).is_file():
        raise ClaimCheckFailed(f"no findings at {path}: run `leaklab claims` first")
    return [Finding(**f) for f in json.loads(Path(path).read_text())["findings"]]


def write_claims(findings: Sequence[Finding], path: Path = CLAIMS_JSON) -> Path:
    """Save the findings as JSON and the table beside it as ``claims.md``; returns the markdown path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"findings": [dataclasses.asdict(f) for f in findings]}, indent=2, default=str))
    versions = sorted({f.go_version for f in findings})
    md = path.with_suffix(".md")
    md.write_text("# What the article claims, and what the lab measured\n\n"
                  f"Generated by `leaklab claims` on {datetime.date.today().isoformat()} with {', '.join(versions)} "
                  f"({os.cpu_count()} CPUs). Verdicts: *refuted* (the measurement contradicts the claim), "
                  "*confirmed*, *corrected* (the effect is real but the article's account of it is wrong or "
                  "incomplete). The numbers come from short runs on a shared machine: rerun to see your own.\n\n"
                  + claims_markdown(findings)
                  + "\n![The classic timer case across Go versions](img/matrix-timer-classic.png)\n\n"
                  "![sync.Map vs map+RWMutex](img/bench-syncmap.png)\n")
    return md


def cmd_claims(args) -> int:
    """``leaklab claims [ID ...]``: check the claims, print the table, save it."""
    limits = Limits(duration_s=args.duration, interval_s=args.interval, warmup_s=args.warmup,
                    mem_cap_bytes=args.mem_cap * 2**20)
    findings = run_claims(args.ids, limits=limits, out=args.out, versions=args.go)
    if args.json:
        print(json.dumps({"findings": [dataclasses.asdict(f) for f in findings]}, indent=2, default=str))
    else:
        print(claims_markdown(findings))
    if args.save:
        print(f"table: {write_claims(findings, args.save)}", file=sys.stderr)
    return 0 if all(f.as_expected for f in findings) else 1
