"""Check a learner's fix of an exercise: is the leak gone, and does the program still do its work?

``labs/exercises/<family>/main.go`` is the family's leaky program with the place of the fix marked
``// TODO(you)``. :func:`check` builds the learner's version, runs it like any lab program and
answers with a :class:`CheckReport`. It passes only when

* the family's signal is ``flat`` (``inconclusive`` does not pass), and no other signal a program can
  leak through (Go heap, goroutines, memory outside Go) grows either, and
* the program still completes its work: the counter it publishes with expvar (``requests``) grows
  at least :data:`WORK_FRACTION` of the rate in ``expect.toml``. A "fix" that returns early, sleeps or
  serves fewer requests flattens the curve too, and is rejected here; and
* each request still leaves the trace of its work that :data:`WORK_EVIDENCE` names (bytes allocated on
  the Go heap, or calls into C, per request counted). A "fix" that keeps adding 1 to ``requests`` but
  skips the work allocates nothing, and is rejected too. A cheat that does the work and throws the
  result away (stores every answer under the same key, say) still passes: the checker measures, it does
  not read the code.

A machine slower or busier than the one ``expect.toml`` was measured on could miss that rate with a
good fix, so a program below it is compared with the family's leaky program measured right then,
with the same limits, on the same machine: the fix passes if it keeps :data:`WORK_FRACTION` of that.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np

from ._exceptions import BadParameter, ProgramFailed
from .paths import content
from .cases import Family, get_family
from .lab import PROGRAM_SIGNALS, Result, measure
from .plot import plot_family, save_png
from .probe import SIGNALS, read_samples
from .run import Limits
from .toolchain import GoToolchain

__all__ = ["WORK_EVIDENCE", "WORK_FRACTION", "CheckReport", "WorkEvidence", "check", "cmd_check",
           "copy_starter", "format_report", "reference_work_rate", "save_curve", "starter", "work_evidence"]

#: The starters, one folder per family.

#: A fix must keep at least this share of the expected work rate (cheats in the tests do 0-50 %).
WORK_FRACTION = 0.7



@dataclasses.dataclass(frozen=True)
class WorkEvidence:
    """What one request of a family's program must add to a probe column, whatever the fix."""

    column: str  # a column of samples.jsonl (see probe.go)
    per_request: float  # the least a request must add: half of what the leaky program's request does
    unit: str
    work: str  # what a request does, in the learner's words


#: The trace each family's work leaves. The numbers are half of one request's own work, so a fix that
#: allocates a little less (or the probe's rounding) still passes; counting requests alone gives ~0.
WORK_EVIDENCE = {
    "syncmap": WorkEvidence("alloc_bytes", 512, "bytes allocated", "renders a 1 KiB answer"),
    "timer": WorkEvidence("alloc_bytes", 8 << 10, "bytes allocated", "fills a 16 KiB buffer"),
    "goroutine": WorkEvidence("alloc_bytes", 512, "bytes allocated", "has a worker build a 1 KiB result"),
    "finalizer": WorkEvidence("alloc_bytes", 8 << 10, "bytes allocated", "builds two nodes with 8 KiB buffers"),
    "cgo": WorkEvidence("cgo_calls", 1, "calls into C", "builds a message in C memory (C.malloc, C.memset)"),
}

_references: dict[tuple, float] = {}


@dataclasses.dataclass
class CheckReport:
    """The checker's answer for one program."""

    family: str
    path: str
    passed: bool
    status: str  # fixed | leaking | too-little-work | no-counter | inconclusive | crashed
    headline: str
    details: list[str]
    hint: str = ""
    signal: str = ""
    rate_per_s: float = math.nan
    work_rate_per_s: float | None = None
    expected_work_rate: float = 0.0
    reference_work_rate: float | None = None
    go_version: str = ""
    run_dir: str = ""
    curve: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def _repr_html_(self) -> str:
        import base64
        import html
        text = f"<pre>{html.escape(format_report(self))}</pre>"
        if self.curve and Path(self.curve).is_file():
            data = base64.b64encode(Path(self.curve).read_bytes()).decode()
            text += f'<img src="data:image/png;base64,{data}" alt="curves of the checked run" style="max-width:100%">'
        return text


