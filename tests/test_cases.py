"""The families and their expectations, read from go-cases/*/expect.toml."""

import pytest

from leaklab import UnknownFamily, families, get_family
from leaklab.probe import SIGNALS


def test_five_families_in_order_each_with_both_variants():
    names = [f.name for f in families()]
    assert names == ["syncmap", "timer", "goroutine", "finalizer", "cgo"]
    for fam in families():
        assert fam.expect["leaky"].verdict == "leak"
        assert fam.expect["fixed"].verdict == "flat"
        assert (fam.package("leaky") / "main.go").is_file() and (fam.package("fixed") / "main.go").is_file()


def test_expectations_are_consistent():
    for fam in families():
        assert fam.signal in SIGNALS, fam.name
        assert fam.work and fam.work_rate > 0, fam.name
        for variant, exp in fam.expect.items():
            lo, hi = exp.rate
            assert lo < hi, (fam.name, variant)
            if exp.verdict == "leak":
                assert lo >= SIGNALS[fam.signal].min_rate, (fam.name, variant)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(UnknownFamily, match="syncmap, timer, goroutine, finalizer, cgo"):
        get_family("sync-map")
