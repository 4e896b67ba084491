"""Every family on several Go toolchains (fetched once and cached by :func:`leaklab.toolchain.fetch_go`).

:func:`run_versions` is ``leaklab matrix all``: every family's leaky and fixed variants on each
toolchain. A variant that does not compile on a toolchain (``runtime.AddCleanup`` before Go 1.24) is
"unsupported" with the compiler's words; where expect.toml names the fix of that era (``instead``),
that variant runs in its place. :func:`version_checks` adds what each toolchain's own checks find.
One variant with and without a GODEBUG setting is :mod:`leaklab.godebug`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
from matplotlib.figure import Figure

from . import _json
from .cases import Family, expectation, families, get_family
from .errors import BadParameter, BuildFailed, ProgramFailed
from .lab import DEFAULT_OUT, FAMILY_SETTLE_S, Progress, measure
from .plot import COLOURS, room_below
from .probe import SIGNALS, read_samples
from .run import Limits
from .runfolder import RunFolder
from .toolchain import fetch_go

__all__ = ["DEFAULT_VERSIONS", "VersionRun", "costs_table", "family_limits", "judged_curve", "leak_profile_lines",
           "load_versions", "plot_versions", "run_versions", "version_checks", "versions_png", "versions_table"]

#: 1.22: the timers of old; 1.24: Swiss-table maps, the new sync.Map, runtime.AddCleanup; 1.26: the goroutine
#: leak profile as an experiment, the Green Tea GC; 1.27: asynctimerchan removed, the leak profile by default.
DEFAULT_VERSIONS = ("1.22", "1.24", "1.26", "1.27")


def family_limits(limits: Limits) -> Limits:
    """A family's programs settle as ``leaklab run`` lets them (:data:`leaklab.lab.FAMILY_SETTLE_S`)."""
    return limits if limits.settle_s is not None else dataclasses.replace(limits, settle_s=FAMILY_SETTLE_S)


# --- every family on every toolchain (`leaklab matrix all`) --------------------------------------------------

@dataclasses.dataclass
class VersionRun:
    """One variant of one family on one Go release: measured, or unsupported with the reason."""

    family: str
    variant: str
    go: str  # the release asked for, e.g. "1.22"
    go_version: str  # the toolchain used, e.g. "go1.22.10"
    go_directive: str
    status: str  # "measured", "unsupported" (does not build) or "failed" (crashed, hung: see note and run_dir)
    expected: str
    verdict: str = ""
    signal: str = ""
    rate_per_s: float = float("nan")
    unit: str = ""
    #: The signal's growth per unit of the program's work (bytes per request for the heap); NaN without work.
    per_request: float = float("nan")
    work_rate_per_s: float | None = None
    decided_after_s: float | None = None
    stopped: str = ""
    #: Every signal judged: its growth per second.
    rates: dict = dataclasses.field(default_factory=dict)
    run_dir: str = ""
    note: str = ""
    #: Set on the fix of an era: the variant it stands in for on this toolchain (e.g. "fixed").
    instead_of: str = ""
    #: The goroutine family only: what the goroutine leak profile found (``available`` false before Go 1.26).
    leak_profile: dict | None = None

    @classmethod
    def from_dict(cls, doc: dict) -> "VersionRun":
        nan = float("nan")
        return cls(**{**doc, "rate_per_s": nan if doc.get("rate_per_s") is None else doc["rate_per_s"],
                      "per_request": nan if doc.get("per_request") is None else doc["per_request"]})

    @property
    def as_expected(self) -> bool:
        return (self.verdict or self.status) == self.expected

    def as_dict(self) -> dict:
        """Strict JSON values (a rate that could not be measured is null), ``as_expected`` included."""
        return cast(dict, _json.finite(dataclasses.asdict(self) | {"as_expected": self.as_expected}))


def _instead(fam: Family, variant: str, go_version: str) -> str:
    """The variant expect.toml runs in place of ``variant`` on this toolchain (``instead``), or ""."""
    for rule in fam.expect[variant].when:
        if "instead" in rule and expectation(fam, variant, go_version).verdict == rule.get("verdict"):
            return rule["instead"]
    return ""


def _compiler_says(exc: BuildFailed) -> str:
    """The compiler's first complaint, e.g. ``./main.go:42:10: undefined: runtime.AddCleanup``."""
    lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip() and not ln.startswith("#")]
    return lines[0] if lines else str(exc).splitlines()[0]


