"""The diagnosis of a family's runs as tables: HTML in a notebook and the report, plain text elsewhere.

:class:`DiagnosisReport` holds the runs (made with profiles) and Go's own checks for them
(:func:`leaklab.diagnose.family_checks`); its :meth:`~DiagnosisReport.sections` are what the CLI draws.
"""

from __future__ import annotations

import html

from .probe import SIGNALS
from .profiles import LEAK_PROFILE_MISSES, SITE_MIN_RATE

__all__ = ["DiagnosisReport", "code_html"]

_HEAP = SIGNALS["heap_bytes"]


def code_html(text: str) -> str:
    """``text`` escaped for HTML, its `backticked` parts shown as code rather than as backticks."""
    parts = html.escape(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: not markup, keep them
        return html.escape(text)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


class DiagnosisReport:
    """What :func:`leaklab.diagnose.report` returns: shown as HTML in a notebook, as text elsewhere, as rich
    tables by ``leaklab run --details`` (:mod:`leaklab.cli.terminal`)."""

    def __init__(self, results, checks: list[dict]) -> None:
        self.results, self.checks = list(results), checks

    def sections(self):
        """(title, column names, rows of text) of each table."""
        for r in self.results:
            name = f"{r.family}/{r.variant}"
            if r.top_sites is None:
                yield name, ["note"], [["run without profiles: run it with profiles=True to diagnose it"]]
                continue
            yield (f"{name}: where the live heap grew (heap profiles after a GC, start vs end of the window)",
                   ["allocation site", "growth", "objects"],
                   [[s["site"], _HEAP.amount(s["bytes"]), f"{s['objects']:+,}"] for s in r.top_sites]
                   or [[f"no site grows faster than {_HEAP.rate(SITE_MIN_RATE)}", "", ""]])
            yield (f"{name}: goroutines at the end, grouped by stack and wait reason",
                   ["where it waits", "state", "count", "since warm-up", "growing?"],
                   [[g["site"], g["wait"], f"{g['count']:,}", f"{g['growth']:+,}", "yes" if g["growing"] else "no"]
                    for g in r.top_goroutines or []])
            lp = r.leak_profile or {}
            rows = [[s["site"], f"{s['count']:,}"] for s in lp.get("sites", [])] or [
                ["none reported (it cannot see goroutines blocked on a still-reachable channel, nor spinning ones)",
                 "0"]]
            if not lp.get("available"):
                rows = [["not available: needs Go 1.27, or Go 1.26 built with GOEXPERIMENT=goroutineleakprofile", ""]]
            yield f"{name}: goroutine leak profile", ["leaked goroutines blocked at", "count"], rows
        if self.checks:
            yield ("Go's own checks", ["check", "variant", "flags a problem?", "finding"],
                   [[c["check"], c["variant"], "yes" if c["flagged"] else "no", c["finding"]] for c in self.checks])

    def _repr_html_(self) -> str:
        """The tables for a notebook and the report: aligned left, `backticked` text shown as code."""
        cell = 'style="text-align:left;vertical-align:top"'
        parts = [f"<h4>{code_html(title)}</h4><table class='leaklab-diagnosis'><thead><tr>"
                 + "".join(f"<th {cell}>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
                 + "".join("<tr>" + "".join(f"<td {cell}>{code_html(c)}</td>" for c in row) + "</tr>" for row in rows)
                 + "</tbody></table>" for title, head, rows in self.sections()]
        parts.append(f"<p><em>What the leak profile misses:</em> {code_html(LEAK_PROFILE_MISSES)}</p>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return "\n".join(f"{title}\n" + "\n".join("  " + "  ".join(row) for row in rows)
                         for title, _, rows in self.sections())
