"""The "Across Go versions" page from synthetic runs (no Go run): every family and every release shown, the
missing ones named by its regression check; and what one map entry costs, measured on the installed Go."""

import json

import numpy as np
import pytest

from leaklab import versions
from leaklab.cases import families
from leaklab.matrix import VersionRun
from leaklab.plot import COLOURS

GOS = {"1.22": "go1.22.10", "1.24": "go1.24.11", "1.26": "go1.26.8", "1.27": "go1.27.3"}


def _samples(run_dir, slope):
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, t in enumerate(np.arange(1, 61) * 0.05):
        y = 2**20 + slope * t
        lines.append(json.dumps({"t": t, "heap_bytes": y, "live_bytes": y, "goroutines": 5 + slope * t / 2**20,
                                 "outside_go_bytes": y, "gc_cycles": i // 5}))
    (run_dir / "samples.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "meta.json").write_text(json.dumps({"goexperiment": "goroutineleakprofile" if "1.26" in str(run_dir)
                                                   else ""}))


def _row(tmp_path, fam, variant, release, **kw):
    leaky = variant == "leaky"
    run_dir = tmp_path / f"{fam.name}-{variant}" / GOS[release]
    _samples(run_dir, 2**20 if leaky else 0.0)
    row = VersionRun(family=fam.name, variant=variant, go=release, go_version=GOS[release], go_directive=release,
                     status="measured", expected="leak" if leaky else "flat", verdict="leak" if leaky else "flat",
                     signal=fam.signal, rate_per_s=2**20 if leaky else 0.0, unit="B", per_request=1024.0,
                     run_dir=str(run_dir), note="synthetic")
    if fam.name == "goroutine":
        available = release in ("1.26", "1.27")
        row.leak_profile = {"available": available, "total": 100 if leaky else 0,
                            "sites": [{"site": "main.work main.go:25"}] if leaky and available else []}
    for k, v in kw.items():
        setattr(row, k, v)
    return row


def _page(tmp_path, releases=("1.22", "1.24", "1.26", "1.27"), drop=()):
    rows = [_row(tmp_path, fam, variant, r) for r in releases for fam in families() for variant in ("leaky", "fixed")
            if (fam.name, variant, r) not in drop]
    entries = [{"go_version": GOS[r], "entries": 100_000, "bytes_per_entry": {"sync.Map": 80.0, "map[int]int": 27.7}}
               for r in releases]
    checks = [{"check": "go build -asan", "family": "cgo", "variant": "leaky", "go_version": GOS[r],
               "available": r >= "1.25", "flagged": r >= "1.25", "found": "1,024 bytes leaked in 1 allocations"}
              for r in releases]
    page = versions.VersionsPage(releases=list(releases), rows=rows, checks=checks, entries=entries, parameters={},
                                 recorded="2026-12-01T00:00:00+00:00", out=str(tmp_path))
    (tmp_path / versions.PAGE).mkdir(exist_ok=True)
    doc = {**{k: getattr(page, k) for k in ("releases", "checks", "entries", "parameters", "recorded", "out")},
           "rows": [r.as_dict() for r in rows]}
    (tmp_path / versions.PAGE / "measured.json").write_text(json.dumps(doc))
    return page


def test_the_table_has_a_row_per_family_and_variant_and_a_column_per_release(tmp_path):
    table = versions.verdicts(_page(tmp_path))
    assert table.head == ["family", "variant", *GOS.values()]
    assert [row[:2] for row in table.rows] == [[f.name, v] for f in families() for v in ("leaky", "fixed")]
    assert all(cell.startswith(("leak +", "flat +")) for row in table.rows for cell in row[2:])


def test_the_picture_draws_every_family_on_every_release_in_the_labs_colours(tmp_path):
    fig = versions.plot(_page(tmp_path))
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == len(families())
    for ax, fam in zip(panels, families(), strict=True):
        assert ax.get_title(loc="left").startswith(fam.name) and "of 4 releases" in ax.get_title(loc="left")
        assert len(ax.lines) == 2 * len(GOS), f"{fam.name}: {len(ax.lines)} curves"
        assert {line.get_color() for line in ax.lines} == {COLOURS["leaky"], COLOURS["fixed"]}
        assert len({line.get_linestyle() for line in ax.lines}) == len(GOS)  # one line style per release
        assert "[s]" in ax.get_xlabel() and "[" in ax.get_ylabel()
    key = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert all(f"built by {g}" in key for g in GOS.values()) and "leaky program" in key
    assert all(g in fig.get_suptitle() for g in GOS.values())


def test_a_release_or_a_family_missing_from_the_page_is_a_problem(tmp_path):
    _page(tmp_path)
    assert versions.problems(tmp_path) == []
    _page(tmp_path, drop={("timer", "fixed", "1.24")})
    assert versions.problems(tmp_path) == ["timer/fixed: nothing recorded on Go 1.24"]
    assert versions.problems(tmp_path / "nowhere") == [
        f"versions: no measured.json in {tmp_path / 'nowhere' / 'versions'} (did notebooks/versions.ipynb run?)"]


def test_a_wrong_verdict_is_a_problem_but_an_unsupported_variant_with_its_eras_fix_is_not(tmp_path):
    page = _page(tmp_path, releases=("1.22",))
    fin = next(f for f in families() if f.name == "finalizer")
    page.rows = [r for r in page.rows if (r.family, r.variant) != ("finalizer", "fixed")] + [
        _row(tmp_path / "x", fin, "fixed", "1.22", status="unsupported", verdict="unsupported",
             expected="unsupported", note="does not build: ./main.go:42:10: undefined: runtime.AddCleanup"),
        _row(tmp_path / "y", fin, "handle", "1.22", instead_of="fixed", expected="flat", verdict="flat")]
    text = versions.verdicts(page).rows[[r[:2] for r in versions.verdicts(page).rows].index(["finalizer", "fixed"])]
    assert "unsupported: ./main.go:42:10: undefined: runtime.AddCleanup" in text[2] and "handle: flat" in text[2]
    page.rows[0].verdict = "flat"
    (tmp_path / versions.PAGE / "measured.json").write_text(json.dumps({
        **{k: getattr(page, k) for k in ("releases", "checks", "entries", "parameters", "recorded", "out")},
        "rows": [r.as_dict() for r in page.rows]}))
    (problem,) = versions.problems(tmp_path)
    assert problem.startswith("syncmap/leaky on go1.22.10: expected 'leak', measured 'flat'")


def test_costs_leak_profiles_and_checks_have_a_column_per_release(tmp_path):
    page = _page(tmp_path)
    costs = versions.costs(page)
    assert costs.head[2:] == list(GOS.values())
    assert [r[0] for r in costs.rows][:len(families())] == [f"{f.name}: one request" for f in families()]
    assert costs.rows[-2][2:] == ["80.0 B"] * 4 and costs.rows[-1][2:] == ["27.7 B"] * 4
    profiles = versions.leak_profiles(page).rows
    assert [r[0] for r in profiles] == [g for g in GOS.values() for _ in ("leaky", "fixed")]
    assert profiles[0][3] == "not available on this toolchain"
    assert profiles[4][2].startswith("GOEXPERIMENT=goroutineleakprofile") and profiles[6][2] == "by default"
    assert profiles[4][3] == "100 leaked goroutines at main.work main.go:25"
    checks = versions.checks(page)
    assert checks.rows[0][2:] == ["not in this release", "not in this release"] + ["1,024 bytes leaked in 1 allocations"] * 2
    assert "<th>go1.27.3</th>" in checks._repr_html_()


@pytest.mark.slow
def test_a_sync_map_entry_and_a_map_entry_cost_what_the_installed_go_says(go):
    found = versions.entry_bytes(go)
    assert found["go_version"] == go.version and found["entries"] == 100_000
    costs = found["bytes_per_entry"]
    assert 8 < costs["map[int]int"] < costs["sync.Map"] < 400, costs  # a boxed key and value cost more than inline
