"""The leak families of go-cases/ and what each one is expected to show.

Each family folder ``go-cases/NN-name/`` holds a ``leaky`` and a ``fixed`` main package and an
``expect.toml`` that declares the family's signal and, per variant, the expected verdict and growth
rate. The CLI, the notebooks and the tests all read the expectations from there.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from ._exceptions import UnknownFamily

__all__ = ["CASES_DIR", "Expectation", "Family", "families", "get_family"]

#: The Go module with the lab's programs (override with $LEAKLAB_CASES).
CASES_DIR = Path(os.environ.get("LEAKLAB_CASES", Path(__file__).resolve().parent.parent / "go-cases"))


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What one variant should show: a verdict and a band for the growth rate (units per second)."""

    verdict: str
    rate: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Family:
    """One leak family: its programs and its expectations."""

    name: str
    dir: Path
    title: str
    signal: str
    work: str
    work_rate: float
    expect: dict[str, Expectation]

    @property
    def variants(self) -> list[str]:
        return list(self.expect)

    def package(self, variant: str) -> Path:
        return self.dir / variant


def _load(folder: Path) -> Family:
    spec = tomllib.loads((folder / "expect.toml").read_text())
    expect = {
        variant: Expectation(verdict=v["verdict"], rate=tuple(v["rate"]))
        for variant, v in spec["variants"].items()
    }
    return Family(name=folder.name.split("-", 1)[-1], dir=folder, title=spec["title"], signal=spec["signal"],
                  work=spec.get("work", ""), work_rate=float(spec.get("work_rate", 0)), expect=expect)


def families(cases_dir: Path = CASES_DIR) -> list[Family]:
    """All families, in the order of their folder numbers."""
    return [_load(d) for d in sorted(cases_dir.iterdir()) if (d / "expect.toml").is_file()]


def get_family(name: str, cases_dir: Path = CASES_DIR) -> Family:
    """The family called ``name`` (e.g. ``"syncmap"``)."""
    known = families(cases_dir)
    for family in known:
        if family.name == name:
            return family
    names = ", ".join(f.name for f in known) or "none"
    raise UnknownFamily(f"no family called {name!r}; the lab has: {names} (see `leaklab list`)")