def _version_run(fam: Family, variant: str, release: str, limits: Limits, out: Path,
                 progress: Progress | None, instead_of: str = "") -> VersionRun:
    go = fetch_go(release)
    directive = "%d.%d" % go.version_tuple
    exp = expectation(fam, variant, go.version, "", directive)
    row = VersionRun(family=fam.name, variant=variant, go=release, go_version=go.version, go_directive=directive,
                     status="measured", expected=exp.verdict, signal=fam.signal, instead_of=instead_of)
    # The goroutine leak profile (Go 1.26 as an experiment, 1.27 by default) is taken where it teaches.
    profiles = fam.signal == "goroutines"
    try:
        r = measure(fam.package(variant), f"matrix-{fam.name}-{variant}", go.version, limits=family_limits(limits),
                    out=out, signal=fam.signal, go=go, work=fam.work, expected=exp.verdict, go_directive=directive,
                    progress=progress, profiles=profiles)
    except BuildFailed as exc:
        row.status = row.verdict = "unsupported"
        row.note = f"does not build with {go.version}: {_compiler_says(exc)}"
        return row
    except ProgramFailed as exc:  # a crash is a finding of this cell, not the end of the whole matrix
        row.status = row.verdict = "failed"
        row.run_dir, row.note = exc.run_dir or "", str(exc).splitlines()[0]
        return row
    row.verdict, row.rate_per_s, row.unit, row.run_dir, row.note = r.verdict, r.rate_per_s, r.unit, r.run_dir, r.reason
    row.work_rate_per_s, row.decided_after_s, row.stopped = r.work_rate_per_s, r.decided_after_s, r.stopped
    row.rates = {name: v.get("rate_per_s") for name, v in r.signals.items()}
    if r.work_rate_per_s:
        row.per_request = r.rate_per_s / r.work_rate_per_s
    if profiles and r.leak_profile is not None:
        row.leak_profile = {k: r.leak_profile.get(k) for k in ("available", "total", "sites")}
    return row


def run_versions(family: str = "all", versions: Sequence[str] = DEFAULT_VERSIONS,
                 variants: Sequence[str] = ("leaky", "fixed"), *, limits: Limits = Limits(), out: Path = DEFAULT_OUT,
                 progress: Progress | None = None) -> list[VersionRun]:
    """Every family's (or one family's) ``variants`` on each Go release in ``versions``, one after another.

    A variant that does not build on a toolchain is ``unsupported`` with the compiler's words; where its
    expect.toml rule names the fix of that era (``instead = "handle"``) that variant is measured too.
    Writes ``OUT/matrix-<family>.json`` (``matrix-all.json``) as ``{"results": [...]}``.
    """
    fams = families() if family == "all" else [get_family(family)]
    if not versions:
        raise BadParameter("give at least one Go release to --go (e.g. --go 1.22 1.26)")
    for fam in fams:
        missing = [v for v in variants if v not in fam.expect]
        if missing and family != "all":
            raise BadParameter(f"family {fam.name!r} has no variant {missing[0]!r}; it has: {', '.join(fam.variants)}")
    rows: list[VersionRun] = []
    for release in versions:
        for fam in fams:
            for variant in (v for v in variants if v in fam.expect):
                row = _version_run(fam, variant, release, limits, Path(out), progress)
                rows.append(row)
                era_fix = _instead(fam, variant, row.go_version) if row.status == "unsupported" else ""
                if era_fix:
                    rows.append(_version_run(fam, era_fix, release, limits, Path(out), progress, instead_of=variant))
    path = Path(out) / f"matrix-{family}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_json.dumps({
        "family": family, "versions": list(versions), "variants": list(variants),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": dataclasses.asdict(limits), "results": [r.as_dict() for r in rows]}, indent=2))
    return rows


def load_versions(path: Path) -> tuple[dict, list[VersionRun]]:
    """Read back what :func:`run_versions` wrote: its header and its rows."""
    doc = json.loads(Path(path).read_text())
    return doc, [VersionRun.from_dict({k: v for k, v in r.items() if k != "as_expected"}) for r in doc.pop("results")]


def version_checks(versions: Sequence[str] = DEFAULT_VERSIONS, family: str = "all", *,
                   seconds: float = 1.0) -> list[dict]:
    """What each toolchain's own checks say about the finalizer and cgo families, where it has them.

    ``GODEBUG=checkfinalizers=1`` (Go 1.25+) on the finalizer programs, ``go build -asan`` (Go 1.25+
    reports C memory never freed at exit) on the cgo programs. A toolchain without the check gets a
    row with ``available`` false. Each check builds and runs its program for about ``seconds``.
    """
    from .diagnose import asan_leaks, check_finalizers

    rows = []
    for release in versions:
        go = fetch_go(release)
        for name, variant in (("finalizer", "leaky"), ("finalizer", "fixed"), ("cgo", "leaky"), ("cgo", "fixed")):
            if family not in ("all", name):
                continue
            package = get_family(name).package(variant)
            if name == "finalizer":
                c = check_finalizers(package, seconds=seconds, go=go)
                found = (("stops the program: " if c["crashed"] else "") +
                         ", ".join(f"{i['site']} x{i['count']}" for i in c["issues"])) or "nothing"
                rows.append({"check": "GODEBUG=checkfinalizers=1", "family": name, "variant": variant,
                             "go_version": go.version, "available": c["available"],
                             "flagged": c["crashed"] or bool(c["issues"]), "found": found if c["available"] else ""})
            else:
                a = asan_leaks(package, seconds=seconds, go=go)
                found = f"{a['bytes']:,} bytes leaked in {a['allocations']:,} allocations" if a["bytes"] else "nothing"
                rows.append({"check": "go build -asan", "family": name, "variant": variant,
                             "go_version": go.version, "available": a["available"], "flagged": a["bytes"] > 0,
                             "found": found if a["available"] else a["report"].splitlines()[0][:120]})
    return rows


