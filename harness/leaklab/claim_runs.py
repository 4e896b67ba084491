"""The article's claims and their measurement: :data:`CLAIMS`, :func:`run_claims` and the :class:`Finding` each gives.

Every :class:`Claim` names its family, says in the lab's own words what the article asserts, and has
two parts (see :mod:`leaklab.claim_checks`): ``run`` runs real Go code and returns the numbers it measured;
``judge`` (pure, no Go) reads those numbers against what the article says and returns the verdict with a
sentence for the table: ``confirmed`` (the measurement agrees with the claim), ``refuted`` (it contradicts
it), ``corrected`` (the effect is real but the article's account of it is wrong or incomplete) or
``inconclusive`` (this measurement cannot tell). ``expected`` is the verdict the lab expects on this
toolchain; a :class:`Finding` that differs is flagged in the table (:mod:`leaklab.claims`).

Each claim is measured on each Go release asked for (``run_claims(versions=...)``; default the
installed Go): one finding per claim and toolchain. A toolchain older than go-cases' own go directive
(``go 1.24``) measures a copy of go-cases whose go.mod names that toolchain's release, so the cases
build as that Go would have built them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .cases import cases_dir
from .claim_checks import (
    Context,
    always,
    benchmark_expected,
    judge_atexit,
    judge_benchmark,
    judge_defer_stop,
    judge_keepalive,
    judge_onesided,
    judge_race,
    judge_spin,
    judge_timer,
    judge_unhashable,
    run_atexit,
    run_benchmark,
    run_classic_timer,
    run_defer_stop,
    run_keepalive,
    run_onesided,
    run_race,
    run_spin,
    run_unhashable,
    timer_expected,
)
from .errors import BadParameter
from .lab import DEFAULT_OUT
from .run import Limits
from .toolchain import GoToolchain, fetch_go, find_go

__all__ = ["CLAIMS", "VERDICTS", "Claim", "Finding", "evaluate", "go_key", "ordered", "run_claims"]

#: What a verdict on a claim can be.
VERDICTS = ("confirmed", "refuted", "corrected", "inconclusive")


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
    run: Callable[["Context"], dict]  # runs Go; returns the numbers measured
    judge: Callable[[dict], tuple[str, str]]  # numbers -> (verdict, what was measured, in a sentence)
    expected: Callable[[dict], str]  # numbers -> the verdict the lab expects (on this toolchain)


#: The claims, in family order. Wording is the lab's own summary of what the article asserts.
CLAIMS = [
    Claim("unhashable-key", "syncmap", "A struct key holding a slice (not comparable) makes the map keep growing.",
          "go-cases/01-syncmap/example_test.go; a plain map with that key built by the Go compiler",
          run_unhashable, judge_unhashable, always("refuted")),
    Claim("check-then-act", "syncmap", "Without a conditional replace/delete, stale sync.Map entries pile up; "
          "sync.Map lacks the operation to do it safely.",
          "go-cases/01-syncmap/claims/check-then-act/{leaky,fixed} (expvar counters)", run_race,
          judge_race, always("corrected")),
    Claim("syncmap-vs-rwmutex", "syncmap", "sync.Map wins when over 95% of operations are reads; map+RWMutex wins "
          "above about 20% writes.", "go-cases/bench/syncmap_test.go (`leaklab bench` for the full grid)",
          run_benchmark, judge_benchmark, benchmark_expected),
    Claim("defer-stop-panic", "timer", "A panic can skip `defer t.Stop()`, leaving the timer running.",
          "go-cases/02-timer/example_test.go", run_defer_stop, judge_defer_stop, always("refuted")),
    Claim("ticker-time-after", "timer", "A Ticker never stopped, or time.After in a loop, leaks its timer.",
          "go-cases/02-timer/claims/ticker-time-after/leaky (`leaklab matrix timer`)", run_classic_timer, judge_timer,
          timer_expected),
    Claim("closed-channel-worker", "goroutine", "A worker doing `task := <-taskCh` after the channel is closed "
          "waits forever: a goroutine leak.",
          "go-cases/03-goroutine/claims/closed-channel-worker/{leaky,fixed} (CPU from getrusage)", run_spin,
          judge_spin, always("refuted")),
    Claim("finalizer-one-side", "finalizer", "Putting the finalizer on only one object of a cycle lets the "
          "cycle be collected.",
          "go-cases/04-finalizer/claims/finalizer-one-side/leaky (`leaklab run finalizer --variant onesided`)",
          run_onesided, judge_onesided, always("refuted")),
    Claim("finalizer-at-exit", "finalizer", "Finalizers run when the program exits, so one that frees C memory "
          "crashes after exit.", "go-cases/04-finalizer/claims/finalizer-at-exit/leaky, run 10 times", run_atexit,
          judge_atexit, always("refuted")),
    Claim("cgo-keepalive", "cgo", "The cgo danger is pointers escaping; a finalizer freeing C memory is a safe "
          "way to manage it.", "go-cases/05-cgo/claims/cgo-keepalive/{leaky,fixed} (expvar counters)", run_keepalive,
          judge_keepalive, always("corrected")),
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
            ctx = Context(go=tool, limits=limits, out=Path(out) / f"claims-{tool.version}", versions=[release],
                           cases=cases)
            findings += [evaluate(claim, claim.run(ctx), tool.version) for claim in chosen]
    return ordered(findings, local.version)


def ordered(findings: Sequence[Finding], installed: str, main: Sequence[Finding] = ()) -> list[Finding]:
    """In claim order; a claim's findings in Go version order, its main one last: one of ``main``, else the
    installed Go's, else the newest."""
    order = {c.id: i for i, c in enumerate(CLAIMS)}
    mains = {(f.claim_id, f.go_version) for f in main}
    return sorted(findings, key=lambda f: (order.get(f.claim_id, len(order)),
                                           (f.claim_id, f.go_version) in mains or f.go_version == installed,
                                           go_key(f.go_version)))


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


def go_key(version: str) -> tuple[int, ...]:
    """``"go1.22.10"`` -> ``(1, 22, 10)``: Go versions in release order."""
    return tuple(int(x) for x in re.findall(r"\d+", version)) or (0,)
