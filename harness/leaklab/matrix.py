"""Run one case on several Go toolchains, with and without a GODEBUG setting, and plot them together.

Each cell of the matrix is one toolchain (fetched once and cached by :func:`leaklab.toolchain.fetch_go`),
the go directive the case is built with (the toolchain's own release, recorded in each run's
``meta.json``) and a GODEBUG value. A setting the toolchain predates is "not applicable"; a setting
the toolchain has removed makes the program die at start, which the matrix reports as "unsupported",
not as a crash. Each measured cell is judged against :func:`leaklab.cases.expectation`.

:func:`run_versions` is ``leaklab matrix all``: every family's leaky and fixed variants on each
toolchain. A variant that does not compile on a toolchain (``runtime.AddCleanup`` before Go 1.24) is
"unsupported" with the compiler's words; where expect.toml names the fix of that era (``instead``),
that variant runs in its place. :func:`version_checks` adds what each toolchain's own checks find.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from . import _json
from .cases import Family, expectation, families, get_family
from .errors import BadParameter, BuildFailed, ProgramFailed
from .lab import DEFAULT_OUT, FAMILY_SETTLE_S, Progress, measure
from .plot import COLOURS
from .probe import SIGNALS, read_samples
from .run import Limits
from .toolchain import fetch_go

__all__ = ["Cell", "DEFAULT_GODEBUG", "DEFAULT_VERSIONS", "VersionRun", "load_matrix", "load_versions", "matrix_png",
           "plot_matrix", "plot_versions", "run_matrix", "run_versions", "save_versions", "version_checks",
           "versions_png", "versions_table", "costs_table", "leak_profile_lines", "saved_versions",
           "VersionsPicture", "VersionsView", "judged_curve"]

#: 1.22: the timers of old; 1.24: Swiss-table maps, the new sync.Map, runtime.AddCleanup; 1.26: the goroutine
#: leak profile as an experiment, the Green Tea GC; 1.27: asynctimerchan removed, the leak profile by default.
DEFAULT_VERSIONS = ("1.22", "1.24", "1.26", "1.27")
#: The old (asynchronous) timer channels; added in Go 1.23, removed in Go 1.27.
DEFAULT_GODEBUG = "asynctimerchan=1"
#: The first release that knows each GODEBUG setting the matrix may be asked for.
_INTRODUCED = {"asynctimerchan": (1, 23)}


@dataclasses.dataclass
class Cell:
    """One toolchain x GODEBUG combination and what it showed."""

    go: str  # the release asked for, e.g. "1.22"
    go_version: str  # the toolchain used, e.g. "go1.22.10"
    go_directive: str
    godebug: str
    status: str  # "measured", "unsupported" or "not applicable"
    expected: str
    verdict: str = ""
    rate_per_s: float = float("nan")
    unit: str = ""
    run_dir: str = ""
    note: str = ""

    @classmethod
    def from_dict(cls, doc: dict) -> "Cell":
        """A cell read back from JSON, where a rate that could not be measured is null."""
        rate = doc.get("rate_per_s")
        return cls(**{**doc, "rate_per_s": float("nan") if rate is None else float(rate)})

    @property
    def label(self) -> str:
        debug = f" + GODEBUG={self.godebug}" if self.godebug else ""
        return f"{self.go_version} (go.mod go {self.go_directive}){debug}"

    @property
    def as_expected(self) -> bool:
        return self.status == "not applicable" or (self.verdict or self.status) == self.expected


def _family_limits(limits: Limits) -> Limits:
    """A family's programs settle as ``leaklab run`` lets them (:data:`leaklab.lab.FAMILY_SETTLE_S`)."""
    return limits if limits.settle_s is not None else dataclasses.replace(limits, settle_s=FAMILY_SETTLE_S)


def _predates(version: tuple[int, int], godebug: str) -> bool:
    names = [kv.split("=", 1)[0].strip() for kv in godebug.split(",") if kv.strip()]
    return any(version < _INTRODUCED.get(n, (0, 0)) for n in names)


