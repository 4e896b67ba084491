"""The leak families of go-cases/ and what each one is expected to show.

Each family folder ``go-cases/NN-name/`` holds a ``leaky`` and a ``fixed`` main package, the programs of the
article's claims about it (``claims/<claim id>/{leaky,fixed}``), the programs of tool demos (``testdata/``) and an
``expect.toml`` that declares the family's facts: its signal, its work counter and rate, the trace each
request's work leaves (``work_evidence``, what ``leaklab check`` asks of a fix), its place in the workshop
(``workshop``: minutes and topic) and, per variant, the expected verdict and growth rate. The CLI, the
notebooks, the checker, the workshop and the tests all read them from there.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path

from .errors import BadParameter, UnknownFamily
from .paths import content

__all__ = ["cases_dir", "Expectation", "Family", "WorkEvidence", "expectation", "families", "get_family"]

def cases_dir() -> Path:
    """The Go module with the lab's programs: ``go-cases/`` of the checkout (override with $LEAKLAB_CASES)."""
    return Path(os.environ["LEAKLAB_CASES"]) if os.environ.get("LEAKLAB_CASES") else content("go-cases")


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What one variant should show: a verdict and a band for the growth rate (units per second)."""

    verdict: str
    rate: tuple[float, float]
    #: Overrides by Go version, GODEBUG or go directive (``[[variants.X.when]]``); see :func:`expectation`.
    when: tuple[dict, ...] = ()
    #: The variant's folder inside the family's, when it is not the variant's name (a claim's program:
    #: ``claims/<claim id>/leaky``).
    path: str = ""


@dataclasses.dataclass(frozen=True)
class WorkEvidence:
    """What one request of a family's program must add to a probe column, whatever the fix."""

    column: str  # a column of samples.jsonl (see probe.go)
    per_request: float  # the least a request must add: half of what the leaky program's request does
    unit: str
    does: str  # what a request does, in the learner's words


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
    #: The trace each request's work leaves (``leaklab check``); None for a folder that declares none.
    evidence: WorkEvidence | None = None
    #: The family's slot in the workshop: (minutes, topic); None outside the workshop.
    workshop: tuple[int, str] | None = None

    @property
    def variants(self) -> list[str]:
        return list(self.expect)

    def package(self, variant: str) -> Path:
        """The folder of ``variant``'s main package: ``<family>/<variant>``, or the ``path`` expect.toml gives."""
        declared = self.expect.get(variant)
        return self.dir / (declared.path if declared and declared.path else variant)


def _load(folder: Path) -> Family:
    spec = tomllib.loads((folder / "expect.toml").read_text())
    expect = {
        variant: Expectation(verdict=v["verdict"], rate=tuple(v["rate"]), when=tuple(v.get("when", ())),
                             path=v.get("path", ""))
        for variant, v in spec["variants"].items()
    }
    evidence = WorkEvidence(**spec["work_evidence"]) if "work_evidence" in spec else None
    slot = spec.get("workshop")
    return Family(name=folder.name.split("-", 1)[-1], dir=folder, title=spec["title"], signal=spec["signal"],
                  work=spec.get("work", ""), work_rate=float(spec.get("work_rate", 0)), expect=expect,
                  evidence=evidence, workshop=(int(slot["minutes"]), slot["topic"]) if slot else None)


def families(cases: Path | None = None) -> list[Family]:
    """All families, in the order of their folder numbers.

    A folder whose expect.toml says ``family = false`` (06-service, measured with ``--load``) is not one.
    """
    return [_load(d) for d in sorted((cases or cases_dir()).iterdir()) if (d / "expect.toml").is_file()
            and tomllib.loads((d / "expect.toml").read_text()).get("family", True)]


def get_family(name: str, cases: Path | None = None) -> Family:
    """The family called ``name`` (e.g. ``"syncmap"``)."""
    known = families(cases)
    for family in known:
        if family.name == name:
            return family
    names = ", ".join(f.name for f in known) or "none"
    raise UnknownFamily(f"no family called {name!r}; the lab has: {names} (see `leaklab list`)", name=name)


def _version_matches(condition: str, version: str) -> bool:
    """``"<1.23"`` against ``"go1.22.10"`` or ``"1.22"``; a bare ``"1.22"`` means that release."""
    m = re.fullmatch(r"\s*(<=|>=|<|>|==)?\s*(\d+)\.(\d+)\s*", condition)
    v = re.match(r"(?:go)?(\d+)\.(\d+)", version)
    if not m or not v:
        raise BadParameter(f"cannot compare Go version {version!r} with {condition!r} (write e.g. \"<1.23\")")
    want, have = (int(m.group(2)), int(m.group(3))), (int(v.group(1)), int(v.group(2)))
    return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}.get(m.group(1), have == want)


def expectation(family: Family, variant: str, go_version: str, godebug: str = "",
                go_directive: str | None = None) -> Expectation:
    """What ``variant`` should show when built by ``go_version`` and run with ``godebug``.

    The first ``[[variants.<variant>.when]]`` table whose conditions all hold wins: ``go`` compares
    the toolchain's release, ``go_directive`` the go.mod directive it built with (the module's own,
    ``go 1.24``, when None), ``godebug`` must be one of the comma-separated settings.
    """
    base = family.expect[variant]
    directive = go_directive or "1.24"
    for rule in base.when:
        if (("go" not in rule or _version_matches(rule["go"], go_version))
                and ("go_directive" not in rule or _version_matches(rule["go_directive"], directive))
                and ("godebug" not in rule or rule["godebug"] in [s.strip() for s in godebug.split(",")])):
            return Expectation(verdict=rule.get("verdict", base.verdict), rate=tuple(rule.get("rate", base.rate)))
    return base
