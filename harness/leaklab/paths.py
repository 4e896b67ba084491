"""Where the lab's content is: the Go programs, notebooks, labs pages and docs of a checkout.

The package itself (probe.go, the report template) is package data and needs nothing from here:
an installed ``leaklab`` can ``run --program`` on any folder. The families, notebooks and labs live
in a checkout of Go Leak Lab, found in this order:

1. ``$LEAKLAB_HOME``, a checkout's top folder;
2. the checkout this package was imported from (an editable install or ``PYTHONPATH=harness``);
3. the current folder, if it holds ``go-cases/``.

A command that needs content and finds none raises :class:`~leaklab.LabContentMissing`, saying
how to point at a checkout.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import LabContentMissing

__all__ = ["ENV", "home", "content", "resource"]

#: The environment variable naming a checkout of the lab.
ENV = "LEAKLAB_HOME"


def _is_checkout(folder: Path) -> bool:
    return (folder / "go-cases").is_dir()


def home() -> Path:
    """The checkout whose content the lab uses; :class:`LabContentMissing` when there is none."""
    if os.environ.get(ENV):
        folder = Path(os.environ[ENV]).expanduser().resolve()
        if not _is_checkout(folder):
            raise LabContentMissing(f"${ENV} is {folder}, which has no go-cases/ folder: point it at the top "
                                    f"folder of a Go Leak Lab checkout")
        return folder
    for folder in (Path(__file__).resolve().parents[2], Path.cwd()):
        if _is_checkout(folder):
            return folder
    raise LabContentMissing(f"the lab's families, notebooks and labs pages were not found: run from a Go Leak Lab "
                            f"checkout or set ${ENV} to one (`leaklab run --program DIR` needs none)")


def content(*parts: str) -> Path:
    """A path inside the checkout, e.g. ``content("go-cases")``."""
    return home().joinpath(*parts)


def resource(name: str) -> Path:
    """A file shipped inside the package (``probe.go``, ``templates``), as a path on disk."""
    path = resources.files("leaklab") / name
    assert isinstance(path, Path), "leaklab is installed as files, not from a zip"
    return path
