"""How to read a verdict: the picture shows what the verdict reads, and only for a family judged on the Go heap."""

import pytest

from leaklab import reading
from leaklab.errors import LeakLabError

from .test_plot import _run


def test_the_reading_picture_shows_what_a_verdict_reads(tmp_path):
    leaky = _run(tmp_path, "demo", "leaky", gc_every=4)
    fixed = _run(tmp_path, "demo", "fixed", slope=0.0, verdict="flat", gc_every=4)
    fig = reading.plot_reading(leaky, fixed)
    left, mid, right = fig.axes
    assert left.get_title(loc="left").startswith("leak") and mid.get_title(loc="left").startswith("flat")
    assert right.get_title(loc="left").startswith("not yet")
    labels = {line.get_label() for line in left.get_lines()}
    assert "live heap measured by each GC" in labels and any(label.startswith("growth at the threshold")
                                                             for label in labels)
    assert "inconclusive" in " ".join(t.get_text() for t in right.texts)
    points = next(line for line in left.get_lines() if line.get_label() == "live heap measured by each GC")
    assert len(points.get_xdata()) == 59 // 4  # one point per collection
    assert right.get_xlim()[1] < left.get_xlim()[1]  # the same run, before the lab could tell
    png = reading.reading_figure({"demo": [leaky, fixed]}, "demo")._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_reading_picture_needs_a_heap_family(tmp_path):
    runs = [_run(tmp_path, "g", "leaky", signal="goroutines"), _run(tmp_path, "g", "fixed", signal="goroutines")]
    with pytest.raises(LeakLabError, match="Go heap"):
        reading.plot_reading(*runs)
