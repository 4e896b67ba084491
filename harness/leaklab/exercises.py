"""The exercise notebooks, made from the solution notebooks: a learner's copy is never edited by hand.

:func:`prepare_exercises` writes ``labs/notebooks/exercises/X.ipynb`` for every ``solutions/X.ipynb``, with the
cells tagged ``solution`` emptied (``make exercises``, ``leaklab workshop --exercises-only``).
"""

from __future__ import annotations

from pathlib import Path

from .paths import content

__all__ = ["exercises_dir", "prepare_exercises", "solutions_dir"]


def solutions_dir() -> Path:
    """The solution notebooks: labs/notebooks/solutions/ of the checkout."""
    return content("labs", "notebooks", "solutions")


def exercises_dir() -> Path:
    """The exercise notebooks made from them: labs/notebooks/exercises/ of the checkout."""
    return content("labs", "notebooks", "exercises")


_PLACEHOLDER = "# Your turn: write your answer here, then run the next cells.\n"
_ANSWER = "**Your answer.** *Double-click this cell and write it here.*"


def _as_exercise(text: str) -> str:
    return text.replace(" (solution)", "").replace("(solution)", "")


def _exercise(nb):
    """The exercise version of a solution notebook (a new node; ``nb`` is not changed).

    A cell tagged ``solution`` becomes a cell tagged ``exercise`` holding its ``exercise`` metadata (an
    empty answer cell for a markdown answer, a comment saying what to write for a code one), and the
    title loses its "(solution)".
    """
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            default = _ANSWER if cell.cell_type == "markdown" else _PLACEHOLDER
            cell.source = cell.metadata.get("exercise", default).rstrip("\n")
            cell.metadata["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
            cell.metadata.pop("exercise", None)
        elif cell.cell_type == "markdown":
            cell.source = _as_exercise(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["title"] = _as_exercise(nb.metadata.get("title", ""))
    return nb


def prepare_exercises(solutions: Path | None = None, exercises: Path | None = None) -> list[Path]:
    """Write ``exercises/X.ipynb`` for every ``solutions/X.ipynb``, with the solution cells emptied."""
    import nbformat

    solutions, exercises = solutions or solutions_dir(), exercises or exercises_dir()
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(solutions.glob("*.ipynb")):
        dst = exercises / src.name
        nbformat.write(_exercise(nbformat.read(src, as_version=4)), dst)
        written.append(dst)
    return written