def starter(family: str) -> Path:
    """The folder of the family's exercise starter."""
    return content("labs", "exercises", get_family(family).name)


def copy_starter(family: str, workdir: Path | str) -> Path:
    """Copy the family's starter to ``workdir/<family>/main.go`` (never over an existing file); return the folder."""
    folder = Path(workdir) / get_family(family).name
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "main.go").exists():
        shutil.copyfile(starter(family) / "main.go", folder / "main.go")
    return folder


def _hints(family: str) -> dict[str, str]:
    path = content("labs", "exercises", "hints.toml")
    return tomllib.loads(path.read_text()).get(family, {}) if path.is_file() else {}


def _fmt_rate(signal: str, rate: float) -> str:
    return SIGNALS[signal].rate(rate)


def work_evidence(result: Result, family: str, warmup_s: float) -> float | None:
    """What one request added to the family's :data:`WORK_EVIDENCE` column after the warm-up.

    ``None`` when it cannot be told: no such rule, the column missing (an older probe or Go), or no
    request counted.
    """
    rule = WORK_EVIDENCE.get(family)
    path = Path(result.run_dir) / "samples.jsonl"
    if rule is None or not path.is_file():
        return None
    samples = read_samples(path)
    work = samples.columns.get(f"expvar.{get_family(family).work}")
    trace = samples.columns.get(rule.column)
    if work is None or trace is None or len(samples) < 2:
        return None
    steady = (samples.t >= warmup_s) & ~np.isnan(work) & ~np.isnan(trace)
    if steady.sum() < 2:
        return None
    served = work[steady][-1] - work[steady][0]
    return (trace[steady][-1] - trace[steady][0]) / served if served > 0 else None


def save_curve(result: Result, path: Path, title: str) -> Path:
    """Save the run's curves (the lab's family figure: verdict signal, heap vs RSS, goroutines)."""
    return save_png(plot_family([result], title=title), path)


def reference_work_rate(fam: Family, limits: Limits, out: Path, go: GoToolchain | None = None) -> float:
    """The work rate of the family's leaky program measured now (cached per family and limits)."""
    key = (fam.name, limits)
    if key not in _references:
        ref = measure(fam.package("leaky"), fam.name, "reference", limits=limits, out=out, signal=fam.signal,
                      go=go, work=fam.work)
        _references[key] = ref.work_rate_per_s or 0.0
    return _references[key]


def _leaking(result: Result) -> list[str]:
    names = [result.signal] + [n for n in PROGRAM_SIGNALS if n != result.signal]
    return [n for n in names if result.signals.get(n, {}).get("verdict") == "leak"
            or (n == result.signal and result.verdict == "leak")]


def _judge(fam: Family, result: Result, limits: Limits, out: Path, go: GoToolchain | None,
           reference: float | None) -> tuple[str, str, list[str], float | None]:
    """(status, headline, details, reference rate) for a run that completed."""
    leaking = _leaking(result)
    if leaking:
        lines = [f"{SIGNALS[n].label} {_fmt_rate(n, result.signals[n]['rate_per_s'])}" for n in leaking]
        return "leaking", f"still leaking: {lines[0]}", lines[1:] + [result.reason], reference
    if result.verdict != "flat":
        return ("inconclusive", f"cannot tell yet: {result.reason}",
                [f"run longer, e.g. `leaklab check {fam.name} --duration {2 * limits.duration_s:g}`"], reference)
    work = result.work_rate_per_s
    if work is None:
        return ("no-counter", f"the program no longer publishes its `{fam.work}` counter",
                [f"keep `var {fam.work} = expvar.NewInt(\"{fam.work}\")` and add 1 per request served: "
                 "the checker needs it to see that the program still does its work"], reference)
    expected = WORK_FRACTION * fam.work_rate
    if work < expected:
        reference = reference if reference is not None else reference_work_rate(fam, limits, out, go)
    enough = work >= expected or (reference is not None and work >= WORK_FRACTION * reference)
    served = f"{work:,.0f} {fam.work}/s served (expected about {fam.work_rate:,.0f}/s"
    served += f"; the leaky program ran at {reference:,.0f}/s just now)" if reference is not None else ")"
    if not enough:
        return ("too-little-work", f"the curve is flat, but the program does too little work: {served}",
                [f"a fix must keep serving at least {WORK_FRACTION:.0%} of the requests: returning early, "
                 "sleeping or skipping requests hides the leak without fixing it"], reference)
    rule = WORK_EVIDENCE.get(fam.name)
    per_request = work_evidence(result, fam.name, limits.warmup_s)
    if rule is not None and per_request is not None and per_request < rule.per_request:
        return ("too-little-work", f"the curve is flat and `{fam.work}` grows, but the requests skip their work: "
                f"{per_request:,.0f} {rule.unit} per request, where each request {rule.work} "
                f"(at least {rule.per_request:,.0f})",
                ["counting a request is not serving it: keep the work each request does and remove only "
                 "what keeps its memory (or goroutine) alive",
                 "if you did keep the work: the compiler keeps a buffer on the stack when nothing outlives the "
                 "request with it, so the heap no longer sees it (`go build -gcflags=-m` shows this); a change "
                 "that stops handing the data to what lives on (a timer's closure, a cache) only shrinks what "
                 "leaks, the fix this exercise wants removes the leak itself"], reference)
    sig = SIGNALS[result.signal]
    return ("fixed", f"fixed: {sig.label} is flat ({_fmt_rate(result.signal, result.rate_per_s)}), {served}",
            [result.reason], reference)


