"""What the workshop deck shows: the agenda (the same minutes as labs/README.md) and the workshop's results."""

import re

import pytest

from leaklab import deck, labs_pages
from leaklab.cases import families
from leaklab.errors import LeakLabError


def test_the_agenda_gives_start_times_and_the_readme_the_same_minutes():
    slots = deck.agenda("13:30").slots()
    assert slots[0][0] == "13:30" and slots[1][0] == "13:40"
    readme = (labs_pages.labs_dir() / "README.md").read_text()
    for minutes, topic, _ in deck.plan():
        if topic in {f.name for f in families()}:
            assert re.search(rf"\|\s*{minutes} min\s*\|.*{topic}", readme), f"labs/README.md: {topic} {minutes} min"


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(LeakLabError, match="leaklab workshop"):
        deck.results_by_family(tmp_path)
