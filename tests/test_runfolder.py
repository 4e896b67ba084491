"""Hidden run folders: named after the process that writes them, removed once that process is gone."""

import os
import signal
import subprocess
import sys
import time

from leaklab.runfolder import RunFolder, _scope, _start_ticks, clean_stale_partials, owner_alive, partial_folder

_MAKE_ONE_AND_WAIT = """
import sys, time
from leaklab.runfolder import partial_folder
folder = partial_folder(sys.argv[1], "leaky")
(folder / "samples.jsonl").write_text("{}\\n")
print(folder, flush=True)
time.sleep(300)
"""


def _writer(parent):
    """A process that makes a partial folder and keeps running, like a run in progress."""
    proc = subprocess.Popen([sys.executable, "-c", _MAKE_ONE_AND_WAIT, str(parent)], stdout=subprocess.PIPE, text=True)
    return proc, parent / os.path.basename(proc.stdout.readline().strip())


def test_a_folder_is_named_after_its_owner_and_kept_while_it_runs(tmp_path):
    folder = partial_folder(tmp_path / "fam", "leaky")
    assert folder.name.startswith(f".leaky.partial-{_scope()}.{os.getpid()}.{_start_ticks(os.getpid())}-")
    assert owner_alive(folder) is True
    assert clean_stale_partials(tmp_path / "fam") == [] and folder.is_dir()


def test_the_folder_of_a_run_killed_outright_is_removed_and_a_live_ones_kept(tmp_path):
    dead, dead_folder = _writer(tmp_path)
    live, live_folder = _writer(tmp_path)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        assert owner_alive(dead_folder) is False and owner_alive(live_folder) is True
        assert clean_stale_partials(tmp_path) == [dead_folder]
        assert not dead_folder.exists() and (live_folder / "samples.jsonl").is_file()
    finally:
        for proc in (dead, live):
            proc.kill()
            proc.wait()
            proc.stdout.close()
    assert clean_stale_partials(tmp_path) == [live_folder]  # its owner has ended too now
    assert list(tmp_path.iterdir()) == []


def test_a_reused_pid_does_not_keep_a_dead_runs_folder(tmp_path):
    # this process's pid, but a start time it does not have: the pid's first owner is gone
    folder = tmp_path / f".fixed.partial-{_scope()}.{os.getpid()}.{_start_ticks(os.getpid()) + 1}-abcd"
    folder.mkdir()
    assert owner_alive(folder) is False
    assert clean_stale_partials(tmp_path) == [folder]


def test_a_folder_whose_owner_cannot_be_checked_is_removed_only_when_untouched_for_long(tmp_path):
    old_style = tmp_path / ".leaky.partial-k2x9_a1b"  # what leaklab wrote before folders had owners
    elsewhere = tmp_path / f".fixed.partial-00000000.{os.getpid()}.1-abcd"  # another machine or container
    for folder in (old_style, elsewhere):
        folder.mkdir()
        (folder / "samples.jsonl").write_text("{}\n")
        assert owner_alive(folder) is None
    assert clean_stale_partials(tmp_path) == []
    hour_ago = time.time() - 3600
    for path in (old_style, old_style / "samples.jsonl"):
        os.utime(path, (hour_ago, hour_ago))
    assert clean_stale_partials(tmp_path) == [old_style]
    assert clean_stale_partials(tmp_path, unowned_after_s=0) == [elsewhere]


def test_finished_and_failed_runs_and_a_missing_folder_are_left_alone(tmp_path):
    for name in ("leaky", "leaky.failed", ".leaky.old", "measured.json"):
        (tmp_path / name).mkdir()
    assert clean_stale_partials(tmp_path, unowned_after_s=0) == []
    assert clean_stale_partials(tmp_path / "no-such-folder") == []
    assert len(list(tmp_path.iterdir())) == 4


def test_a_run_folder_names_the_files_the_probe_and_the_lab_write(tmp_path):
    folder = RunFolder(str(tmp_path))
    assert folder.path == tmp_path and folder.samples == tmp_path / "samples.jsonl"
    assert (folder.meta.name, folder.result.name, folder.stderr.name) == ("meta.json", "result.json", "stderr.txt")
    assert folder.heap_profile("start").name == "heap-start.txt" and folder.goroutines.name == "goroutines.txt"
    assert folder.load.name == "load.jsonl" and folder.load_stderr.name == "load-stderr.txt"


def test_its_meta_is_empty_until_written_and_its_last_words_come_from_stderr_else_stdout(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_meta() == {} and folder.last_words() == ""
    folder.meta.write_text('{"goroot": "/go"}')
    folder.stdout.write_text("PASS\nFAIL: TestLeak\n")
    folder.stderr.write_text("")
    assert folder.read_meta() == {"goroot": "/go"} and folder.last_words(1) == "FAIL: TestLeak"
    folder.stderr.write_text("\n".join(f"line {i}" for i in range(30)) + "\n")
    assert folder.last_words().splitlines() == [f"line {i}" for i in range(15, 30)]