def versions_table(rows: Sequence[VersionRun]) -> str:
    """Family x variant against Go version, each cell the verdict and its growth, as GitHub markdown."""
    gos = list(dict.fromkeys(r.go_version for r in rows))
    keys = list(dict.fromkeys((r.family, r.instead_of or r.variant) for r in rows))
    lines = ["| family | variant | " + " | ".join(gos) + " |", "|---|---|" + "---|" * len(gos)]
    for fam, variant in keys:
        cells = []
        for go in gos:
            shown = []
            for r in (r for r in rows
                      if r.go_version == go and r.family == fam and variant in (r.variant, r.instead_of)):
                text = r.verdict if r.status == "measured" else f"{r.status} ({r.note.split(': ', 1)[-1]})"
                if r.status == "measured":
                    text += f" {SIGNALS[r.signal].rate(r.rate_per_s)}"
                if r.instead_of:
                    text = f"{r.variant}: {text}"
                shown.append(text + ("" if r.as_expected else f" (NOT as expected: {r.expected})"))
            cells.append("; ".join(shown) or "-")
        lines.append(f"| {fam} | {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def costs_table(rows: Sequence[VersionRun]) -> str:
    """What one unit of work leaves behind in each leaky program, per Go version (bytes per request for
    the heap: a sync.Map entry before and after Go 1.24's rewrite, a timer before and after 1.23)."""
    leaky = [r for r in rows if r.variant == "leaky" and r.status == "measured"]
    gos = list(dict.fromkeys(r.go_version for r in leaky))
    lines = ["| family | kept per request | " + " | ".join(gos) + " |", "|---|---|" + "---|" * len(gos)]
    for fam in dict.fromkeys(r.family for r in leaky):
        sig = SIGNALS[get_family(fam).signal]
        on = {r.go_version: r for r in leaky if r.family == fam}
        digits = 1 if sig.unit == "B" else 2
        cells = [sig.amount(on[g].per_request, digits) if g in on and math.isfinite(on[g].per_request) else "-"
                 for g in gos]
        lines.append(f"| {fam} | {sig.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def leak_profile_lines(rows: Sequence[VersionRun]) -> str:
    """What the goroutine leak profile said about the goroutine family on each version, one line each."""
    out = []
    for r in rows:
        if r.leak_profile is None:
            continue
        lp = r.leak_profile
        said = (f"{lp['total']:,} leaked goroutines" + (f", at {lp['sites'][0]['site']}" if lp.get("sites") else "")
                if lp.get("available") else "no leak profile on this toolchain")
        out.append(f"- {r.family}/{r.variant} on {r.go_version}: {said}\n")
    return "".join(out)


def judged_curve(samples, signal: str):
    """The curve the verdict reads: for the heap, the live heap each GC measured (the samples at which the GC
    count went up); for the other signals, every sample."""
    if signal == "heap_bytes" and {"gc_cycles", "live_bytes"} <= samples.columns.keys():
        cycles = samples["gc_cycles"]
        new = np.r_[False, cycles[1:] > cycles[:-1]]
        return samples.t[new], samples["live_bytes"][new]
    return samples.t, samples[signal]


def plot_versions(rows: Sequence[VersionRun], family: str) -> Figure:
    """One family's signal on every Go version on the same axes: leaky in orange, fixed in blue."""
    fam = get_family(family)
    sig = SIGNALS[fam.signal]
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.add_subplot()
    gos = list(dict.fromkeys(r.go_version for r in rows if r.family == family))
    styles = ["-", "--", "-.", ":"]
    for r in (r for r in rows if r.family == family and r.status == "measured"):
        t, y = judged_curve(read_samples(RunFolder(r.run_dir).samples), fam.signal)
        colour = COLOURS.get(r.instead_of or r.variant, "#999999")
        ax.plot(t, y / sig.scale, styles[gos.index(r.go_version) % len(styles)], lw=1.8, marker=".", ms=3,
                color=colour, label=f"{r.variant} on {r.go_version}: {r.verdict} ({sig.rate(r.rate_per_s)})")
    others = [f"{r.variant} on {r.go_version}: {r.note}" for r in rows if r.family == family and r.status != "measured"]
    ax.set_xlabel("time since the program started (s)")
    ax.set_ylabel(f"{sig.label} ({sig.display_unit})")
    ax.set_title(f"{family}: leaky and fixed on {', '.join(gos)}")
    ax.grid(alpha=0.3)
    ax.legend(title="variant on toolchain: verdict (slope)", fontsize=8, title_fontsize=8, loc="upper left")
    if others:
        fig.text(0.01, 0.005, "\n".join(others)[:600], fontsize=7, va="bottom", wrap=True)
        room_below(fig, 0.06)
    return fig


def versions_png(rows: Sequence[VersionRun], family: str, path: Path) -> Path:
    """Draw :func:`plot_versions` into ``path`` (PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_versions(rows, family).savefig(path, dpi=100)
    return path
