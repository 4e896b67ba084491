"""Check a learner's fix of an exercise: is the leak gone, and does the program still do its work?

``labs/exercises/<family>/main.go`` is the family's leaky program with the place of the fix marked
``// TODO(you)``. :func:`check_fix` builds the learner's version, runs it like any lab program and
answers with a :class:`CheckReport`. It passes only when

* the family's signal is ``flat`` (``inconclusive`` does not pass), and no other signal a program can
  leak through (Go heap, goroutines, memory outside Go) grows either, and
* the program still completes its work: the counter it publishes with expvar (``requests``) grows
  at least :data:`WORK_FRACTION` of the rate in ``expect.toml``. A "fix" that returns early, sleeps or
  serves fewer requests flattens the curve too, and is rejected here; and
* each request still leaves the trace of its work that ``work_evidence`` in ``expect.toml`` names (bytes allocated on
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
from typing import Any

import numpy as np

from .cases import Family, get_family
from .errors import BadParameter, ProgramFailed
from .lab import PROGRAM_SIGNALS, Result, measure
from .paths import content
from .plot import plot_family, save_png
from .probe import SIGNALS, read_samples
from .run import Limits
from .runfolder import RunFolder
from .toolchain import GoToolchain

__all__ = ["TRIES_FILE", "WORK_FRACTION", "CheckReport", "GoSource", "check_fix",
           "copy_starter", "format_report", "hints", "leaking_signals", "reference_work_rate",
           "save_curve", "show", "starter", "validate", "work_evidence"]

#: In the runs folder: how many times in a row each program was checked and still leaked (the second
#: time, the checker adds the ``more`` hint of hints.toml).
TRIES_FILE = ".check-tries.json"

#: A fix must keep at least this share of the expected work rate (cheats in the tests do 0-50 %).
WORK_FRACTION = 0.7

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
    more: str = ""  # the second hint (hints.toml ``more``): shown on a second failed try, or when asked for
    tries: int = 0  # checks of this program in a row that still leaked, this one included
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


def validate(family: str, path: Path | str | None = None) -> tuple[Family, Path]:
    """The family and the folder to check (default: its starter); :class:`BadParameter` before anything runs."""
    fam = get_family(family)
    folder = Path(path) if path is not None else starter(fam.name)
    if not folder.is_dir():
        raise BadParameter(f"--path must be the folder of your main.go; {folder} is not a folder "
                           f"(the starter is {starter(fam.name)})")
    return fam, folder


def copy_starter(family: str, workdir: Path | str) -> Path:
    """Copy the family's starter to ``workdir/<family>/main.go`` (never over an existing file); return the folder."""
    folder = Path(workdir) / get_family(family).name
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "main.go").exists():
        shutil.copyfile(starter(family) / "main.go", folder / "main.go")
    return folder


@dataclasses.dataclass
class GoSource:
    """A Go file shown as Go: highlighted in a notebook (a fenced block), plain text elsewhere."""

    path: Path

    def _repr_markdown_(self) -> str:
        return (f"Your copy: `{self.path}`. Edit it in Jupyter's editor, or replace it from a cell that starts with "
                f"`%%writefile {self.path}`.\n\n```go\n{self.path.read_text().rstrip()}\n```\n")

    def __repr__(self) -> str:
        return f"{self.path}\n\n{self.path.read_text()}"


def show(folder: Path | str) -> GoSource:
    """The ``main.go`` in ``folder``, to show in a notebook as Go code."""
    return GoSource(Path(folder) / "main.go")


def _hints_file() -> dict:
    path = content("labs", "exercises", "hints.toml")
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def hints(family: str, signal: str | None = None) -> dict[str, str]:
    """The ``hint`` and ``more`` for a program of ``family`` that leaks through ``signal``.

    The family's own hints when ``signal`` is the family's signal (or ``None``); otherwise the family's
    table for that signal (``[timer.goroutines]``), else the general one (``[signal.goroutines]``): a
    change that trades one leak for another gets the hint of the leak it has now.
    """
    fam, table = get_family(family), _hints_file()
    own = table.get(fam.name, {})
    if signal is None or signal == fam.signal:
        return {k: v for k, v in own.items() if isinstance(v, str)}
    return own.get(signal) or table.get("signal", {}).get(signal, {})