def check(family: str, path: Path | None = None, *, limits: Limits = Limits(), out: Path = Path("runs"),
          go: GoToolchain | None = None, variant: str = "check", reference: float | None = None,
          progress=None) -> CheckReport:
    """Build and run the learner's program for ``family`` (default: its starter) and judge the fix.

    ``reference`` is a work rate of the leaky program already measured with the same limits; when it
    is ``None`` and one is needed, it is measured. Raises :class:`BuildFailed` when the program does not
    compile; a program that crashes or stops is reported as not fixed.
    """
    fam = get_family(family)
    out = Path(out)
    path = Path(path) if path is not None else content("labs", "exercises", fam.name)
    if not path.is_dir():
        raise BadParameter(f"--path must be the folder of your main.go; {path} is not a folder "
                           f"(the starter is {content('labs', 'exercises', fam.name)})")
    hints = _hints(fam.name)
    base = dict(family=fam.name, path=str(path), expected_work_rate=fam.work_rate)
    try:
        result = measure(path, fam.name, variant, limits=limits, out=out, signal=fam.signal, go=go,
                         expected="flat", work=fam.work, progress=progress)
    except ProgramFailed as exc:
        return CheckReport(passed=False, status="crashed", headline="not fixed: the program did not keep running",
                           details=[str(exc), "a lab program serves requests until it is stopped; "
                                    "main must not return"], run_dir=exc.run_dir or "", **base)
    status, headline, details, ref = _judge(fam, result, limits, out, go, reference)
    curve = save_curve(result, Path(result.run_dir) / "curve.png",
                       f"leaklab check {fam.name}: {status} ({result.go_version})")
    return CheckReport(passed=status == "fixed", status=status, headline=headline, details=details,
                       hint=hints.get("hint", "") if status == "leaking" else "", signal=result.signal,
                       rate_per_s=result.rate_per_s, work_rate_per_s=result.work_rate_per_s,
                       reference_work_rate=ref, go_version=result.go_version, run_dir=result.run_dir,
                       curve=str(curve), **base)


def format_report(report: CheckReport) -> str:
    """The plain-text answer the CLI prints."""
    lines = [f"leaklab check {report.family} ({report.path})",
             f"  {'PASS' if report.passed else 'NOT YET'} - {report.headline}"]
    lines += [f"    {d}" for d in report.details if d]
    if report.hint:
        lines.append(f"  hint: {report.hint}")
    if report.curve:
        lines.append(f"  curve: {report.curve}")
    if report.go_version:
        lines.append(f"  built with {report.go_version}; run data in {report.run_dir}")
    return "\n".join(lines)


def cmd_check(args) -> int:
    """``leaklab check FAMILY [--path DIR]``: exit 0 only when the leak is fixed and the work still done."""
    import json

    import sys

    limits = args.limits

    where = args.path or f"the starter of {args.family}"
    print(f"leaklab: building {where} and running it for {limits.duration_s:g} s...", file=sys.stderr)
    report = check(args.family, args.path, limits=limits, out=args.out)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0 if report.passed else 1
