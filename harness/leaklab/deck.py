"""What the workshop deck (labs/workshop/workshop.ipynb) calls, and the handout shows: the agenda, the verdict
table of the workshop's runs, and their figures.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
from pathlib import Path

from .cases import families, get_family
from .errors import BadParameter, LeakLabError
from .lab import Result
from .notebooks import load_results as family_results
from .plot import plot_family
from .probe import SIGNALS

__all__ = ["Agenda", "Note", "Png", "VerdictTable", "agenda", "code_html", "family_figure", "growth",
           "parse_start", "plan", "reading_figure", "results_by_family", "verdict_table"]

#: The workshop's opening and closing (minutes, topic, what), around the families' own slots.
_INTRO = (10, "intro",
          "How the lab measures: the probe, the live heap and the floor, the verdict; `leaklab run syncmap`")
_WRAP_UP = (15, "wrap-up", "Detecting leaks in production; what the article gets wrong on modern Go")


def plan() -> list[tuple[int, str, str]]:
    """The workshop's plan, (minutes, topic, what): the intro, each family's slot as its expect.toml gives it
    (``workshop``), the wrap-up. labs/README.md gives the same times per family."""
    return [_INTRO, *((f.workshop[0], f.name, f.workshop[1]) for f in families() if f.workshop), _WRAP_UP]


def results_by_family(runs_dir: Path | str) -> dict[str, list[Result]]:
    """The results under ``runs_dir/<family>/{leaky,fixed}``, family by family, in the lab's order.

    A family is included when both its runs are there (:func:`leaklab.notebooks.load_results`).
    """
    found = {fam.name: rs for fam in families() if (rs := family_results(runs_dir, fam.name))}
    if not found:
        raise LeakLabError(f"no run results under {runs_dir}: run `leaklab workshop` (or `leaklab run all "
                           f"--out {runs_dir}`) first")
    return found


def growth(r: Result) -> str:
    """The growth of the judged signal of ``r``, in its unit per second."""
    return SIGNALS[r.signal].rate(r.rate_per_s, digits=0 if r.signal == "goroutines" else 2)


@dataclasses.dataclass
class VerdictTable:
    """The verdict of every run, shown as a table in a notebook or written into the handout."""

    rows: list[list[str]]
    header: tuple[str, ...] = ("family", "variant", "verdict", "expected", "signal", "growth", "work done")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        cell = lambda i, c: f'<td class="{html.escape(c)}">' if i == 2 else "<td>"  # noqa: E731
        body = "".join("<tr>" + "".join(f"{cell(i, c)}{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                       for row in self.rows)
        return f'<table class="verdicts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def verdict_table(results: dict[str, list[Result]]) -> VerdictTable:
    """One row per run: verdict against expectation, the growth of the judged signal, the work rate."""
    rows = []
    for family, runs in results.items():
        for r in runs:
            work = "-" if r.work_rate_per_s is None else f"{r.work_rate_per_s:,.0f} requests/s"
            rows.append([family, r.variant, r.verdict, r.expected or "-", SIGNALS[r.signal].label, growth(r), work])
    return VerdictTable(rows)


def code_html(text: str) -> str:
    """Escape ``text`` for HTML and show `backticked` parts as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def parse_start(start: str) -> datetime.datetime:
    """The agenda's start time ``HH:MM`` (24-hour clock); :class:`BadParameter` for anything else."""
    try:
        return datetime.datetime.strptime(start.strip(), "%H:%M")
    except ValueError:
        raise BadParameter(f"--start must be a time as HH:MM on a 24-hour clock (e.g. 09:00 or 13:30), "
                           f"not {start!r}") from None


@dataclasses.dataclass
class Agenda:
    """The workshop's plan with start times, shown as a table."""

    start: str = "09:00"

    def __post_init__(self) -> None:
        parse_start(self.start)

    def slots(self) -> list[tuple[str, int, str, str]]:
        clock = parse_start(self.start)
        out = []
        for minutes, topic, what in plan():
            out.append((clock.strftime("%H:%M"), minutes, topic, what))
            clock += datetime.timedelta(minutes=minutes)
        return out

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{t}</td><td>{m} min</td><td><b>{html.escape(topic)}</b></td>"
                       f"<td>{code_html(what)}</td></tr>" for t, m, topic, what in self.slots())
        total = sum(m for m, _, _ in plan())
        return (f'<table class="agenda"><thead><tr><th>start</th><th>time</th><th>topic</th><th>what we do</th>'
                f"</tr></thead><tbody>{rows}</tbody></table><p>Total: {total} min (breaks not included).</p>")


def agenda(start: str = "09:00") -> Agenda:
    """The agenda, starting at ``start`` (HH:MM)."""
    return Agenda(start)


def family_figure(runs_dir: Path | str, family: str):
    """The lab's figure of one family's leaky and fixed runs under ``runs_dir`` (a note if it was not run)."""
    results = results_by_family(runs_dir).get(get_family(family).name)
    return Png.of(plot_family(results)) if results else Note(f"{family} was not run in this workshop "
                                                      f"(`leaklab workshop --family {family}` runs it)")


def reading_figure(results: dict[str, list[Result]]):
    """How to read a verdict (:func:`leaklab.reading.plot_reading`), drawn from this workshop's runs of a
    family judged on the Go heap (timer if it was run); a note when none was."""
    from .reading import reading_figure as _reading

    family = next((f for f in ("timer", "finalizer", "syncmap") if f in results), None)
    if family is None:
        return Note("the picture of a verdict needs a family judged on the Go heap (timer, finalizer or syncmap)")
    return _reading(results, family, wide=False)


@dataclasses.dataclass
class Png:
    """A figure as PNG bytes, which a notebook shows and nbconvert embeds in the slides."""

    data: bytes

    @classmethod
    def of(cls, fig) -> Png:
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        return cls(buf.getvalue())

    def _repr_png_(self) -> bytes:
        return self.data


@dataclasses.dataclass
class Note:
    """A sentence shown in place of a figure that could not be drawn."""

    text: str

    def _repr_html_(self) -> str:
        return f"<p><i>{html.escape(self.text)}</i></p>"
