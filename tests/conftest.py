import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from leaklab.cli import main
from leaklab.errors import LeakLabError
from leaklab.paths import resource
from leaklab.profiles import leak_profile_env
from leaklab.toolchain import fetch_go, find_go

FIXTURES = Path(__file__).parent / "fixtures"
CASES = Path(__file__).resolve().parent.parent / "go-cases"
#: The releases the version regression runs on besides the installed Go (`make test`: 1.22 and 1.27): every
#: family (versions_page) and every claim (tests/test_claims.py).
REGRESSION_GO = os.environ.get("LEAKLAB_TEST_GO", "1.22").split()


def pytest_configure(config):
    """Signals as the tests need them; under pytest-xdist, the file the workers leave their groups in."""
    _restore_signals()
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tempfile.mkdtemp(prefix="leaklab-test-groups-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        os.environ[_GROUPS_ENV] = os.path.join(folder, "groups.json")


def pytest_sessionstart(session):
    """Before the first test (and any pytest-xdist worker): compile the standard library the lab's programs
    and its probe use, on each Go the suite builds with and in each way it builds (plain, with the goroutine
    leak profile, with -asan, as tests). On a fresh machine that is about a minute of both cores; left to the
    tests, the compilers ran beside their runs (in a fresh container a leaky program served 68% of its work
    rate while they did). Whatever fails here is left for the tests that need it to report."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not _selects_slow(session.config.option.markexpr):
        return
    say = session.config.pluginmanager.get_plugin("terminalreporter")
    if say:
        say.write_line("compiling the standard library the lab's programs use (once; Go caches it) ...")
    try:
        go = find_go()
        std = [pkg for pkg in go.run("list", "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", "./...",
                                     str(resource("probe.go")), cwd=CASES, timeout=60).stdout.split()
               if not {"internal", "vendor"} & set(pkg.split("/"))]
    except LeakLabError:
        return
    builds = [(go, {}, ["-test"], ["./..."]), (go, {"CGO_ENABLED": "1"}, ["-asan"], ["./05-cgo/...", *std])]
    builds += [(go, leak_profile_env(go), [], std)] if leak_profile_env(go) else []
    for release in REGRESSION_GO:
        with contextlib.suppress(LeakLabError):
            builds.append((fetch_go(release), {}, [], std))
    with tempfile.TemporaryDirectory(prefix="leaklab-warm-") as outside_any_module:
        for toolchain, env, flags, packages in builds:
            # the lab's own packages from its module; the standard ones by name (an older Go refuses go.mod)
            where = CASES if any(p.startswith("./") for p in packages) else Path(outside_any_module)
            with contextlib.suppress(LeakLabError):
                toolchain.run("list", "-e", *flags, "-export", "-deps", *packages, cwd=where, env=env, timeout=300)


def _selects_slow(markexpr: str) -> bool:
    """Whether ``-m markexpr`` runs tests marked slow (the ones that run Go programs)."""
    if not markexpr:
        return True
    try:
        from _pytest.mark.expression import Expression  # pytest's own reading of -m
        return Expression.compile(markexpr).evaluate(lambda name, **_: name == "slow")
    except Exception:  # another pytest: warm rather than guess
        return True


def _restore_signals():
    """The signals the tests send reach the processes they start, however the suite itself was started.

    ``nohup`` leaves SIGHUP ignored, and a shell without job control leaves SIGINT ignored in what it
    starts in the background; an ignored signal stays ignored across exec, so the leaklab a test
    starts could not be interrupted by it (and Python installs no KeyboardInterrupt handler for an
    ignored SIGINT).
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


#: What a group's shared fixture, or a test on its own, costs in seconds on the project's 2 cores (pytest
#: --durations, 2026-12-01): under pytest-xdist the dearest start first, so that no worker is left with one at
#: the end while the other idles. Those not named here follow, in the order they were collected.
COST_S = {
    "tests.test_claims::other_findings": 105, "versions_page": 200, "executed_lab": 100,
    "tests.test_claims::findings": 60, "tests/test_exercises.py::test_every_solution_notebook_runs_and_ends_fixed": 31,
    "tests.test_lab::results": 30, "tests.test_check::reports": 28, "tests.test_diagnose::runs": 13,
    "tests.test_godebug::cells": 13, "tests/test_cli.py::test_programs_the_lab_has_never_seen[sawtooth-flat-None-20]": 12,
    "tests.test_workshop::deck": 10,
}

#: What a group COST_S does not name is taken to cost: more than a test on its own.
UNNAMED_GROUP_S = 20

#: Where the workers leave the groups for the scheduler (the controller sets it; pytest_xdist_make_scheduler).
_GROUPS_ENV = "LEAKLAB_TEST_GROUPS"


def _group(item):
    """The costly fixture an item shares with others, or None.

    Under pytest-xdist (``-n 2 --dist loadgroup``, make test), the tests of a group run in one worker,
    so that fixture is made once: the executed notebooks and the versions page (session fixtures), a module's
    runs (a module fixture). Every other test goes wherever a worker is free.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for session_wide in ("executed_lab", "versions_page"):
        if session_wide in item.fixturenames:
            return session_wide
    scopes = {name: defs[-1].scope for name, defs in info.name2fixturedefs.items() if defs}
    shared = [name for name in item.fixturenames if scopes.get(name) == "module"]
    if not shared:
        return None
    params = getattr(item, "callspec", None)
    param = params.params.get(shared[0]) if params else None  # a fixture made once per parameter: a group each
    return f"{item.module.__name__}::{shared[0]}" + (f"[{param}]" if param is not None else "")


def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker: order the dearest groups first and tell the scheduler each test's group."""
    path = os.environ.get(_GROUPS_ENV)
    if not os.environ.get("PYTEST_XDIST_WORKER") or not path:
        return
    groups = {item.nodeid: _group(item) for item in items}
    order = {item.nodeid: i for i, item in enumerate(items)}
    def cost(item):
        group = groups[item.nodeid]
        if group:  # a group not named in COST_S still shares a costly fixture: before the single tests
            return COST_S.get(group, COST_S.get(group.partition("[")[0], UNNAMED_GROUP_S))
        return COST_S.get(item.nodeid, 0)
    items.sort(key=lambda item: (-cost(item), order[item.nodeid]))
    # every worker collects the same tests: whichever writes last writes the same thing
    tmp = f"{path}.{os.environ['PYTEST_XDIST_WORKER']}"
    Path(tmp).write_text(json.dumps({i.nodeid: groups[i.nodeid] for i in items}))
    os.replace(tmp, path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups of :func:`_group`.

    xdist's own loadgroup reads ``@group`` suffixes it adds to node ids, which pytest 9 no longer lets
    it change (a test's node id is read-only there): its groups are silently lost. This scheduler
    reads the workers' groups instead, and keeps the order they collected in (dearest first).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        groups = None

        def _split_scope(self, nodeid):
            if self.groups is None:
                path = Path(os.environ[_GROUPS_ENV])
                self.groups = json.loads(path.read_text()) if path.is_file() else {}
            return self.groups.get(nodeid) or nodeid

    config.option.loadscopereorder = False
    return Grouped(config, log)


@pytest.fixture(scope="session")
def go():
    return find_go()


@pytest.fixture
def leaklab(capsys):
    """Run the CLI in-process; return (exit status, parsed JSON or stdout text, stderr)."""
    def run(*argv):
        status = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        try:
            out = json.loads(out)
        except json.JSONDecodeError:
            pass
        return status, out, err
    return run


@pytest.fixture(scope="session")
def executed_lab(tmp_path_factory):
    """Every notebook executed once: (run data folder, executed notebook paths).

    Shared by test_notebooks.py and test_report.py, so the families run once per test session. Runs stop
    once their verdict is certain (2-3 s on a quiet machine); the 20 s maximum is for a busy one (beside
    two CPU hogs the fixed service was still undecided at 10 s). A cell may take up to 240 s: in a fresh
    container the service's cell also builds the load driver (vegeta fetched and compiled: over 120 s there).
    """
    from leaklab.notebook_exec import execute_all
    base = tmp_path_factory.mktemp("lab")
    executed = execute_all(base / "runs", base / "executed", duration=20.0, interval=0.05, warmup=1.0, timeout=240)
    return base / "runs", executed


@pytest.fixture(scope="session")
def versions_page(tmp_path_factory):
    """The "Across Go versions" page measured once, on the releases of REGRESSION_GO: (run data folder,
    executed notebook, page). Every family's leaky and fixed variants on each release, their checks and
    what a map entry costs: tests/test_report.py reads the page, tests/test_matrix.py the verdicts. The
    installed Go's families are judged by the executed lab (executed_lab, tests/test_lab.py).

    Runs stop once their verdict is certain; the 20 s maximum is for an old Go on a busy machine (in a
    fresh container 10 s left syncmap/leaky on 1.22 undecided: it collects less often).
    """
    from leaklab.notebook_exec import execute, notebooks_dir
    from leaklab.report import VERSIONS_NOTEBOOK, VERSIONS_TIMEOUT_S
    from leaklab.versions import load
    if not REGRESSION_GO:
        pytest.skip("LEAKLAB_TEST_GO names no release to measure the versions page on")
    base = tmp_path_factory.mktemp("versions")
    executed = execute(notebooks_dir() / VERSIONS_NOTEBOOK, base / "executed" / VERSIONS_NOTEBOOK,
                       {"duration": 20.0, "interval": 0.05, "warmup": 1.0, "out": str(base / "runs"),
                        "releases": REGRESSION_GO}, timeout=VERSIONS_TIMEOUT_S)
    return base / "runs", executed, load(base / "runs")


class Tagged:
    """Processes started with :attr:`env` carry a tag in their environment, and so does every
    process they start: :meth:`left_behind` finds them wherever they went (a session of their own,
    reparented to init). Their temporary files go to :attr:`tmp`, which a test can check is empty."""

    def __init__(self, tag: str, tmp: Path) -> None:
        self.tag, self.tmp = tag, tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "LEAKLAB_TEST_TAG": tag, "TMPDIR": str(tmp)}

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("LEAKLAB_TEST_TAG") == self.tag and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except psutil.Error:
                pass  # ended meanwhile, or not ours to read
        return found

    def left_behind(self, within: float) -> list[psutil.Process]:
        """The tagged processes still running after waiting up to ``within`` seconds for them to end."""
        deadline = time.monotonic() + within
        while (alive := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return alive


@pytest.fixture
def tagged():
    """A :class:`Tagged` environment; whatever still carries its tag when the test ends is killed.

    Its TMPDIR is a short folder of its own in /tmp, removed at the end: under the test's tmp_path (longer
    still in a pytest-xdist worker) a kernel's IPC socket path would pass the 107 bytes a Unix socket's
    name may have.
    """
    tmp = Path(tempfile.mkdtemp(prefix="ll-", dir="/tmp" if os.path.isdir("/tmp") else None))
    tags = Tagged(f"{os.getpid()}-{time.monotonic_ns()}", tmp)
    yield tags
    from leaklab.stopping import kill_tree
    for proc in tags.processes():
        kill_tree(proc.pid)
    shutil.rmtree(tmp, ignore_errors=True)
