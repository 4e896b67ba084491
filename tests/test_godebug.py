"""The GODEBUG matrix: the classic timer case judged per Go version, with and without asynctimerchan=1, a
GODEBUG setting a toolchain has removed reported as unsupported, one it predates as not applicable."""

import json

import pytest

from leaklab.cases import get_family
from leaklab.godebug import Cell, load_matrix, matrix_png, run_matrix
from leaklab.run import Limits

LIMITS = Limits(duration_s=10, warmup_s=1)  # runs stop once certain; an old Go collects less often


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    out = tmp_path_factory.mktemp("matrix")
    return out, run_matrix("timer", "classic", ["1.22", "1.27"], limits=LIMITS, out=out)


def _cell(cells, prefix, godebug):
    return next(c for c in cells if c.go_version.startswith(prefix) and c.godebug == godebug)


@pytest.mark.slow
def test_classic_timer_leaks_on_go_1_22(cells):
    cell = _cell(cells[1], "go1.22.", "")
    assert (cell.status, cell.verdict, cell.expected, cell.go_directive) == ("measured", "leak", "leak", "1.22")
    meta = json.loads((cells[0] / "matrix-timer-classic" / cell.run_dir.rsplit("/", 1)[-1] / "meta.json").read_text())
    assert meta["go_version"].startswith("go1.22.") and meta["go_directive"] == "1.22"


@pytest.mark.slow
def test_classic_timer_is_flat_on_go_1_27(cells):
    cell = _cell(cells[1], "go1.27.", "")
    assert (cell.verdict, cell.expected) == ("flat", "flat")


@pytest.mark.slow
def test_a_removed_godebug_is_unsupported_not_a_crash(cells):
    cell = _cell(cells[1], "go1.27.", "asynctimerchan=1")
    assert cell.status == cell.verdict == cell.expected == "unsupported"
    assert "removed GODEBUG" in cell.note and cell.as_expected


@pytest.mark.slow
def test_a_godebug_the_toolchain_predates_is_not_applicable(cells):
    cell = _cell(cells[1], "go1.22.", "asynctimerchan=1")
    assert cell.status == "not applicable" and not cell.run_dir


@pytest.mark.slow
def test_matrix_json_and_plot(cells, tmp_path):
    header, loaded = load_matrix(cells[0] / "matrix-timer-classic")
    assert header["family"] == "timer" and [c.label for c in loaded] == [c.label for c in cells[1]]
    png = matrix_png(cells[1], tmp_path / "m.png")
    assert png.stat().st_size > 10_000


def test_cell_as_expected_compares_verdict_with_expectation():
    base = dict(go="1.26", go_version="go1.26.8", go_directive="1.26", godebug="", status="measured")
    assert Cell(**base, expected="flat", verdict="flat").as_expected
    assert not Cell(**base, expected="leak", verdict="flat").as_expected


def test_expectations_are_keyed_by_go_version_and_godebug():
    from leaklab.cases import expectation
    fam = get_family("timer")
    assert expectation(fam, "classic", "go1.22.10").verdict == "leak"
    assert expectation(fam, "classic", "go1.26.8").verdict == "flat"
    assert expectation(fam, "classic", "go1.26.8", "asynctimerchan=1").verdict == "leak"
    assert expectation(fam, "classic", "go1.26.8", "", "1.22").verdict == "leak"
    assert expectation(fam, "classic", "go1.27.3", "", "1.22").verdict == "flat"
    assert expectation(fam, "classic", "go1.27.3", "asynctimerchan=1").verdict == "unsupported"
    assert expectation(fam, "leaky", "go1.22.10") == fam.expect["leaky"]


def test_extra_variants_do_not_change_the_default_run():
    fam = get_family("timer")
    assert "classic" in fam.variants and fam.expect["classic"].verdict == "flat"


def test_matrix_cli_rejects_an_unknown_variant(leaklab):
    status, _, err = leaklab("matrix", "timer", "--variant", "nope", "--go", "1.26")
    assert status == 2 and "no variant 'nope'" in err



@pytest.mark.slow
def test_matrix_json_is_strict_a_cell_without_a_rate_is_null_and_read_back_as_nan(cells):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    saved = json.loads((cells[0] / "matrix-timer-classic" / "matrix.json").read_text(), parse_constant=refuse)
    unsupported = next(c for c in saved["cells"] if c["status"] == "unsupported")
    assert unsupported["rate_per_s"] is None
    _, loaded = load_matrix(cells[0] / "matrix-timer-classic")
    back = next(c for c in loaded if c.status == "unsupported")
    assert back.rate_per_s != back.rate_per_s  # NaN again: "no rate" to the table and the plot
