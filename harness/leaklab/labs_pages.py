"""The labs pages' generated parts: the measured pictures in labs/img, and the claims blocks of each page.

:func:`publish_pictures` copies a workshop's family figures with captions saying how they were made
(``make labs-img``); :func:`update_claims` writes the claims the lab measured (``docs/claims.json``, made by
``leaklab claims --save``) into the pages (``make labs-claims``), so a page never quotes a number the lab did
not measure.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from .deck import growth, results_by_family
from .errors import LeakLabError
from .paths import content
from .runfolder import RunFolder

__all__ = ["claims_block", "labs_dir", "pages_with_claims", "publish_pictures", "update_claims"]


def labs_dir() -> Path:
    """The tutorial: labs/ of the checkout (pages, starters, workshop notebook and template)."""
    return content("labs")


def publish_pictures(out: Path, dest: Path) -> Path:
    """Copy a workshop's family figures to ``dest`` (labs/img) with ``captions.md`` saying how they were made."""
    results = results_by_family(out / "runs")
    dest.mkdir(parents=True, exist_ok=True)
    lines = ["# Measured pictures", "", "Made by `make labs-img` (`leaklab workshop --pictures labs/img`); "
             "regenerate them rather than editing them.", ""]
    for family, runs in results.items():
        shutil.copyfile(out / "img" / f"{family}.png", dest / f"{family}.png")
        meta = RunFolder(runs[0].run_dir).read_meta()
        verdicts = ", ".join(f"{r.variant} {r.verdict} ({growth(r)})" for r in runs)
        lines.append(f"- `{family}.png`: {verdicts}; {runs[0].go_version}, {meta['host']['machine']}, "
                     f"{meta['parameters']['duration_s']:g} s runs, {meta['date'][:10]}.")
    (dest / "captions.md").write_text("\n".join(lines) + "\n")
    return dest


#: ``<!-- claims: ID ID -->`` ... ``<!-- /claims -->`` in a page: the rows of those claims, generated.
_CLAIMS_BLOCK = re.compile(r"(?P<open><!-- claims: (?P<ids>[\w -]+?) -->\n).*?(?P<close><!-- /claims -->)", re.S)


def claims_block(findings, ids: Sequence[str]) -> str:
    """The table of the claims ``ids`` as measured in ``findings`` (:class:`leaklab.claims.Finding`)."""
    by_id = {f.claim_id: f for f in findings}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LeakLabError(f"docs/claims.json has no finding for {', '.join(missing)}: run "
                           f"`leaklab claims --save` (or `leaklab claims {' '.join(missing)} --save`)")
    esc = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    rows = ["| the article claims | what the lab measured | verdict | Go, date | reproduce it |",
            "|---|---|---|---|---|"]
    for f in (by_id[i] for i in ids):
        verdict = f"**{f.verdict}**" + ("" if f.as_expected else " (not what the lab expects: rerun it)")
        rows.append(f"| {esc(f.claim)} | {esc(f.measured)} | {verdict} | {f.go_version}, {f.date} | "
                    f"`leaklab claims {f.claim_id}`; {esc(f.how)} |")
    return ("\n".join(rows) + "\n\n*Generated from [docs/claims.json](../docs/claims.json) (the full table: "
            "[docs/claims.md](../docs/claims.md)) by `make labs-claims`; short runs on a shared 2-CPU machine, "
            "so rerun to see your own numbers.*\n")


def pages_with_claims(findings=None, pages: Sequence[Path] | None = None) -> dict[Path, str]:
    """Every labs page with its claims blocks filled from ``findings`` (default: docs/claims.json)."""
    from .claims import load_findings

    findings = load_findings() if findings is None else findings
    out = {}
    for page in pages if pages is not None else sorted(labs_dir().glob("[0-9][0-9]-*.md")):
        text = page.read_text()
        out[page] = _CLAIMS_BLOCK.sub(lambda m: m["open"] + claims_block(findings, m["ids"].split()) + m["close"],
                                      text)
    return out


def update_claims(findings=None, pages: Sequence[Path] | None = None) -> list[Path]:
    """Rewrite the claims blocks of the labs pages (``make labs-claims``); returns the pages that changed."""
    changed = []
    for page, text in pages_with_claims(findings, pages).items():
        if page.read_text() != text:
            page.write_text(text)
            changed.append(page)
    return changed
