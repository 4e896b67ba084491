import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leaklab import report
from leaklab.cases import families
from leaklab.cli.options import FAMILY_WARMUP_S
from leaklab.errors import BadParameter
from leaklab.notebook_exec import notebook_paths
from leaklab.plot import COLOURS
from leaklab.run import Limits

from .conftest import REGRESSION_GO

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: One page per notebook make lab runs: the overview, the families, the example service.
PAGES = [report.page_name(p) for p in notebook_paths()]


def test_page_names():
    assert [report.page_name(p) for p in notebook_paths()][-1] == "index.html"
    assert report.page_name(Path("03-goroutine.ipynb")) == "goroutine.html"
    assert report.page_name(Path(report.VERSIONS_NOTEBOOK)) == "versions.html"


def test_the_report_has_a_page_per_family_one_for_the_service_and_the_overview():
    assert sorted(PAGES) == sorted(["index.html", "service.html", *(f"{f.name}.html" for f in families())])
    assert "versions.html" not in PAGES  # only with --versions: it runs every family on four toolchains


def test_render_needs_the_overview(tmp_path):
    with pytest.raises(report.LeakLabError, match="00-overview"):
        report.render([Path("01-syncmap.ipynb")], tmp_path, tmp_path)


@pytest.fixture(scope="module")
def site(executed_lab, tmp_path_factory):
    out, executed = executed_lab
    folder = tmp_path_factory.mktemp("reports")
    index = report.render(executed, folder, out)
    return index.parent


@pytest.mark.slow
def test_a_page_per_notebook_with_a_nav_to_each_other(site):
    assert sorted(p.name for p in site.glob("*.html")) == sorted(PAGES)
    for page in PAGES:
        html = (site / page).read_text()
        (nav,) = re.findall(r'<nav[^>]*class="leaklab".*?</nav>', html, re.S)
        assert set(re.findall(r'href="([^"]+)"', nav)) == set(PAGES)
        (current,) = re.findall(r'<a [^>]*class="current"[^>]*>', nav)
        assert f'href="{page}"' in current


@pytest.mark.slow
def test_pages_load_nothing_from_the_network_and_hide_the_code(site):
    for page in PAGES:
        html = (site / page).read_text()
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html), page
        assert "notebooks.run_and_record" not in html and "# Parameters" not in html, page
        assert "Measured with go1." in html, page


@pytest.mark.slow
def test_every_page_embeds_a_nonempty_plot(site):
    for page in PAGES:
        images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', (site / page).read_text())
        assert len(images) == 1, page
        png = base64.b64decode(images[0])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, page


def _chromium(*args, profile):
    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    assert exe, "headless Chromium is needed: apt-get install chromium (.ci/run does it)"
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_chromium_loads_every_page_with_its_images(site, page, tmp_path):
    dom = _chromium("--dump-dom", (site / page).as_uri(), profile=tmp_path / "profile").stdout
    assert re.search(r'<nav[^>]*class="leaklab"', dom) and "</footer>" in dom, page
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=]{20000,}"', dom)) == 1, page


@pytest.mark.slow
def test_chromium_screenshot_shows_both_curves(site, tmp_path_factory):
    shots = tmp_path_factory.getbasetemp() / "screenshots"
    shots.mkdir(exist_ok=True)
    for page in ("index.html", "cgo.html"):
        shot = shots / page.replace(".html", ".png")
        _chromium(f"--screenshot={shot}", "--window-size=1280,2000", (site / page).as_uri(),
                  profile=tmp_path_factory.mktemp("profile"))
        pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
        for variant, colour in COLOURS.items():
            rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
            assert (np.abs(pixels - rgb).sum(axis=1) < 40).sum() > 300, f"{page}: no {variant} curve on screen"


