import json
import os
import time
from pathlib import Path

import psutil
import pytest

from leaklab.cli import main
from leaklab.toolchain import find_go

FIXTURES = Path(__file__).parent / "fixtures"


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