def _cell(fam: Family, variant: str, release: str, godebug: str, limits: Limits, out: Path,
          progress: Progress | None) -> Cell:
    go = fetch_go(release)
    directive = "%d.%d" % go.version_tuple
    exp = expectation(fam, variant, go.version, godebug, directive)
    cell = Cell(go=release, go_version=go.version, go_directive=directive, godebug=godebug, status="measured",
                expected=exp.verdict)
    if godebug and _predates(go.version_tuple, godebug):
        cell.status, cell.expected = "not applicable", "not applicable"
        cell.note = f"{go.version} predates GODEBUG={godebug}: its default already is the old behaviour"
        return cell
    name = f"{go.version}-{godebug.replace('=', '').replace(',', '+') or 'default'}"
    try:
        r = measure(fam.package(variant), f"matrix-{fam.name}-{variant}", name, limits=_family_limits(limits),
                    out=out, signal=fam.signal, go=go, env={"GODEBUG": godebug} if godebug else {}, work=fam.work,
                    expected=exp.verdict, go_directive=directive, progress=progress)
    except ProgramFailed as exc:
        if "removed GODEBUG" not in str(exc):
            raise
        fatal = next(line for line in str(exc).splitlines() if "removed GODEBUG" in line)
        cell.status = cell.verdict = "unsupported"
        cell.run_dir, cell.note = exc.run_dir or "", f"the program dies at start: {fatal.strip()}"
        return cell
    cell.verdict, cell.rate_per_s, cell.unit, cell.run_dir = r.verdict, r.rate_per_s, r.unit, r.run_dir
    cell.note = r.reason
    return cell


