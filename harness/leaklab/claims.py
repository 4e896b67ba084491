"""What the lab found about the article's claims: kept in docs/claims.json, shown as the claims table.

:func:`write_claims` saves the findings of :func:`leaklab.claim_runs.run_claims` (and the families-by-version
table of ``leaklab matrix all --save``, :func:`save_versions`) as docs/claims.json and renders
docs/claims.md beside it; :func:`load_findings` and :func:`table` read them back with no Go run, for the
labs pages, the workshop and the overview notebook. :func:`claims_markdown` renders findings as the claims
table: one row per claim and a verdict column per Go version measured.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path

from . import _json
from .cases import get_family
from .claim_runs import Finding, go_key, ordered
from .errors import BadParameter, ClaimCheckFailed, LeakLabError
from .godebug import Cell, matrix_png
from .matrix import VersionRun, costs_table, leak_profile_lines, versions_png, versions_table
from .paths import content
from .runfolder import RunFolder
from .toolchain import find_go

__all__ = ["ClaimsTable", "VersionsPicture", "VersionsView", "claims_json", "claims_markdown", "load_findings",
           "save_versions", "saved_versions", "table", "versions_markdown", "write_claims"]


def claims_json() -> Path:
    """Where ``leaklab claims`` keeps the findings (the markdown table goes beside it as claims.md):
    docs/claims.json of the checkout."""
    return content("docs", "claims.json")


def _by_claim(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by claim, in the order given; a claim's last finding is its main one."""
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.claim_id, []).append(f)
    return grouped


def _mark(f: Finding) -> str:
    return f.verdict if f.as_expected else f"{f.verdict} (NOT as the lab expects: {f.expected or '?'})"


def claims_markdown(findings: Sequence[Finding], family: str | None = None) -> str:
    """The claims table (one family's rows when ``family`` is given) as GitHub markdown.

    One row per claim and a verdict column per Go version measured; "the lab measured" is the claim's
    last finding (the one :func:`write_claims` puts last: the installed Go's).
    """
    rows = [f for f in findings if family in (None, f.family)]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    gos = sorted({f.go_version for f in rows}, key=go_key)
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
            for f in sorted(group, key=lambda f: go_key(f.go_version))))
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
    return ordered([Finding(**f) for f in doc.get("other_versions", [])] + main, "", main)


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
    on_disk = [c for c in cells.values() if c.status != "measured" or RunFolder(c.run_dir).samples.is_file()]
    shown = sorted(on_disk, key=lambda c: (go_key(c.go_version), c.godebug))
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
    pages quote, see :func:`load_findings`), ``other_versions`` the other toolchains' findings. ``families``
    (``{"results": [...], "checks": [...]}`` of :func:`leaklab.matrix.run_versions`
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
    findings = ordered([*kept, *findings], installed)
    main = [group[-1] for group in _by_claim(findings).values()]  # each claim's last finding is its main one
    doc = {"findings": [dataclasses.asdict(f) for f in main],
           "other_versions": [dataclasses.asdict(f) for f in findings if all(f is not m for m in main)],
           **({"families": families} if families else {})}
    path.write_text(_json.dumps(doc, indent=2, default=str))
    versions = sorted({f.go_version for f in findings}
                      | {c["go_version"] for f in findings for c in f.numbers.get("cells", [])}, key=go_key)
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


# --- the families on each Go version (`leaklab matrix all --save`), kept in the same file ----------------------

def save_versions(rows: Sequence[VersionRun], checks: Sequence[dict] = (), path: Path | None = None) -> Path:
    """Keep the families-by-version table in docs/claims.json (or ``path``), draw each family's picture
    into ``img/matrix-<family>.png`` beside it, and regenerate claims.md; returns its path."""
    path = Path(path) if path is not None else claims_json()
    for fam in dict.fromkeys(r.family for r in rows):
        versions_png(rows, fam, path.parent / "img" / f"matrix-{fam}.png")
    families = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "results": [r.as_dict() for r in rows], "checks": list(checks)}
    return write_claims([], path, families=families)


def saved_versions(path: Path | None = None) -> tuple[dict, list[VersionRun]]:
    """The families-by-version table kept in docs/claims.json by :func:`save_versions`: its header
    (date, checks) and its rows. No Go is run."""
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
        self.path = (Path(path) if path is not None else claims_json()).parent / "img" / f"matrix-{family}.png"
        if not self.path.is_file():
            raise BadParameter(f"no picture at {self.path}: run `leaklab matrix all --save` first")

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<picture {self.path}>"
