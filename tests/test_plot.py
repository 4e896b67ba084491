import json

import numpy as np
import pytest
from matplotlib.colors import to_hex

from leaklab import plot
from leaklab.errors import RunDataMissing
from leaklab.lab import Result

MiB = 2**20


def _run(tmp_path, family, variant, signal="heap_bytes", slope=10 * MiB, verdict="leak", gc_every=10):
    """A run folder with samples a probe could have written: heap grows at ``slope`` B/s, RSS above it."""
    run_dir = tmp_path / family / variant
    run_dir.mkdir(parents=True)
    t = np.arange(1, 61) * 0.05
    lines = [json.dumps({"type": "start", "go": "go1.26.8"})]
    for i, ti in enumerate(t):
        heap = 1 * MiB + slope * ti
        lines.append(json.dumps({"t": ti, "heap_bytes": heap, "live_bytes": heap, "rss_bytes": heap + 8 * MiB,
                                 "go_total_bytes": heap + 4 * MiB, "go_released_bytes": 0, "goroutines": 5 + i,
                                 "gc_cycles": i // gc_every}))
    (run_dir / "samples.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "meta.json").write_text(json.dumps({"parameters": {"warmup_s": 1.0}}))
    return Result(family=family, variant=variant, verdict=verdict, signal=signal, rate_per_s=slope, unit="B",
                  reason="synthetic", duration_s=3.0, samples=len(t), go_version="go1.26.8", capped=False,
                  run_dir=str(run_dir))


@pytest.fixture
def pair(tmp_path):
    return [_run(tmp_path, "demo", "leaky"), _run(tmp_path, "demo", "fixed", slope=0.0, verdict="flat")]


def test_family_figure_has_signal_memory_and_goroutine_panels(pair):
    fig = plot.plot_family(pair)
    top, mid, low = fig.axes
    assert "MiB" in top.get_ylabel() and "MiB" in mid.get_ylabel() and "count" in low.get_ylabel()
    assert "[s]" in low.get_xlabel() and "demo" in fig.get_suptitle()
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "leaky: +10.00 MiB/s (leak)" in legend and "fixed: +0.00 MiB/s (flat)" in legend


def test_each_variant_has_the_same_colour_in_every_panel(pair):
    fig = plot.plot_family(pair)
    for ax in fig.axes:
        for line in ax.get_lines():
            variant = line.get_label().split(":")[0]
            if variant in plot.COLOURS:
                assert to_hex(line.get_color()).lower() == plot.COLOURS[variant].lower(), line.get_label()
    assert plot.COLOURS["leaky"] != plot.COLOURS["fixed"]


def test_gc_cycles_are_marked_on_the_heap_curve(tmp_path):
    leaky = _run(tmp_path, "demo", "leaky", gc_every=7)
    mid = plot.plot_family([leaky]).axes[1]
    (marks,) = [line for line in mid.get_lines() if "GC cycle" in line.get_label()]
    x, y = marks.get_data()
    assert len(x) == 59 // 7  # one mark per increment of gc_cycles
    heap = next(line for line in mid.get_lines() if line.get_label() == "leaky: Go heap")
    hx, hy = heap.get_data()
    assert np.allclose(y, np.interp(x, hx, hy))


def test_heap_and_rss_are_drawn_together(pair):
    labels = [line.get_label() for line in plot.plot_family(pair).axes[1].get_lines()]
    assert {"leaky: Go heap", "leaky: process RSS", "fixed: Go heap", "fixed: process RSS"} <= set(labels)


def test_overview_has_one_panel_per_family_and_a_key(tmp_path):
    by_family = {f"fam{i}": [_run(tmp_path, f"fam{i}", "leaky"), _run(tmp_path, f"fam{i}", "fixed", slope=0.0)]
                 for i in range(5)}
    fig = plot.plot_overview(by_family)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split("\n")[0] for t in titles] == list(by_family)
    assert len(fig.axes) == 6 and fig.axes[5].get_legend() is not None
    assert plot.overview_png(by_family) == tmp_path / "overview.png"


def test_save_png_writes_a_png_next_to_the_run_data(pair):
    path = plot.save_png(plot.plot_family(pair), plot.family_png(pair))
    assert path.parent == plot.family_png(pair).parent and path.name == "demo.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_missing_samples_say_how_to_get_them(pair):
    (plot.Path(pair[0].run_dir) / "samples.jsonl").unlink()
    with pytest.raises(RunDataMissing, match="leaklab run demo"):
        plot.plot_family(pair)


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # places the texts
    return canvas.get_renderer()


def test_the_rate_at_the_end_of_each_curve_is_inside_the_frame(pair):
    fig = plot.plot_family(pair)
    renderer, top = _drawn(fig), fig.axes[0]
    frame = top.get_window_extent(renderer)
    labels = [t for t in top.texts if t.get_text().endswith("MiB/s")]
    assert len(labels) == 2
    for text in labels:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text


def test_the_leaky_curve_is_drawn_above_the_fixed_one(pair):
    fig = plot.plot_family(list(reversed(pair)))  # fixed first: drawn first, it would still come out below
    for ax in fig.axes:
        z = {}
        for line in ax.get_lines():
            variant = line.get_label().split(":")[0]
            z.setdefault(variant, line.get_zorder())
        if {"leaky", "fixed"} <= z.keys():
            assert z["leaky"] > z["fixed"], ax.get_title()


def test_the_goroutine_rate_on_a_curve_is_a_whole_number(tmp_path):
    runs = [_run(tmp_path, "g", "leaky", signal="goroutines", slope=1234.4),
            _run(tmp_path, "g", "fixed", signal="goroutines", slope=-0.51, verdict="flat")]
    texts = [t.get_text() for t in plot.plot_family(runs).axes[0].texts]
    assert "+1,234 goroutines/s" in texts and "-1 goroutines/s" in texts