def _tries(out: Path, family: str, path: Path, leaking: bool) -> int:
    """Record one more check of ``path``; return how many in a row still leaked (0 once it stops leaking)."""
    import json

    file = out / TRIES_FILE
    try:
        state = json.loads(file.read_text())
    except (OSError, ValueError):
        state = {}
    key = f"{family} {path.resolve()}"
    state[key] = state.get(key, 0) + 1 if leaking else 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(state, indent=1))
    except OSError:  # a read-only runs folder costs the second hint, not the check
        pass
    return state[key]


def _fmt_rate(signal: str, rate: float) -> str:
    return SIGNALS[signal].rate(rate)


def work_evidence(result: Result, family: str, warmup_s: float) -> float | None:
    """What one request added to the family's ``work_evidence`` column (expect.toml) after the warm-up.

    ``None`` when it cannot be told: no such rule, the column missing (an older probe or Go), or no
    request counted.
    """
    rule = get_family(family).evidence
    path = RunFolder(result.run_dir).samples
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


def _strength(result: Result, name: str) -> float:
    """How far above the rate it leaks from signal ``name`` grows (a run stopped at the memory cap: infinite)."""
    if name == result.signal and result.capped:
        return math.inf
    rate = result.signals.get(name, {}).get("rate_per_s", result.rate_per_s if name == result.signal else 0.0)
    return rate / SIGNALS[name].leak_rate if rate is not None and math.isfinite(rate) else 0.0


def leaking_signals(result: Result) -> list[str]:
    """The signals that leak in ``result``, the strongest first (growth against each signal's threshold)."""
    names = [result.signal] + [n for n in PROGRAM_SIGNALS if n != result.signal]
    leaking = [n for n in names if result.signals.get(n, {}).get("verdict") == "leak"
               or (n == result.signal and result.verdict == "leak")]
    return sorted(leaking, key=lambda n: -_strength(result, n))


def _rate_of(result: Result, name: str) -> float:
    return result.signals.get(name, {}).get("rate_per_s", result.rate_per_s if name == result.signal else math.nan)


def _reason_of(result: Result, name: str) -> str:
    return result.reason if name == result.signal else result.signals.get(name, {}).get("reason", "")


def _judge(fam: Family, result: Result, limits: Limits, out: Path, go: GoToolchain | None,
           reference: float | None) -> tuple[str, str, list[str], float | None]:
    """(status, headline, details, reference rate) for a run that completed."""
    leaking = leaking_signals(result)
    if leaking:
        lines = [f"{SIGNALS[n].label} {_fmt_rate(n, _rate_of(result, n))}" for n in leaking]
        return ("leaking", f"still leaking: {lines[0]}",
                [_reason_of(result, leaking[0])] + [f"also growing: {line}" for line in lines[1:]], reference)
    # Too little work fails a fix whatever its curve still has to show; only then can a curve not yet
    # told apart from its threshold ask for a longer run.
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
    curve = "the curve is flat" if result.verdict == "flat" else "the curve shows no leak yet"
    if not enough:
        return ("too-little-work", f"{curve}, but the program does too little work: {served}",
                [f"a fix must keep serving at least {WORK_FRACTION:.0%} of the requests: returning early, "
                 "sleeping or skipping requests hides the leak without fixing it"], reference)
    rule = fam.evidence
    per_request = work_evidence(result, fam.name, limits.warmup_s)
    if rule is not None and per_request is not None and per_request < rule.per_request:
        return ("too-little-work", f"{curve} and `{fam.work}` grows, but the requests skip their work: "
                f"{per_request:,.0f} {rule.unit} per request, where each request {rule.does} "
                f"(at least {rule.per_request:,.0f})",
                ["counting a request is not serving it: keep the work each request does and remove only "
                 "what keeps its memory (or goroutine) alive",
                 "if you did keep the work: the compiler keeps a buffer on the stack when nothing outlives the "
                 "request with it, so the heap no longer sees it (`go build -gcflags=-m` shows this); a change "
                 "that stops handing the data to what lives on (a timer's closure, a cache) only shrinks what "
                 "leaks, the fix this exercise wants removes the leak itself"], reference)
    if result.verdict != "flat":
        return ("inconclusive", f"cannot tell yet: {result.reason}",
                [f"run longer, e.g. `leaklab check {fam.name} --duration {2 * limits.duration_s:g}`"], reference)
    sig = SIGNALS[result.signal]
    return ("fixed", f"fixed: {sig.label} is flat ({_fmt_rate(result.signal, result.rate_per_s)}), {served}",
            [result.reason], reference)