def run_matrix(family: str, variant: str = "classic", versions: Sequence[str] = DEFAULT_VERSIONS,
               godebug: str = DEFAULT_GODEBUG, *, limits: Limits = Limits(), out: Path = DEFAULT_OUT,
               progress: Progress | None = None) -> list[Cell]:
    """Measure ``variant`` of ``family`` on each Go release in ``versions``, without GODEBUG and with
    ``godebug`` (skipped when empty). Writes ``OUT/matrix-<family>-<variant>/matrix.json``."""
    fam = get_family(family)
    if variant not in fam.expect:
        raise BadParameter(f"family {fam.name!r} has no variant {variant!r}; it has: {', '.join(fam.variants)}")
    if not versions:
        raise BadParameter("give at least one Go release to --go (e.g. --go 1.22 1.26)")
    cells = [_cell(fam, variant, v, dbg, limits, Path(out), progress)
             for v in versions for dbg in dict.fromkeys(["", godebug])]
    folder = Path(out) / f"matrix-{fam.name}-{variant}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "matrix.json").write_text(_json.dumps({
        "family": fam.name, "variant": variant, "signal": fam.signal, "title": fam.title,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": dataclasses.asdict(limits), "cells": [dataclasses.asdict(c) for c in cells]}, indent=2))
    return cells


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
        return _json.finite(dataclasses.asdict(self) | {"as_expected": self.as_expected})


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
        r = measure(fam.package(variant), f"matrix-{fam.name}-{variant}", go.version, limits=_family_limits(limits),
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
        t, y = judged_curve(read_samples(Path(r.run_dir) / "samples.jsonl"), fam.signal)
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
        fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    return fig


def versions_png(rows: Sequence[VersionRun], family: str, path: Path) -> Path:
    """Draw :func:`plot_versions` into ``path`` (PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_versions(rows, family).savefig(path, dpi=100)
    return path


def load_matrix(folder: Path) -> tuple[dict, list[Cell]]:
    """Read back ``matrix.json``: its header and its cells."""
    doc = json.loads((Path(folder) / "matrix.json").read_text())
    return doc, [Cell.from_dict(c) for c in doc.pop("cells")]


#: A leaking cell is drawn in the lab's colour of leaky programs, a flat one in that of fixed programs.
_COLOUR = {"leak": COLOURS["leaky"], "flat": COLOURS["fixed"]}


def plot_matrix(cells: Sequence[Cell], signal: str = "heap_bytes", title: str = "") -> Figure:
    """The measured cells' curves on the same axes; unsupported and skipped cells listed below."""
    sig = SIGNALS[signal]
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.add_subplot()
    styles = ["-", "--", "-.", ":"]
    gos = list(dict.fromkeys(c.go_version for c in cells))  # one line style per toolchain, colour says the verdict
    for cell in (c for c in cells if c.status == "measured"):
        t, y = judged_curve(read_samples(Path(cell.run_dir) / "samples.jsonl"), signal)
        label = f"{cell.label}: {cell.verdict} ({sig.rate(cell.rate_per_s)})"
        ax.plot(t, y / sig.scale, styles[gos.index(cell.go_version) % len(styles)], lw=2, marker=".", ms=3,
                color=_COLOUR.get(cell.verdict, "#999999"), label=label)
    others = [f"{c.label}: {c.status} ({c.note})" for c in cells if c.status != "measured"]
    ax.set_xlabel("time since the program started (s)")
    ax.set_ylabel(f"{sig.label} ({sig.display_unit})")
    ax.set_title(title or "The same program on several Go toolchains")
    ax.grid(alpha=0.3)
    ax.legend(title="toolchain (line style), go directive, GODEBUG: verdict (orange leak, blue flat) and slope",
              fontsize=8, title_fontsize=8, loc="upper left")
    if others:
        fig.text(0.01, 0.005, "\n".join(others)[:600], fontsize=7, va="bottom", wrap=True)
        fig.get_layout_engine().set(rect=(0, 0.08, 1, 0.92))
    return fig


def matrix_png(cells: Sequence[Cell], path: Path, signal: str = "heap_bytes", title: str = "") -> Path:
    """Draw :func:`plot_matrix` into ``path`` (PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_matrix(cells, signal, title).savefig(path, dpi=100)
    return path


def _versions_mode(args) -> bool:
    """``matrix all``, ``matrix FAMILY`` (no variant, or ``both``): the families' variants per version; a
    named variant (``matrix timer --variant classic``) is the GODEBUG matrix of that one variant."""
    variant = getattr(args, "variant", None)
    if args.family == "all" or variant in (None, "both"):
        return True
    # The parser's old default: `matrix syncmap` means its variants, the classic timer is the timer's own.
    return variant == "classic" and variant not in get_family(args.family).expect


def cmd_matrix(args) -> int:
    """``leaklab matrix all|FAMILY --go 1.22 1.24 1.26 1.27``: the CLI's view of :func:`run_versions`, or
    with ``--variant V`` of :func:`run_matrix` (that variant with and without ``--godebug``)."""
    if _versions_mode(args):
        return _cmd_versions(args)
    from rich.console import Console
    from rich.table import Table

    limits = args.limits
    versions = args.go or DEFAULT_VERSIONS
    godebug = DEFAULT_GODEBUG if getattr(args, "godebug", None) is None else args.godebug
    Console(stderr=True).print(f"matrix: {args.family}/{args.variant} on Go {', '.join(versions)} "
                               f"(toolchains are fetched once into the cache; first use downloads ~75 MB each)")
    cells = run_matrix(args.family, args.variant, versions, godebug, limits=limits, out=args.out)
    fam = get_family(args.family)
    png = matrix_png(cells, args.plot or Path(args.out) / f"matrix-{fam.name}-{args.variant}" / "matrix.png",
                     fam.signal, f"{fam.name}/{args.variant} across Go versions")
    if args.json:
        print(_json.dumps({"cells": [dataclasses.asdict(c) | {"as_expected": c.as_expected} for c in cells],
                          "plot": str(png)}, indent=2))
        return 0 if all(c.as_expected for c in cells) else 1
    table = Table(title=f"{fam.name}/{args.variant} across Go versions")
    for col in ("toolchain", "go.mod", "GODEBUG", "result", "expected", "growth"):
        table.add_column(col)
    sig = SIGNALS[fam.signal]
    for c in cells:
        growth = "-" if c.status != "measured" else sig.rate(c.rate_per_s)
        mark = "green" if c.as_expected else "red"
        table.add_row(c.go_version, f"go {c.go_directive}", c.godebug or "-", f"[{mark}]{c.verdict or c.status}[/]",
                      c.expected, growth)
    Console().print(table)
    for c in cells:
        if c.status != "measured":
            Console().print(f"{c.label}: {c.status}: {c.note}", highlight=False, markup=False)
    Console(stderr=True).print(f"plot: {png}")
    return 0 if all(c.as_expected for c in cells) else 1


def _cmd_versions(args) -> int:
    """``leaklab matrix all``: every family's leaky and fixed on each toolchain, then the checks, the plots."""
    from rich.console import Console
    from rich.markdown import Markdown

    versions = args.go or DEFAULT_VERSIONS
    err = Console(stderr=True)
    err.print(f"matrix: {args.family} (leaky and fixed) on Go {', '.join(versions)} (toolchains are fetched once "
              f"into the cache; first use downloads ~75 MB each)")
    rows = run_versions(args.family, versions, limits=args.limits, out=args.out)
    checks = version_checks(versions, args.family) if getattr(args, "checks", True) else []
    plots = {fam: str(versions_png(rows, fam, Path(args.plot).with_name(f"{Path(args.plot).stem}-{fam}.png")
                                   if getattr(args, "plot", None) else Path(args.out) / f"matrix-{fam}.png"))
             for fam in dict.fromkeys(r.family for r in rows)}
    ok = all(r.as_expected for r in rows)
    if getattr(args, "save", None):
        err.print(f"table: {save_versions(rows, checks, None if args.save is True else args.save)}")
    if args.json:
        print(_json.dumps({"results": [r.as_dict() for r in rows], "checks": checks, "plots": plots}, indent=2))
        return 0 if ok else 1
    out = Console()
    out.print(Markdown(versions_table(rows)))
    for c in checks:
        out.print(f"{c['go_version']} {c['check']} on {c['family']}/{c['variant']}: "
                  + (c["found"] if c["available"] else f"not available ({c['found']})"), highlight=False, markup=False)
    err.print(f"plots: {', '.join(plots.values())}")
    return 0 if ok else 1


def save_versions(rows: Sequence[VersionRun], checks: Sequence[dict] = (), path: Path | None = None) -> Path:
    """Keep the families-by-version table in docs/claims.json (or ``path``), draw each family's picture
    into ``img/matrix-<family>.png`` beside it, and regenerate claims.md; returns its path."""
    from .claims import claims_json, write_claims

    path = Path(path) if path is not None else claims_json()
    for fam in dict.fromkeys(r.family for r in rows):
        versions_png(rows, fam, path.parent / "img" / f"matrix-{fam}.png")
    families = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "results": [r.as_dict() for r in rows], "checks": list(checks)}
    return write_claims([], path, families=families)


