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


@pytest.mark.slow
def test_a_lab_program_is_linked_once_and_relinked_when_its_probe_changes(go, tmp_path, monkeypatch):
    from leaklab import build as build_module
    from leaklab.cases import get_family
    cache = tmp_path / "cache"
    monkeypatch.setattr(build_module, "BUILD_CACHE", cache)
    package = get_family("timer").package("fixed")
    said = []
    run = type(go).run

    def run_showing_commands(self, *args, **kwargs):  # go build -x: the commands it runs, on stderr
        proc = run(self, *((args[0], "-x", *args[1:]) if args[0] == "build" else args), **kwargs)
        said.append(proc.stderr)
        return proc

    monkeypatch.setattr(type(go), "run", run_showing_commands)
    first = build(package, tmp_path / "first", go)
    (cached,) = [p for p in cache.iterdir() if not p.suffix]
    second = build(package, tmp_path / "second", go)
    assert "/link" in said[0] and "/link" not in said[1], "an up-to-date binary was linked again"
    assert first.read_bytes() == second.read_bytes() == cached.read_bytes()
    # another probe (one more comment): the go command sees new content and relinks; nothing stale is served
    probe = tmp_path / "probe.go"
    probe.write_text(build_module.resource("probe.go").read_text() + "\n// changed\n")
    monkeypatch.setattr(build_module, "resource", lambda name: probe)
    third = build(package, tmp_path / "third", go)
    assert "/link" in said[2]
    assert third.read_bytes() != second.read_bytes() and third.read_bytes() == cached.read_bytes()
    # another environment is another binary beside it
    build(package, tmp_path / "fourth", go, env={"CGO_ENABLED": "0"})
    assert len([p for p in cache.iterdir() if not p.suffix]) == 2
    # a build killed while the go command wrote the binary: it is not trusted, however its build ID reads
    cached.with_suffix(".ok").unlink()
    cached.write_bytes(cached.read_bytes()[:4096])
    assert build(package, tmp_path / "fifth", go).read_bytes() == third.read_bytes()
    assert "/link" in said[-1]


@pytest.mark.slow
def test_a_program_outside_the_lab_is_built_in_place_not_cached(go, tmp_path, monkeypatch):
    from leaklab import build as build_module
    monkeypatch.setattr(build_module, "BUILD_CACHE", tmp_path / "cache")
    assert build(FIXTURES / "heap_leak", tmp_path / "bin", go).is_file()
    assert not (tmp_path / "cache").exists()
