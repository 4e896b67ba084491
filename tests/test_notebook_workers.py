"""The worker processes that execute notebooks: a failure while others finish, two executions at once, and a
kernel that dies leaving nothing behind."""

import subprocess
import sys

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from leaklab import notebook_exec
from leaklab.errors import NotebookFailed
from leaklab.stopping import wait_ended


def _tiny_notebook(path, source):
    nb = new_notebook(metadata={"kernelspec": {"name": "leaklab", "display_name": "Go Leak Lab", "language": "python"}})
    params = new_code_cell("out = 'unused'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(source)]
    nbformat.write(nb, str(path))
    return path


_UNTIL_BROKEN = """
import os, time
flag, deadline = os.path.join(os.path.dirname(out), "failing"), time.monotonic() + 60
while not os.path.exists(flag) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_a_notebook_that_raises_fails_with_the_cells_output_while_the_others_finish(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # 01-fine finishes only once 02-broken is failing: it provably runs on after the failure
    _tiny_notebook(folder / "01-fine.ipynb", _UNTIL_BROKEN + "print('finished' if os.path.exists(flag) else 'alone')")
    _tiny_notebook(folder / "02-broken.ipynb", "import os\nopen(os.path.join(os.path.dirname(out), 'failing'), 'w')"
                   ".close()\nprint('half-way there')\nraise ValueError('deliberately broken')")
    _tiny_notebook(folder / "00-overview.ipynb", "print('must not run after a failure')")
    with pytest.raises(NotebookFailed) as failure:
        notebook_exec.execute_all(tmp_path / "runs", tmp_path / "out", folder=folder, jobs=2, timeout=60)
    message = str(failure.value)
    assert "02-broken.ipynb failed in cell" in message
    assert "half-way there" in message and "ValueError: deliberately broken" in message
    fine = nbformat.read(str(tmp_path / "out" / "01-fine.ipynb"), as_version=4)
    assert fine.cells[-1].outputs[0]["text"] == "finished\n"
    assert not (tmp_path / "out" / "00-overview.ipynb").exists()


_AT_ONCE = """
import sys
from unittest import mock
from pathlib import Path
from leaklab.notebook_exec import execute
execute(Path(sys.argv[1]), Path(sys.argv[2]), {"out": sys.argv[3]}, timeout=60)
"""


_BOTH_RUNNING = """
import os, time
open(os.path.join("..", out + ".running"), "w").close()
other, deadline = os.path.join("..", {"run0": "run1", "run1": "run0"}[out] + ".running"), time.monotonic() + 60
while not os.path.exists(other) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_two_executions_at_once_both_succeed_and_leave_no_sockets_beside_the_notebook(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # the kernel runs in the notebook's folder; once both run (each waits for the other), it lists what is there
    nb = _tiny_notebook(folder / "slow.ipynb", _BOTH_RUNNING + "print(out, sorted(os.listdir()), os.path.exists(other))")
    runs = [subprocess.Popen([sys.executable, "-c", _AT_ONCE, str(nb), str(tmp_path / f"out{i}.ipynb"), f"run{i}"],
                             cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(2)]
    for i, proc in enumerate(runs):
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, output
        executed = nbformat.read(str(tmp_path / f"out{i}.ipynb"), as_version=4)
        assert executed.cells[-1].outputs[0]["text"].strip() == f"run{i} ['slow.ipynb'] True"
    assert sorted(p.name for p in folder.iterdir()) == ["slow.ipynb"]


_ORPHAN = """
import os, subprocess
child = subprocess.Popen(["sleep", "300"], start_new_session=True)  # a program in a session of its own
open(out, "w").write(str(child.pid))
os._exit(1)  # the kernel dies: its child is nobody's now but the worker's
"""


@pytest.mark.slow
def test_a_kernel_that_dies_leaves_no_program_behind_and_fails_in_one_message(tmp_path, tagged, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = _tiny_notebook(folder / "01-dies.ipynb", _ORPHAN)
    for name, value in tagged.env.items():  # the worker and its kernel inherit the tag and the temporary folder
        monkeypatch.setenv(name, value)
    with pytest.raises(NotebookFailed, match="01-dies.ipynb") as failure:
        notebook_exec.execute(nb, tmp_path / "out.ipynb", {"out": str(tmp_path / "pid")}, timeout=60)
    assert "Traceback" not in str(failure.value).splitlines()[0]
    try:
        orphan = [psutil.Process(int((tmp_path / "pid").read_text()))]
    except psutil.NoSuchProcess:
        orphan = []  # ended and reaped already
    assert not wait_ended(orphan, within=10), "the program the dead kernel started is still running"
    assert not tagged.left_behind(within=10)
    assert not list(tagged.tmp.iterdir()), "a temporary folder of the lab's was left behind"


@pytest.mark.slow
def test_a_temporary_folder_too_deep_for_a_unix_socket_still_runs_notebooks(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # with the worker's folder and the socket's name: past 107 bytes
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again
    nb = _tiny_notebook(tmp_path / "01-deep.ipynb", "print('ran')")
    notebook_exec.execute(nb, tmp_path / "out.ipynb", {"out": "unused"}, timeout=60)
    assert nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells[-1].outputs[0]["text"] == "ran\n"
    assert not list(deep.iterdir())


_FIRST = """
import os, time, psutil
began, deadline = time.time(), time.monotonic() + 30
def kernels_here():  # the other kernels started for this test's notebooks (they run in its folder)
    return [p for p in psutil.process_iter(["cmdline", "cwd"]) if p.pid != os.getpid()
            and "ipykernel_launcher" in " ".join(p.info["cmdline"] or []) and p.info["cwd"] == os.getcwd()]
while len(kernels_here()) < 1 and time.monotonic() < deadline:
    time.sleep(0.05)
print(psutil.Process().create_time(), began, time.time())
"""

_TOGETHER = """
import os, time, psutil
began = time.time()
open(NAME + ".began", "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(OTHER + ".began") and time.monotonic() < deadline:
    time.sleep(0.05)
print(psutil.Process().create_time(), began, time.time())
"""


@pytest.mark.slow
def test_kernels_start_before_their_turn_and_a_stage_waits_for_the_one_before(tmp_path):
    from leaklab.notebook_workers import execute_in_workers
    # a waits until the kernel of b is up (it can only be, started ahead of its turn); b and c,
    # the second stage, wait for each other (they can only meet if both run at once, in the two slots)
    a = _tiny_notebook(tmp_path / "a.ipynb", _FIRST)
    b = _tiny_notebook(tmp_path / "b.ipynb", f"NAME, OTHER = 'b', 'c'\n{_TOGETHER}")
    c = _tiny_notebook(tmp_path / "c.ipynb", f"NAME, OTHER = 'c', 'b'\n{_TOGETHER}")
    done = []
    execute_in_workers([[(a, tmp_path / "out" / "a.ipynb")], [(b, tmp_path / "out" / "b.ipynb"),
                        (c, tmp_path / "out" / "c.ipynb")]], {"out": "unused"}, 120, jobs=2, progress=None,
                       done=done.append)
    assert sorted(p.name for p in done) == ["a.ipynb", "b.ipynb", "c.ipynb"] and done[0].name == "a.ipynb"
    (kernel_a, began_a, ended_a), (kernel_b, began_b, ended_b), (kernel_c, began_c, ended_c) = [
        map(float, nbformat.read(str(tmp_path / "out" / f"{n}.ipynb"), as_version=4).cells[-1].outputs[0]["text"]
            .split()) for n in "abc"]
    assert kernel_b < ended_a, "the next kernel was started only once a slot was free"
    assert ended_a - began_a < 25, "a waited in vain for the kernel of b"
    assert began_b >= ended_a and began_c >= ended_a, "a notebook began before the stage before it had ended"
    assert began_c < ended_b and began_b < ended_c, "two slots: the second stage's notebooks ran one after the other"