def saved_versions(path: Path | None = None) -> tuple[dict, list[VersionRun]]:
    """The families-by-version table kept in docs/claims.json by :func:`save_versions`: its header
    (date, checks) and its rows. No Go is run."""
    from .claims import claims_json

    path = Path(path) if path is not None else claims_json()
    doc = json.loads(path.read_text()).get("families") if path.is_file() else None
    if not doc:
        raise BadParameter(f"{path} holds no families-by-version table: run `leaklab matrix all --save` first")
    doc = dict(doc)
    return doc, [VersionRun.from_dict({k: v for k, v in r.items() if k != "as_expected"}) for r in doc.pop("results")]


class VersionsView:
    """The saved families-by-version tables, shown as markdown in a notebook (``str()`` gives the text)."""

    def __init__(self, path: Path | None = None) -> None:
        self.header, self.rows = saved_versions(path)

    def _repr_markdown_(self) -> str:
        return (f"Measured on {self.header.get('date', '?')[:10]}.\n\n" + versions_table(self.rows)
                + "\nKept per request by each leaky program:\n\n" + costs_table(self.rows)
                + ("\nThe goroutine leak profile:\n\n" + leak_profile_lines(self.rows)
                   if leak_profile_lines(self.rows) else ""))

    __str__ = __repr__ = _repr_markdown_


class VersionsPicture:
    """A family's saved version picture (``docs/img/matrix-<family>.png``), shown as PNG in a notebook."""

    def __init__(self, family: str, path: Path | None = None) -> None:
        from .claims import claims_json

        self.path = (Path(path) if path is not None else claims_json()).parent / "img" / f"matrix-{family}.png"
        if not self.path.is_file():
            raise BadParameter(f"no picture at {self.path}: run `leaklab matrix all --save` first")

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<picture {self.path}>"
