"""Building with the probe added by overlay."""

import subprocess

import pytest

from leaklab import BuildFailed
from leaklab.build import build

from .conftest import FIXTURES


@pytest.mark.slow
def test_a_folder_outside_any_module_builds_unmodified(go, tmp_path):
    before = sorted(p.name for p in (FIXTURES / "heap_leak").iterdir())
    binary = build(FIXTURES / "heap_leak", tmp_path / "bin", go)
    assert binary.is_file()
    info = subprocess.run([go.go, "version", "-m", str(binary)], capture_output=True, text=True).stdout
    assert "leaklab/program" in info
    assert sorted(p.name for p in (FIXTURES / "heap_leak").iterdir()) == before  # nothing written beside the source


@pytest.mark.slow
def test_a_compile_error_shows_the_compilers_message(go, tmp_path):
    with pytest.raises(BuildFailed, match=r"main.go:4:\d+: undefined: undefinedThing"):
        build(FIXTURES / "compile_error", tmp_path / "bin", go)


def test_a_folder_without_go_files_is_refused(go, tmp_path):
    with pytest.raises(BuildFailed, match="no .go files"):
        build(tmp_path, tmp_path / "bin", go)
