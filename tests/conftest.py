import json
from pathlib import Path

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
    from leaklab.notebooks import execute_all
    base = tmp_path_factory.mktemp("lab")
    executed = execute_all(base / "runs", base / "executed", duration=3.0, interval=0.05, warmup=1.0, timeout=120)
    return base / "runs", executed
