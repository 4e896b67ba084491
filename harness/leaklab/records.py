"""The record each notebook leaves of what it measured, and its check against ``expect.toml``.

A family notebook writes ``OUT/<family>/measured.json`` (:func:`record`), the overview ``OUT/overview.json``;
:func:`check_records` compares every record with the families' ``expect.toml``, the same expectations the CLI
uses (:func:`check_record` for one).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import _json
from .cases import Family, expectation, families
from .probe import SIGNALS
from .runfolder import RunFolder

if TYPE_CHECKING:
    from .lab import Result

__all__ = ["DEFAULT_VARIANTS", "OVERVIEW_RECORD", "RECORD", "check_record", "check_records", "record", "record_of"]

#: The file each family notebook writes in ``OUT/<family>/``, and the overview's in ``OUT/``.
RECORD = "measured.json"
OVERVIEW_RECORD = "overview.json"
#: The variants a family notebook runs (``run_and_record``'s); other declared variants are run on demand.
DEFAULT_VARIANTS = ("leaky", "fixed")


def record_of(results: Sequence[Result]) -> dict:
    first = results[0]
    meta = RunFolder(first.run_dir).read_meta()
    return {
        "family": first.family,
        "go_version": first.go_version,
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": meta.get("parameters", {}),
        "godebug": meta.get("godebug", ""),
        "goexperiment": meta.get("goexperiment", ""),
        "variants": {r.variant: {
            "verdict": r.verdict, "signal": r.signal, "rate_per_s": r.rate_per_s, "unit": r.unit,
            "capped": r.capped, "reason": r.reason, "run_dir": r.run_dir,
            "signals": {n: {k: v[k] for k in ("verdict", "rate_per_s", "start", "end", "unit")}
                        for n, v in r.signals.items()},
        } for r in results},
    }


def record(results: Sequence[Result]) -> Path:
    """Write what a family's runs measured (verdicts, rates, start and end per signal) beside its run folders."""
    path = Path(results[0].run_dir).parent / RECORD
    path.write_text(_json.dumps(record_of(results), indent=2))
    return path


def _band(value: float, signal: str) -> str:
    return SIGNALS[signal].rate(value)


def check_record(rec: dict, family: Family) -> list[str]:
    """Every way ``rec`` differs from ``family``'s expectations, one sentence each (empty: all as expected).

    The leaky and fixed variants must be there; any other variant recorded is checked too. The
    expectation is the one ``expect.toml`` declares for the Go version and GODEBUG the runs used.
    """
    problems = []
    recorded = rec.get("variants", {})
    for variant in dict.fromkeys([*DEFAULT_VARIANTS, *recorded]):
        if variant not in family.expect:
            problems.append(f"{family.name}/{variant}: recorded, but expect.toml declares no such variant")
            continue
        want = expectation(family, variant, rec.get("go_version", ""), rec.get("godebug", ""))
        got = recorded.get(variant)
        where = f"{family.name}/{variant}"
        if got is None:
            problems.append(f"{where}: nothing recorded for this variant (expected verdict {want.verdict!r})")
            continue
        sig = got["signals"].get(family.signal)
        if got["signal"] != family.signal or sig is None:
            problems.append(f"{where}: judged on signal {got['signal']!r}, expect.toml says {family.signal!r}")
            continue
        if got["verdict"] != want.verdict:
            problems.append(f"{where} {family.signal}: expected verdict {want.verdict!r}, measured "
                            f"{got['verdict']!r} ({got['reason']})")
        lo, hi = want.rate
        rate = float("nan") if got["rate_per_s"] is None else float(got["rate_per_s"])
        if got["capped"] and want.verdict == "leak":
            continue  # the memory cap cut the run short: the verdict is what counts, the rate is truncated
        if not math.isfinite(rate) or not lo <= rate <= hi:
            measured = (f"{rate:g} {sig['unit']}/s ({_band(rate, family.signal)})" if math.isfinite(rate)
                        else "no rate (the run could not measure one)")
            problems.append(f"{where} {family.signal}: expected rate in [{lo:g}, {hi:g}] {sig['unit']}/s "
                            f"({_band(lo, family.signal)} .. {_band(hi, family.signal)}), measured {measured}")
    return problems


def check_records(out: str | Path, cases: Path | None = None) -> list[str]:
    """Check every record the notebooks wrote in ``out`` against ``expect.toml``; returns the differences."""
    out = Path(out)
    problems = []
    overview_path = out / OVERVIEW_RECORD
    from_overview = json.loads(overview_path.read_text()) if overview_path.is_file() else None
    for fam in families(cases):
        path = out / fam.name / RECORD
        if not path.is_file():
            problems.append(f"{fam.name}: no {RECORD} in {path.parent} (did its notebook run?)")
            continue
        problems += check_record(json.loads(path.read_text()), fam)
        if from_overview is not None and fam.name not in from_overview:
            problems.append(f"{fam.name}: missing from the overview's {overview_path}")
    if from_overview is None:
        problems.append(f"no {OVERVIEW_RECORD} in {out} (did 00-overview run?)")
    return problems
