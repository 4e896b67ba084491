import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.toolchain import find_go

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