def check_fix(family: str, path: Path | None = None, *, limits: Limits = Limits(), out: Path = Path("runs"),
          go: GoToolchain | None = None, variant: str = "check", reference: float | None = None,
          progress=None, more: bool = False) -> CheckReport:
    """Build and run the learner's program for ``family`` (default: its starter) and judge the fix.

    ``reference`` is a work rate of the leaky program already measured with the same limits; when it
    is ``None`` and one is needed, it is measured. A program that still leaks gets the hint that fits
    its strongest leak, and the second hint too when ``more`` is set or it leaked the last time it was
    checked with the same ``out`` (:data:`TRIES_FILE`). Raises :class:`BadParameter` for an unknown
    family or a missing folder and :class:`BuildFailed` when the program does not compile; a program
    that crashes or stops is reported as not fixed.
    """
    fam, path = validate(family, path)
    out = Path(out)
    base: dict[str, Any] = dict(family=fam.name, path=str(path), expected_work_rate=fam.work_rate)
    try:
        result = measure(path, fam.name, variant, limits=limits, out=out, signal=fam.signal, go=go,
                         expected="flat", work=fam.work, progress=progress)
    except ProgramFailed as exc:
        return CheckReport(passed=False, status="crashed", headline="not fixed: the program did not keep running",
                           details=[str(exc), "a lab program serves requests until it is stopped; "
                                    "main must not return"], run_dir=exc.run_dir or "", **base)
    status, headline, details, ref = _judge(fam, result, limits, out, go, reference)
    curve = save_curve(result, RunFolder(result.run_dir).curve,
                       f"leaklab check {fam.name}: {status} ({result.go_version})")
    tries = _tries(out, fam.name, path, status == "leaking")
    hint = hints(fam.name, leaking_signals(result)[0]) if status == "leaking" else {}
    return CheckReport(passed=status == "fixed", status=status, headline=headline, details=details,
                       hint=hint.get("hint", ""), more=hint.get("more", "") if more or tries >= 2 else "",
                       tries=tries, signal=result.signal, rate_per_s=result.rate_per_s,
                       work_rate_per_s=result.work_rate_per_s, reference_work_rate=ref,
                       go_version=result.go_version, run_dir=result.run_dir, curve=str(curve), **base)


def format_report(report: CheckReport) -> str:
    """The plain-text answer the CLI prints."""
    lines = [f"leaklab check {report.family} ({report.path})",
             f"  {'PASS' if report.passed else 'NOT YET'} - {report.headline}"]
    lines += [f"    {d}" for d in report.details if d]
    if report.hint:
        lines.append(f"  hint: {report.hint}")
    if report.more:
        lines.append(f"  another hint: {report.more}")
    elif report.hint:
        lines.append("  (check again after your next change: if it still leaks, a second hint follows)")
    if report.curve:
        lines.append(f"  curve: {report.curve}")
    if report.go_version:
        lines.append(f"  built with {report.go_version}; run data in {report.run_dir}")
    return "\n".join(lines)