@pytest.mark.slow
def test_leaklab_report_renders_prints_the_verdicts_and_the_path_last(executed_lab, leaklab, monkeypatch, tmp_path):
    out, executed = executed_lab
    calls = []  # the notebooks were executed once for the session; everything after that runs for real
    monkeypatch.setattr(report, "execute_all", lambda *a, **kw: calls.append((a, kw)) or executed)
    status, text, err = leaklab("report", "--out", out, "--report", tmp_path / "site", "--duration", 3)
    assert status == 0, err
    kw = calls[0][1]
    assert (kw["duration"], kw["interval"], kw["warmup"], kw["timeout"]) == (3.0, 0.05, FAMILY_WARMUP_S, 300.0)
    assert sorted(p.name for p in (tmp_path / "site").glob("*.html")) == sorted(PAGES)
    assert text.rstrip().splitlines()[-1] == f"report: {(tmp_path / 'site' / 'index.html').resolve()}"
    assert all(f"{f.name}/{v} " in text for f in families() for v in ("leaky", "fixed")), text
    assert "differs from expect.toml" not in err


def test_leaklab_report_with_a_duration_no_longer_than_the_warmup_fails_at_once(leaklab, monkeypatch, tmp_path):
    def no_notebook_may_start(*args, **kwargs):
        raise AssertionError("notebooks executed with limits that check_limits rejects")
    monkeypatch.setattr(report, "execute_all", no_notebook_may_start)
    started = time.monotonic()
    status, _, err = leaklab("report", "--duration", 0.5, "--out", tmp_path / "runs", "--report", tmp_path / "reports")
    assert status == 2 and time.monotonic() - started < 5  # the families' warm-up is 0.5 s
    assert "--warmup (0.5 s) must be shorter than --duration (0.5 s)" in " ".join(err.split())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BadParameter, match="--warmup"):  # the library call checks too
        report.build_report(tmp_path / "runs", tmp_path / "reports", Limits(duration_s=1.0))


def test_leaklab_report_rejects_a_duration_that_is_not_a_positive_number(leaklab, capsys):
    with pytest.raises(SystemExit):
        leaklab("report", "--duration", "0")
    assert "positive number of seconds" in capsys.readouterr().err



# --- stopping `leaklab report` ----------------------------------------------------------------------------

def _report_cli(tmp_path, tagged, jobs):
    """`leaklab report` in a session of its own, as a terminal runs it; stderr to a file (a pipe could be held)."""
    with open(tmp_path / "stderr.txt", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "leaklab.cli", "report", "--out", str(tmp_path / "runs"),
                                 "--report", str(tmp_path / "report"), "--duration", "20", "--warmup", "15",
                                 "--jobs", str(jobs)],  # a 15 s warm-up: no run can decide, and end, before the signal
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=tagged.env,
                                start_new_session=True)


def _programs_sampling(out, cli, count, samples=10, within=120):
    """Wait until ``count`` programs are running and each has written ``samples`` samples; their run folders."""
    deadline = time.monotonic() + within
    while True:
        files = list(out.glob("*/.*.partial-*/samples.jsonl"))
        if len(files) >= count and all(f.read_text(errors="replace").count('"t"') >= samples for f in files):
            return [f.parent for f in files]
        assert cli.poll() is None, f"leaklab report ended with {cli.returncode} before its programs ran"
        assert time.monotonic() < deadline, f"{len(files)} of {count} programs started within {within} s"
        time.sleep(0.05)


def _kept(partial):
    """Whether a run seen running when the signal came is kept as ``<variant>.failed``, with its samples."""
    kept = partial.parent / f"{partial.name.split('.')[1]}.failed" / "samples.jsonl"
    return kept.is_file() and kept.read_text().count('"t"') >= 10


def _ended(cli, within):
    try:
        cli.wait(timeout=within)
    except subprocess.TimeoutExpired:
        cli.kill()
        cli.wait()
        pytest.fail(f"leaklab report was still running {within} s after the signal")


@pytest.mark.slow
# Each signal once, and one worker as well as two (the same handler serves every signal).
@pytest.mark.parametrize("signum, jobs", [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGHUP, 1)],
                         ids=["SIGINT-jobs2", "SIGTERM-jobs2", "SIGHUP-jobs1"])
