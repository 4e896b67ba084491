import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from leaklab.cli import main
from leaklab.toolchain import find_go

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config):
    """The signals the tests send reach the processes they start, however the suite itself was started.

    ``nohup`` leaves SIGHUP ignored, and a shell without job control leaves SIGINT ignored in what it
    starts in the background; an ignored signal stays ignored across exec, so the leaklab a test
    starts could not be interrupted by it (and Python installs no KeyboardInterrupt handler for an
    ignored SIGINT).
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


#: What the shared fixtures of a group cost, in seconds on the project's 2 cores (pytest --durations, 2026-12-01):
#: with pytest-xdist, the dearest groups start first so that no worker is left with one at the end.
GROUP_COST_S = {
    "tests.test_claims::other_findings": 105, "tests.test_matrix::versions": 105, "executed_lab": 100,
    "tests.test_claims::findings": 60, "tests.test_workshop::deck": 15, "tests.test_lab::results": 30,
    "tests.test_check::reports": 25, "tests.test_diagnose::runs": 15, "tests.test_godebug::cells": 15,
}


def _group(item):
    """The costly fixture an item shares with others (its group under pytest-xdist's loadgroup), or None.

    Tests that share a session fixture (the executed notebooks) or a module one (a module's runs) run
    in the same worker, so it is made once; every other test goes wherever a worker is free.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    scopes = {name: defs[-1].scope for name, defs in info.name2fixturedefs.items() if defs}
    if "executed_lab" in item.fixturenames:
        return "executed_lab"
    shared = [name for name in item.fixturenames if scopes.get(name) == "module"]
    return f"{item.module.__name__}::{shared[0]}" if shared else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker, group the tests that share a costly fixture and start the dearest groups first."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    groups = {}
    for item in items:
        group = _group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
        groups[id(item)] = group
    order = {item.nodeid: i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-GROUP_COST_S.get(groups[id(item)] or "", 0), order[item.nodeid]))


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
    """Every notebook executed once with short parameters: (run data folder, executed notebook paths).

    Shared by test_notebooks.py and test_report.py, so the families run once per test session.
    """
    from leaklab.notebook_exec import execute_all
    base = tmp_path_factory.mktemp("lab")
    executed = execute_all(base / "runs", base / "executed", duration=10.0, interval=0.05, warmup=1.0, timeout=120)
    return base / "runs", executed


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
def tagged(tmp_path):
    """A :class:`Tagged` environment; whatever still carries its tag when the test ends is killed."""
    tags = Tagged(f"{os.getpid()}-{time.monotonic_ns()}", tmp_path / "tmp")
    yield tags
    from leaklab.stopping import kill_tree
    for proc in tags.processes():
        kill_tree(proc.pid)
