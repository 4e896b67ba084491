"""The labs pages: the claims they quote are the ones the lab measured, filled in by make labs-claims."""

import re

import pytest

from leaklab import labs_pages
from leaklab.cases import families
from leaklab.errors import LeakLabError

# One page per family; 06-your-program.md (leaklab run --program) belongs to no family and quotes no claims.
PAGES = sorted(p for p in labs_pages.labs_dir().glob("[0-9][0-9]-*.md") if p.stem != "06-your-program")


def test_the_claims_on_the_pages_are_the_ones_the_lab_measured():
    made = labs_pages.pages_with_claims()
    assert set(PAGES) <= set(made) and len(PAGES) == len(families())
    for page, text in made.items():
        assert page.read_text() == text, f"{page.name}: run `make labs-claims` and commit it (docs/claims.json changed)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_page_quotes_only_what_this_lab_measures(page):
    text = page.read_text()
    assert re.search(r"<!-- claims: [\w -]+ -->\n\| the article claims", text), "a generated claims table"
    assert "FINDINGS" not in text and "../shared/" not in text
    caption = re.search(r"^\*Measured by the lab with (go1\.\d+\.\d+)", text, re.M)
    assert caption, "the measured picture says which Go made it"
    assert caption[1] in (labs_pages.labs_dir() / "img" / "captions.md").read_text()


def test_a_claim_the_lab_did_not_measure_is_a_clear_error(tmp_path):
    page = tmp_path / "01-x.md"
    page.write_text("<!-- claims: no-such-claim -->\n<!-- /claims -->\n")
    with pytest.raises(LeakLabError, match="leaklab claims"):
        labs_pages.pages_with_claims(pages=[page])


def test_updating_fills_the_block_and_keeps_the_prose(tmp_path):
    from leaklab.claims import load_findings

    finding = load_findings()[0]
    page = tmp_path / "01-x.md"
    page.write_text(f"before\n<!-- claims: {finding.claim_id} -->\nstale row\n<!-- /claims -->\nafter\n")
    assert labs_pages.update_claims(pages=[page]) == [page]
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("<!-- /claims -->\nafter\n") and "stale row" not in text
    assert finding.measured.replace("|", "\\|") in text and finding.go_version in text
    assert labs_pages.update_claims(pages=[page]) == []