def test_a_signal_stops_the_whole_report_and_leaves_nothing_behind(tmp_path, tagged, signum, jobs):
    out = tmp_path / "runs"
    cli = _report_cli(tmp_path, tagged, jobs)
    running = _programs_sampling(out, cli, count=jobs)
    started = time.monotonic()
    os.killpg(cli.pid, signum)  # what the terminal does (Ctrl-C, a closed window): the whole foreground group
    _ended(cli, within=60)
    stopped_s = time.monotonic() - started
    err = (tmp_path / "stderr.txt").read_text()
    assert cli.returncode == 128 + signum, err[-2000:]  # 130, 143, 129
    assert err.startswith("leaklab: interrupted") and "Traceback" not in err and "Error" not in err, err[-2000:]
    assert not tagged.left_behind(within=10), "a worker, kernel or program outlived leaklab report"
    for partial in running:  # what each interrupted run measured is kept, beside its last good run
        assert _kept(partial), partial
    assert not list(out.glob("*/.*.partial-*")), "an interrupted run was left half-written"
    assert not list(tagged.tmp.iterdir()), "a temporary folder of the lab's was left behind"
    assert not (tmp_path / "report" / "index.html").exists()
    assert stopped_s < 20, f"stopping took {stopped_s:.1f} s"


@pytest.mark.slow
def test_when_leaklab_report_is_killed_outright_its_workers_kernels_and_programs_stop_by_themselves(tmp_path, tagged):
    out = tmp_path / "runs"
    cli = _report_cli(tmp_path, tagged, jobs=2)
    running = _programs_sampling(out, cli, count=2)
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    started = time.monotonic()
    assert not tagged.left_behind(within=15), "a worker, kernel or program outlived leaklab report"
    assert time.monotonic() - started < 10
    for partial in running:  # each worker saw leaklab die and interrupted its notebook: the runs are kept
        assert _kept(partial), partial
    assert not list(out.glob("*/.*.partial-*"))
    assert not list(tagged.tmp.iterdir()), "a temporary folder of the lab's was left behind"


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_an_interrupted_report_exits_with_128_plus_the_signal(leaklab, monkeypatch, tmp_path, signum, status):
    from leaklab.errors import Interrupted

    def interrupted(*args, **kwargs):
        raise Interrupted("interrupted by a test", signum)
    monkeypatch.setattr(report, "execute_all", interrupted)
    code, _, err = leaklab("report", "--out", tmp_path / "runs", "--report", tmp_path / "reports")
    assert code == status and "interrupted by a test" in err


def test_leaklab_report_exits_1_when_a_record_differs_from_expect_toml(leaklab, monkeypatch, tmp_path):
    index = tmp_path / "reports" / "index.html"
    made = report.Report(index=index, results=[], problems=["syncmap/fixed heap_bytes: expected verdict 'flat', "
                                                              "measured 'leak' (a test)"])
    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: made)
    code, _, err = leaklab("report", "--out", tmp_path / "runs", "--report", tmp_path / "reports")
    assert code == 1 and "differs from expect.toml" in err


# --- the "Across Go versions" page (leaklab report --versions) ----------------------------------------------

