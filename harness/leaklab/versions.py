"""The report's "Across Go versions" page: what changed between Go releases, measured.

:func:`measure` runs every family's leaky and fixed program on each release (:func:`leaklab.matrix.run_versions`,
toolchains fetched once and cached), each toolchain's own checks (:func:`leaklab.matrix.version_checks`) and
what one map entry costs (:func:`entry_bytes`), and keeps it all in ``OUT/versions/measured.json``. The
notebook ``notebooks/versions.ipynb`` shows it with :func:`verdicts`, :func:`figure`, :func:`costs`,
:func:`leak_profiles` and :func:`checks`; :func:`problems` is its regression check (every family on every
release, each as ``expect.toml`` says for that release). ``leaklab report --versions`` executes it.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import math
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from . import _json
from .cases import cases_dir, families
from .errors import LeakLabError
from .matrix import DEFAULT_VERSIONS, VersionRun, judged_curve, run_versions, version_checks
from .plot import COLOURS, save_png
from .probe import SIGNALS, read_samples
from .run import Limits, check_limits
from .runfolder import RunFolder
from .toolchain import GoToolchain, fetch_go

__all__ = ["PAGE", "VersionsPage", "checks", "costs", "entry_bytes", "figure", "leak_profiles", "load", "measure",
           "problems", "verdicts"]

#: The page's folder in OUT: its runs, its record (``measured.json``) and its picture.
PAGE = "versions"
_RECORD = "measured.json"
#: One line style per Go release, in the order measured (colour says leaky or fixed, as everywhere in the lab).
_STYLES = ["-", "--", "-.", ":"]


@dataclasses.dataclass
class VersionsPage:
    """What the page shows: the releases asked for and everything measured on them."""

    releases: list[str]
    rows: list[VersionRun]
    checks: list[dict]
    #: Per toolchain: ``{"go_version", "entries", "bytes_per_entry": {"sync.Map": B, "map[int]int": B}}``.
    entries: list[dict]
    parameters: dict
    recorded: str
    out: str

    @property
    def go_versions(self) -> list[str]:
        """The toolchains measured (``go1.22.10``...), oldest first."""
        return list(dict.fromkeys(r.go_version for r in self.rows))


def entry_bytes(go: GoToolchain) -> dict:
    """What one entry of 100,000 int keys keeps in a sync.Map and in a map (go-cases/bench/entrybytes),
    built by ``go`` with its own release as the go directive."""
    source = cases_dir() / "bench" / "entrybytes" / "main.go"
    with tempfile.TemporaryDirectory(prefix="leaklab-entrybytes-") as tmp:
        shutil.copy(source, tmp)
        Path(tmp, "go.mod").write_text("module entrybytes\n\ngo %d.%d\n" % go.version_tuple)
        proc = go.run("run", ".", cwd=Path(tmp), timeout=300)
    if proc.returncode != 0:
        raise LeakLabError(f"{source} failed on {go.version}:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def measure(releases: Sequence[str] = DEFAULT_VERSIONS, *, duration: float = 10.0, interval: float = 0.05,
            warmup: float = 1.0, out: str | Path = "runs") -> VersionsPage:
    """Measure the page on each release in ``releases`` and record it in ``OUT/versions/measured.json``."""
    limits = Limits(duration_s=float(duration), interval_s=float(interval), warmup_s=float(warmup))
    check_limits(limits)
    folder = Path(out) / PAGE
    rows = run_versions("all", list(releases), limits=limits, out=folder)
    page = VersionsPage(releases=list(releases), rows=rows, checks=version_checks(list(releases)),
                        entries=[entry_bytes(fetch_go(r)) for r in releases],
                        parameters={"duration_s": limits.duration_s, "interval_s": limits.interval_s,
                                    "warmup_s": limits.warmup_s},
                        recorded=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                        out=str(Path(out).resolve()))
    doc = {**{f.name: getattr(page, f.name) for f in dataclasses.fields(page)}, "rows": [r.as_dict() for r in rows],
           "go_version": ", ".join(page.go_versions), "godebug": "", "goexperiment": _experiments(rows)}
    (folder / _RECORD).write_text(_json.dumps(doc, indent=2))
    return page


def _experiments(rows: Sequence[VersionRun]) -> str:
    """The GOEXPERIMENT settings the runs were built with (the leak profile's on Go 1.26), as the footer says them."""
    seen = {}
    for r in rows:
        meta = RunFolder(r.run_dir).meta
        if r.run_dir and meta.is_file() and json.loads(meta.read_text()).get("goexperiment"):
            seen[f"{json.loads(meta.read_text())['goexperiment']} ({r.go_version})"] = True
    return ", ".join(seen)


def load(out: str | Path) -> VersionsPage:
    """The page :func:`measure` recorded in ``out``."""
    doc = json.loads((Path(out) / PAGE / _RECORD).read_text())
    rows = [VersionRun.from_dict({k: v for k, v in r.items() if k != "as_expected"}) for r in doc["rows"]]
    fields = {f.name for f in dataclasses.fields(VersionsPage)} - {"rows"}
    return VersionsPage(rows=rows, **{k: doc[k] for k in fields})


def problems(out: str | Path) -> list[str]:
    """How the recorded page differs from what the lab expects, one sentence each (empty: as expected).

    Every family must have its leaky and fixed rows (or the fix of that era) on every release asked for,
    each with the verdict ``expect.toml`` declares for that release.
    """
    path = Path(out) / PAGE / _RECORD
    if not path.is_file():
        return [f"{PAGE}: no {_RECORD} in {path.parent} (did notebooks/versions.ipynb run?)"]
    page = load(out)
    found = [f"{r.family}/{r.variant} on {r.go_version}: expected {r.expected!r}, measured {r.verdict!r} ({r.note})"
             for r in page.rows if not r.as_expected and not _stood_in_for(r, page.rows)]
    for release in page.releases:
        for fam in families():
            for variant in ("leaky", "fixed"):
                if not any(r.go == release and r.family == fam.name and variant in (r.variant, r.instead_of)
                           for r in page.rows):
                    found.append(f"{fam.name}/{variant}: nothing recorded on Go {release}")
    return found


def _stood_in_for(row: VersionRun, rows: Sequence[VersionRun]) -> bool:
    """An unsupported variant whose era's fix was measured in its place, as expected."""
    return row.status == "unsupported" and any(
        r.instead_of == row.variant and r.go == row.go and r.family == row.family and r.as_expected for r in rows)


class _Html:
    """An HTML table a notebook (and the report) shows; ``str()`` is its plain-text form."""

    def __init__(self, head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> None:
        self.head, self.rows, self.classes = list(head), [list(r) for r in rows], list(classes)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.head)
        body = "".join(
            (f'<tr class="{html.escape(c)}">' if c else "<tr>") + "".join(f"<td>{html.escape(v)}</td>" for v in row)
            + "</tr>" for row, c in zip(self.rows, self.classes or [""] * len(self.rows), strict=True))
        return f'<table class="leaklab-verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        return "\n".join("  ".join(r) for r in [self.head, *self.rows])


def _cell(rows: Sequence[VersionRun]) -> str:
    """What one family's variant did on one toolchain: its verdict and growth, or why it did not run."""
    shown = []
    for r in rows:
        text = (f"{r.verdict} {SIGNALS[r.signal].rate(r.rate_per_s)}" if r.status == "measured"
                else f"{r.status}: {r.note.split(': ', 1)[-1]}")
        shown.append((f"{r.variant}: " if r.instead_of else "") + text
                     + ("" if r.as_expected or _stood_in_for(r, rows) else f" (expected {r.expected})"))
    return "; ".join(shown) or "-"


def verdicts(page: VersionsPage) -> _Html:
    """Family x variant against Go version: each cell the verdict and its growth per second."""
    gos = page.go_versions
    keys = list(dict.fromkeys((r.family, r.instead_of or r.variant) for r in page.rows))
    rows = [[fam, variant, *(_cell([r for r in page.rows if r.go_version == g and r.family == fam
                                     and variant in (r.variant, r.instead_of)]) for g in gos)]
            for fam, variant in keys]
    return _Html(["family", "variant", *gos], rows)


def costs(page: VersionsPage) -> _Html:
    """What one leaked request keeps in each leaky program per toolchain, and what one map entry costs."""
    gos = page.go_versions
    rows = []
    for fam in dict.fromkeys(r.family for r in page.rows):
        sig = SIGNALS[next(f.signal for f in families() if f.name == fam)]
        on = {r.go_version: r for r in page.rows if r.family == fam and r.variant == "leaky" and r.status == "measured"}
        rows.append([f"{fam}: one request", sig.label, *(
            sig.amount(on[g].per_request, 1 if sig.unit == "B" else 2)
            if g in on and math.isfinite(on[g].per_request) else "-" for g in gos)])
    by_go = {e["go_version"]: e for e in page.entries}
    for kind, what in (("sync.Map", "a sync.Map entry (int key and value, boxed)"),
                       ("map[int]int", "a map[int]int entry (Swiss tables from Go 1.24)")):
        rows.append([what, "Go heap (live after a GC), 100,000 entries", *(
            f"{by_go[g]['bytes_per_entry'][kind]:.1f} B" if g in by_go else "-" for g in gos)])
    return _Html(["what is kept", "measured as", *gos], rows)


def leak_profiles(page: VersionsPage) -> _Html:
    """What the goroutine leak profile said about the goroutine family on each toolchain."""
    rows = []
    for r in (r for r in page.rows if r.family == "goroutine" and r.status == "measured"):
        lp = r.leak_profile or {}
        how = _leak_profile_how(r)
        said = (f"{lp.get('total', 0):,} leaked goroutines" + (f" at {lp['sites'][0]['site']}" if lp.get("sites") else "")
                if lp.get("available") else "not available on this toolchain")
        rows.append([r.go_version, r.variant, how, said])
    return _Html(["toolchain", "variant", "how the profile was enabled", "what it found"], rows)


def _leak_profile_how(row: VersionRun) -> str:
    meta = RunFolder(row.run_dir).meta
    experiment = json.loads(meta.read_text()).get("goexperiment", "") if meta.is_file() else ""
    if not (row.leak_profile or {}).get("available"):
        return "-"
    return f"GOEXPERIMENT={experiment} at build time" if "goroutineleakprofile" in experiment else "by default"


def checks(page: VersionsPage) -> _Html:
    """What each toolchain's own checks found in the finalizer and cgo programs (``-``: no such check)."""
    gos = list(dict.fromkeys(c["go_version"] for c in page.checks))
    keys = list(dict.fromkeys((c["check"], c["family"], c["variant"]) for c in page.checks))
    rows = []
    for check, fam, variant in keys:
        on = {c["go_version"]: c for c in page.checks if (c["check"], c["family"], c["variant"]) == (check, fam, variant)}
        rows.append([check, f"{fam}/{variant}", *((on[g]["found"] if on[g]["available"] else "not in this release")
                                                   if g in on else "-" for g in gos)])
    return _Html(["check", "program", *gos], rows)


def plot(page: VersionsPage) -> Figure:
    """Each family's signal on every toolchain on the same axes: colour is leaky or fixed, line style the release."""
    fams = list(dict.fromkeys(r.family for r in page.rows))
    gos = page.go_versions
    fig = Figure(figsize=(13, 4.0 * math.ceil((len(fams) + 1) / 3)), layout="constrained")
    axes = fig.subplots(math.ceil((len(fams) + 1) / 3), 3, squeeze=False).ravel()
    for ax, fam in zip(axes, fams, strict=False):
        signal = next(f.signal for f in families() if f.name == fam)
        sig = SIGNALS[signal]
        for r in (r for r in page.rows if r.family == fam and r.status == "measured"):
            t, y = judged_curve(read_samples(RunFolder(r.run_dir).samples), signal)
            ax.plot(t, y / sig.scale, _STYLES[gos.index(r.go_version) % len(_STYLES)], lw=1.6,
                    color=COLOURS.get(r.instead_of or r.variant, "#555555"))
        ax.set_title(f"{fam}\n{_summary(page.rows, fam)}", fontsize=10, loc="left")
        ax.set_xlabel("time since the program started [s]")
        unit = "count" if sig.display_unit == "goroutines" else sig.display_unit
        ax.set_ylabel(f"{textwrap.fill(sig.label, 28)}\n[{unit}]")
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.grid(alpha=0.3)
    for ax in axes[len(fams):]:
        ax.axis("off")
    _key(axes[len(fams)], gos)
    fig.suptitle(f"The five families on {', '.join(gos)}: the signal each verdict reads, all releases on the same axes",
                 fontsize=12)
    return fig


def _summary(rows: Sequence[VersionRun], fam: str) -> str:
    """``leaky leak on 4 of 4, fixed flat on 4 of 4`` (the era's fix counted as the fixed program)."""
    parts = []
    for variant in ("leaky", "fixed"):
        mine = [r for r in rows if r.family == fam and variant in (r.variant, r.instead_of) and r.status == "measured"]
        verdicts = sorted({r.verdict for r in mine})
        parts.append(f"{variant}: {'/'.join(verdicts) or 'not run'} on {len(mine)}")
    return "; ".join(parts) + f" of {len(dict.fromkeys(r.go_version for r in rows))} releases"


def _key(ax, gos: Sequence[str]) -> None:
    """The legend panel: what the colours and the line styles mean."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=COLOURS["leaky"], lw=2.5, label="leaky program"),
               Line2D([], [], color=COLOURS["fixed"], lw=2.5, label="fixed program (before Go 1.24 the\n"
                                                                  "finalizer's fix of that era)"),
               *(Line2D([], [], color="#333333", lw=1.6, ls=_STYLES[i % len(_STYLES)], label=f"built by {g}")
                 for i, g in enumerate(gos))]
    ax.legend(handles=handles, loc="center", fontsize=10, frameon=False, title_fontsize=10,
              title="Colour: which program. Line: which Go.\nThe heap is its live size after each GC.")


def figure(page: VersionsPage):
    """:func:`plot`, saved as ``OUT/versions/versions.png`` (a :class:`leaklab.notebooks.Picture`)."""
    from .notebooks import Picture
    fig = plot(page)
    return Picture(fig, save_png(fig, Path(page.out) / PAGE / "versions.png"))