def test_versions_runs_the_versions_notebook_after_the_others_with_its_releases(monkeypatch, tmp_path):
    calls = []

    class Pages:  # the pages the report would render and write, and the nav bar they would share
        def __init__(self, notebooks, folder, out):
            calls.append(("nav", [p.name for p in notebooks]))
            self.html = {}

        def render(self, executed):
            calls.append(("render", executed.name))

        def write(self):
            return tmp_path / "site" / "index.html"

    monkeypatch.setattr(report, "_Pages", Pages)
    monkeypatch.setattr(report, "execute_all", lambda out, executed, **kw: calls.append("all") or [])
    monkeypatch.setattr(report, "execute", lambda nb, output, params, timeout: calls.append((nb.name, params, timeout))
                        or output)
    monkeypatch.setattr(report, "check_records", lambda out: [])
    made = report.build_report(tmp_path / "runs", tmp_path / "site", Limits(duration_s=6.0), versions=["1.22", "1.27"])
    assert calls[0][0] == "nav" and calls[0][1][-1] == report.VERSIONS_NOTEBOOK  # its page is in every nav bar
    assert calls[1] == "all" and calls[-1] == ("render", report.VERSIONS_NOTEBOOK)
    name, params, timeout = calls[2]
    assert name == report.VERSIONS_NOTEBOOK and params["releases"] == ["1.22", "1.27"] and params["duration"] == 6.0
    assert timeout >= report.VERSIONS_TIMEOUT_S
    assert any("did notebooks/versions.ipynb run" in p for p in made.problems)  # its record is checked too
    calls.clear()
    report.build_report(tmp_path / "runs", tmp_path / "site", Limits(duration_s=6.0))  # make lab: no versions page
    assert calls[1:] == ["all"] and report.VERSIONS_NOTEBOOK not in calls[0][1]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every family on two toolchains, their checks and the map entries, before the first test
def test_the_versions_page_shows_every_family_on_every_release(versions_page, tmp_path):
    from leaklab import versions
    from leaklab.notebook_exec import notebooks_dir
    out, executed, page = versions_page
    releases, folder = REGRESSION_GO, tmp_path
    report.render([executed], folder, out, nav=[*notebook_paths(), notebooks_dir() / report.VERSIONS_NOTEBOOK])
    # Before Go 1.26's GC, collecting syncmap's growing heap is dear, and the probe's 1% budget spaces its
    # forced collections: its leak can stay inconclusive there (tests/test_matrix.py allows it too).
    dear = re.compile(r"syncmap/leaky on go1\.2[2-5]\.\d+: expected 'leak', measured 'inconclusive'")
    assert [p for p in versions.problems(out) if not dear.match(p)] == []
    html = (folder / "versions.html").read_text()
    (nav,) = re.findall(r'<nav[^>]*class="leaklab".*?</nav>', html, re.S)
    assert set(re.findall(r'href="([^"]+)"', nav)) == {*PAGES, "versions.html"}
    assert "Measured with go1." in html and "versions.measure" not in html
    tables = re.findall(r'<table class="leaklab-verdicts">(.*?)</table>', html, re.S)
    assert len(tables) == 4  # verdicts, costs, leak profile, checks
    verdicts, costs, profiles, checks = tables
    for go_version in page.go_versions:
        assert all(f"<th>{go_version}</th>" in t for t in (verdicts, costs, checks)), go_version
        assert go_version in profiles
    assert len(page.go_versions) == len(releases)
    for fam in families():
        for variant in ("leaky", "fixed"):
            row = re.search(rf"<tr><td>{fam.name}</td><td>{variant}</td>(.*?)</tr>", verdicts, re.S)
            assert row, f"{fam.name}/{variant} missing from the versions table"
            assert row.group(1).count("<td>") == len(releases) and "<td>-</td>" not in row.group(1)
        assert f"<td>{fam.name}: one request</td>" in costs
    assert "sync.Map entry" in costs and "map[int]int entry" in costs
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 1 and len(base64.b64decode(images[0])) > 50_000


@pytest.mark.parametrize("argv, releases", [([], []), (["--versions"], ["1.22", "1.24", "1.26", "1.27"]),
                                            (["--versions", "1.22", "1.27"], ["1.22", "1.27"])])
def test_leaklab_report_versions_asks_for_the_versions_page(leaklab, monkeypatch, tmp_path, argv, releases):
    asked = {}

    def build(*args, **kwargs):
        asked.update(kwargs)
        return report.Report(index=tmp_path / "index.html", results=[], problems=[])
    monkeypatch.setattr(report, "build_report", build)
    code, _, err = leaklab("report", "--out", tmp_path / "runs", "--report", tmp_path / "reports", *argv)
    assert code == 0, err
    assert asked["versions"] == releases
