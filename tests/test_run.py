"""Runs end cleanly whatever the program does: cap, crash, silence, hang, Ctrl-C, daemons, floods, a full disk."""

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from leaklab import Limits, ProgramFailed, measure

from .conftest import FIXTURES

QUICK = Limits(duration_s=3, interval_s=0.05, warmup_s=1)


def _left_behind(folder):
    """Processes still running a binary from ``folder``."""
    found = []
    for p in psutil.process_iter(["exe", "cmdline"]):
        text = " ".join([p.info["exe"] or "", *(p.info["cmdline"] or [])])
        if str(folder) in text and p.pid != psutil.Process().pid:
            found.append(p)
    return found


@pytest.mark.slow
def test_a_runaway_leak_hits_the_cap_and_counts_as_a_leak(go, tmp_path):
    limits = dataclasses.replace(QUICK, duration_s=20, mem_cap_bytes=96 * 2**20)
    began = time.monotonic()
    r = measure(FIXTURES / "runaway", "fx", "runaway", limits=limits, out=tmp_path, go=go)
    assert time.monotonic() - began < 10
    assert r.capped and r.verdict == "leak" and "memory cap" in r.reason
    meta = json.loads((tmp_path / "fx" / "runaway" / "meta.json").read_text())
    assert meta["outcome"]["capped"] and meta["outcome"]["peak_rss_bytes"] > 96 * 2**20
    assert not _left_behind(tmp_path)


@pytest.mark.slow
def test_a_program_capped_before_its_first_sample_is_still_a_leak(go, tmp_path):
    limits = dataclasses.replace(QUICK, mem_cap_bytes=96 * 2**20)
    r = measure(FIXTURES / "capped_at_start", "fx", "early", limits=limits, out=tmp_path, go=go)
    assert r.capped and r.verdict == "leak" and r.samples <= 1  # only the probe's sample taken before main
    assert not list((tmp_path / "fx").glob(".*partial*"))
    assert not _left_behind(tmp_path)


@pytest.mark.slow
def test_a_crash_is_reported_with_the_programs_last_words_and_samples_kept(go, tmp_path):
    with pytest.raises(ProgramFailed, match=r"(?s)exited with status 2.*deliberate crash") as err:
        measure(FIXTURES / "crash", "fx", "crash", limits=QUICK, out=tmp_path, go=go)
    kept = tmp_path / "fx" / "crash.failed"
    assert err.value.run_dir == str(kept)
    assert (kept / "samples.jsonl").read_text().count('"t"') >= 5
    assert not (tmp_path / "fx" / "crash").exists()


@pytest.mark.slow
def test_a_program_that_prints_nothing_is_explained(go, tmp_path):
    with pytest.raises(ProgramFailed, match="without producing a single sample"):
        measure(FIXTURES / "silent", "fx", "silent", limits=QUICK, out=tmp_path, go=go)


@pytest.mark.slow
def test_a_hung_program_is_killed_at_the_time_limit(go, tmp_path):
    limits = dataclasses.replace(QUICK, duration_s=1.5, warmup_s=0.5, grace_s=1)
    began = time.monotonic()
    with pytest.raises(ProgramFailed, match="still running"):
        measure(FIXTURES / "hang", "fx", "hang", limits=limits, out=tmp_path, go=go)
    assert time.monotonic() - began < 8
    assert not _left_behind(tmp_path)


@pytest.mark.slow
def test_a_failed_run_does_not_spoil_the_last_good_one(go, tmp_path):
    good = measure(FIXTURES / "heap_leak", "fx", "v", limits=QUICK, out=tmp_path, go=go)
    assert good.verdict == "leak"
    with pytest.raises(ProgramFailed):
        measure(FIXTURES / "crash", "fx", "v", limits=QUICK, out=tmp_path, go=go)
    assert json.loads((tmp_path / "fx" / "v" / "result.json").read_text())["verdict"] == "leak"
    assert (tmp_path / "fx" / "v.failed" / "stderr.txt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("after_samples", [0, 20])
def test_ctrl_c_leaves_no_process_and_keeps_the_samples(tmp_path, after_samples):
    cli = subprocess.Popen([sys.executable, "-m", "leaklab.cli", "run", "--program", str(FIXTURES / "heap_leak"),
                            "--duration", "60", "--out", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        kept = tmp_path / "program-heap_leak" / "program.failed"
        deadline = time.monotonic() + 30
        while not (found := list(tmp_path.glob("program-heap_leak/.program.partial-*/samples.jsonl"))) or \
                found[0].read_text(errors="replace").count('"t"') < after_samples:
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    finally:
        cli.kill()
        cli.communicate()
    assert cli.returncode == 130, err
    assert "interrupted" in err and "was stopped" in err
    assert (kept / "samples.jsonl").is_file()
    if after_samples:
        assert (kept / "samples.jsonl").read_text().count('"t"') >= after_samples
    assert not _left_behind(tmp_path)


@pytest.mark.slow
def test_ctrl_c_ends_a_bare_run_with_an_exception_after_killing_it(go, tmp_path):
    from leaklab.build import build
    from leaklab.run import execute
    binary = build(FIXTURES / "heap_leak", tmp_path / "bin", go)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        execute(binary, tmp_path, dataclasses.replace(QUICK, duration_s=30))
    assert not _left_behind(tmp_path)
    assert (tmp_path / "samples.jsonl").read_text().count('"t"') >= 5


@pytest.mark.slow
def test_a_run_stops_as_soon_as_its_verdict_is_certain(go, tmp_path):
    limits = dataclasses.replace(QUICK, duration_s=30)
    began = time.monotonic()
    r = measure(FIXTURES / "goroutine_leak", "fx", "early", limits=limits, out=tmp_path, go=go,
                signal="goroutines", profiles=True)
    assert r.verdict == "leak" and r.stopped == "decided"
    assert r.decided_after_s < 10 and r.duration_s < r.decided_after_s + 3
    assert time.monotonic() - began < 25
    run = tmp_path / "fx" / "early"
    assert (run / "heap-end.txt").is_file() and (run / "goroutines.txt").is_file(), "profiles taken at the stop"
    assert not _left_behind(tmp_path)


@pytest.mark.slow
def test_a_fixed_window_runs_to_its_end(go, tmp_path):
    limits = dataclasses.replace(QUICK, duration_s=3, sequential=False)
    r = measure(FIXTURES / "goroutine_leak", "fx", "fixed", limits=limits, out=tmp_path, go=go, signal="goroutines")
    assert r.verdict == "leak" and r.stopped == "max duration" and r.decided_after_s is None
    assert r.duration_s >= 2.9


@pytest.mark.slow
def test_the_program_ends_within_a_second_when_leaklab_is_killed_outright(tmp_path):
    cli = subprocess.Popen([sys.executable, "-m", "leaklab.cli", "run", "--program", str(FIXTURES / "churn"),
                            "--duration", "120", "--fixed-window", "--no-diagnose", "--out", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (found := list(tmp_path.glob("*/.*partial*/samples.jsonl"))) or not found[0].read_text():
            assert time.monotonic() < deadline and cli.poll() is None, "the program never started"
            time.sleep(0.05)
        pid = json.loads(found[0].read_text().splitlines()[0])["pid"]
        program = psutil.Process(pid)
        cli.kill()  # SIGKILL: no handler runs, nothing is cleaned up by leaklab
        cli.wait()
        gone, alive = psutil.wait_procs([program], timeout=2)
        assert not alive, "the program outlived leaklab by more than 2 s"
    finally:
        if cli.poll() is None:
            cli.kill()
        for p in _left_behind(tmp_path):
            p.kill()


def test_sampling_faster_than_the_bound_or_nan_is_refused():
    from leaklab import BadParameter
    from leaklab.run import check_limits
    with pytest.raises(BadParameter, match="--interval"):
        check_limits(Limits(interval_s=1e-9))
    with pytest.raises(BadParameter, match="finite"):
        check_limits(Limits(warmup_s=float("nan")))


@pytest.mark.slow
def test_a_program_gets_its_arguments_folder_and_environment_and_a_closed_stdin(go, tmp_path):
    from leaklab.build import build
    from leaklab.run import execute
    binary = build(FIXTURES / "says_how_it_runs", tmp_path / "bin", go)
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere").mkdir()
    started = []
    before = time.monotonic()
    outcome = execute(binary, tmp_path / "run", dataclasses.replace(QUICK, duration_s=1, warmup_s=0.5),
                      env={"LEAKLAB_TEST_SAYS": "hello"}, args=["-config", "a b.json", "{port}"],
                      cwd=tmp_path / "elsewhere", on_start=started.append)
    assert outcome.returncode == 0 and len(started) == 1 and before <= started[0] <= before + 1
    said = (tmp_path / "run" / "stdout.txt").read_text()
    assert 'args=["-config" "a b.json" "{port}"]' in said  # execute passes them as they are
    assert f"cwd={tmp_path / 'elsewhere'}" in said and "env=hello" in said
    assert "stdin=0 bytes, <nil>" in said  # at its end at once: nothing to read, nothing to wait for
    assert (tmp_path / "run" / "samples.jsonl").is_file(), "the probe still writes into the run folder"


def _loaded_cli(tmp_path, tagged):
    """leaklab measuring the example service under load, in a process of its own, once the load has begun."""
    service = FIXTURES.parent.parent / "go-cases" / "06-service" / "leaky"
    cli = subprocess.Popen([sys.executable, "-m", "leaklab.cli", "run", "--program", str(service), "--duration", "60",
                            "--fixed-window", "--out", str(tmp_path), "--load", "http://127.0.0.1:{port}/items", "--",
                            "-addr", "127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=tagged.env, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any('"counts"' in p.read_text() for p in tmp_path.glob("*/.*partial*/load.jsonl")):
        assert time.monotonic() < deadline and cli.poll() is None, "the load never began"
        time.sleep(0.05)
    names = {p.name() for p in tagged.processes()}
    assert any(n.startswith("leaklab-load") for n in names) and "binary" in names, names
    return cli


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_loaded_run_stops_the_program_and_the_load(tmp_path, tagged, signum):
    cli = _loaded_cli(tmp_path, tagged)
    try:
        cli.send_signal(signum)
        _, err = cli.communicate(timeout=30)
    finally:
        cli.kill()
        cli.communicate()
    assert cli.returncode == 128 + signum, err
    assert (tmp_path / "program-leaky" / "program.failed" / "load.jsonl").is_file()
    assert not tagged.left_behind(within=5)


@pytest.mark.slow
def test_the_load_ends_within_two_seconds_when_leaklab_is_killed_outright(tmp_path, tagged):
    cli = _loaded_cli(tmp_path, tagged)
    cli.kill()  # SIGKILL: the driver sees its stdin end, the probe its control pipe
    cli.communicate()
    assert not tagged.left_behind(within=2), "the program or the load driver outlived leaklab by more than 2 s"


def _pids_said(run):
    """The pids the detaches fixture printed: its setsid child and its orphaned grandchild."""
    said = (run / "stdout.txt").read_text()
    m = re.search(r"child=(\d+) orphan=(\d+)", said)
    assert m, said
    return [int(m[1]), int(m[2])]


def _running(pid):
    """Whether ``pid`` is a live (not zombie) process; a reused pid would count, which a test run never sees."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_no_descendant_outlives_a_program_run_setsid_or_orphaned(tmp_path, tagged):
    done = subprocess.run([sys.executable, "-m", "leaklab.cli", "run", "--program", str(FIXTURES / "detaches"),
                           "--duration", "3", "--no-diagnose", "--out", str(tmp_path)],
                          env=tagged.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    child, orphan = _pids_said(tmp_path / "program-detaches" / "program")
    # leaklab returns once they have ended; the deadline only keeps a slow machine from failing the test
    assert not tagged.left_behind(within=2), "a descendant of the program outlived the run"
    assert not _running(child) and not _running(orphan)
    assert not list((tmp_path / "program-detaches").glob(".*partial*"))
    assert list(tagged.tmp.iterdir()) == []


@pytest.mark.slow
def test_no_descendant_outlives_leaklab_killed_outright(tmp_path, tagged):
    cli = subprocess.Popen([sys.executable, "-m", "leaklab.cli", "run", "--program", str(FIXTURES / "detaches"),
                            "--duration", "120", "--fixed-window", "--no-diagnose", "--out", str(tmp_path)],
                           env=tagged.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any("orphan=" in p.read_text() for p in tmp_path.glob("*/.*partial*/stdout.txt")):
            assert time.monotonic() < deadline and cli.poll() is None, "the program never said its children"
            time.sleep(0.05)
        assert len(tagged.processes()) >= 4, "leaklab, the program, its setsid child and the orphan"
        cli.kill()  # SIGKILL: leaklab can neither stop them nor be their subreaper any more
        cli.wait()
        assert not tagged.left_behind(within=2), "a descendant of the program outlived leaklab by more than 2 s"
    finally:
        if cli.poll() is None:
            cli.kill()


@pytest.mark.slow
def test_descendants_that_came_to_leaklab_are_killed_and_reaped(go, tmp_path):
    measure(FIXTURES / "detaches", "fx", "v", limits=QUICK, out=tmp_path, go=go)
    pids = _pids_said(tmp_path / "fx" / "v")
    zombies = [c.pid for c in psutil.Process().children() if c.pid in pids]  # an unreaped orphan stays our child
    assert not zombies and not any(_running(pid) for pid in pids)
    meta = json.loads((tmp_path / "fx" / "v" / "meta.json").read_text())
    assert meta["outcome"]["peak_processes"] >= 3, "the program and both its descendants were watched"


@pytest.mark.slow
def test_a_flood_of_output_leaves_bounded_files_with_a_note_of_what_was_dropped(go, tmp_path):
    from leaklab.output import HEAD_BYTES, TAIL_BYTES
    measure(FIXTURES / "floods", "fx", "v", limits=QUICK, out=tmp_path, go=go)
    run = tmp_path / "fx" / "v"
    dropped = json.loads((run / "meta.json").read_text())["outcome"]["output_dropped"]
    assert dropped["stdout"] > 20 * 2**20, "the program wrote less than expected: nothing to bound"
    for name in ("stdout", "stderr"):
        kept = (run / f"{name}.txt").read_bytes()
        assert len(kept) <= HEAD_BYTES + TAIL_BYTES + 200
        # the end is what it wrote last: killed mid-write, its last line may be cut
        assert kept.startswith(b"00000001 ") and re.fullmatch(rb"\d{8} x{90}", kept.splitlines()[-2])
        assert f"[leaklab: {dropped[name]:,} bytes of {name} dropped here".encode() in kept


@pytest.mark.slow
def test_huge_untouched_reservations_run_normally_under_the_rss_cap(go, tmp_path):
    # 128 GiB of address space (half PROT_NONE, half writable), never touched: no address-space limit stops it
    r = measure(FIXTURES / "reserves", "fx", "v", limits=QUICK, out=tmp_path, go=go)
    assert not r.capped and r.verdict != "leak", r.reason
    said = (tmp_path / "fx" / "v" / "stdout.txt").read_text()
    assert "reserved=128 GiB" in said
    assert "oom_score_adj=1000" in said, "the program is the OOM killer's first choice, not leaklab"
    assert not _left_behind(tmp_path)


def _own_mounts_or_skip():
    """Skip unless a mount namespace can be made here (root, or user namespaces): a tmpfs of our own to fill."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "--map-root-user", "true"],
                                                         capture_output=True, timeout=30).returncode != 0:
        pytest.skip("needs `unshare --mount --map-root-user` (root or unprivileged user namespaces)")


def _leaklab_on_a_tmpfs(tmp_path, tagged, options, fixture="floods"):
    """Run `leaklab run --program FIXTURE --out DISK/runs` with DISK a tmpfs mounted with ``options`` in a mount
    namespace of its own (gone with it): (exit status, stderr, what DISK/runs/program-FIXTURE held)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o {options} leaklab-test '{disk}'
rc=0
'{sys.executable}' -m leaklab.cli run --program '{FIXTURES / fixture}' --duration 10 --no-diagnose \\
    --out '{disk}/runs' 2> '{tmp_path}/err.txt' || rc=$?
echo "rc=$rc"
if cd '{disk}/runs/program-{fixture}' 2>/dev/null; then find . -mindepth 1 | sort; fi
"""
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "bash", "-eu", "-c", script], env=tagged.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status, *held = done.stdout.splitlines()
    return int(status.removeprefix("rc=")), (tmp_path / "err.txt").read_text(), held


def _one_message(err):
    """What leaklab said, on one line, if it said one thing and no traceback (its console may wrap the line)."""
    return " ".join(err.split()) if err.count("leaklab:") == 1 and "Traceback" not in err else None


@pytest.mark.slow
def test_a_full_disk_keeps_the_run_as_failed_and_exits_2(go, tmp_path, tagged):
    _own_mounts_or_skip()
    from leaklab.build import build
    size = build(FIXTURES / "floods", tmp_path / "probe-size", go).stat().st_size
    # room for the binary and 1 MiB more: the program's output fills the disk after the build
    status, err, held = _leaklab_on_a_tmpfs(tmp_path, tagged, f"size={size // 1024 + 1024}k")
    assert status == 2, err
    assert "No space left on device" in (_one_message(err) or ""), err
    assert "./program.failed/samples.jsonl" in held and "./program.failed/stdout.txt" in held, held
    assert not any("partial" in h for h in held), held
    assert not tagged.left_behind(within=2)
    assert list(tagged.tmp.iterdir()) == []


@pytest.mark.slow
def test_a_read_only_out_is_one_line_and_exit_2(tmp_path, tagged):
    _own_mounts_or_skip()
    status, err, held = _leaklab_on_a_tmpfs(tmp_path, tagged, "ro,size=64k")
    assert status == 2, err
    assert "Read-only file system" in (_one_message(err) or ""), err
    assert not tagged.left_behind(within=2)
    assert list(tagged.tmp.iterdir()) == []


def test_an_out_that_is_a_file_is_one_line_and_exit_2(leaklab, tmp_path):
    (tmp_path / "runs").write_text("not a folder\n")
    status, _, err = leaklab("run", "--program", FIXTURES / "floods", "--out", tmp_path / "runs")
    assert status == 2, err
    assert "Not a directory" in (_one_message(err) or ""), err


def test_leaklab_is_a_subreaper_only_while_it_watches_and_as_it_was_after():
    from leaklab.stopping import _PR_GET_CHILD_SUBREAPER, _prctl, subreaper
    before = _prctl(_PR_GET_CHILD_SUBREAPER)
    with subreaper() as agreed:
        assert agreed and _prctl(_PR_GET_CHILD_SUBREAPER) == 1
        with subreaper():  # runs that overlap (threads): the first to end does not end it for the other
            pass
        assert _prctl(_PR_GET_CHILD_SUBREAPER) == 1
    assert _prctl(_PR_GET_CHILD_SUBREAPER) == before


@pytest.mark.slow
def test_a_signal_ends_runs_watched_by_other_threads_within_signals_end_runs(go, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from leaklab.build import build
    from leaklab.run import execute, signals_end_runs
    binary = build(FIXTURES / "heap_leak", tmp_path / "bin", go)
    folders = [tmp_path / name for name in ("a", "b")]
    for folder in folders:
        folder.mkdir()
    long = dataclasses.replace(QUICK, duration_s=60)

    def sampling():  # both programs are running: then the signal
        deadline = time.monotonic() + 30
        while not all((f / "samples.jsonl").is_file() and (f / "samples.jsonl").read_text() for f in folders):
            assert time.monotonic() < deadline, "the programs never started"
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    began = time.monotonic()
    with signals_end_runs(), ThreadPoolExecutor(3) as pool:
        sender = pool.submit(sampling)
        runs = [pool.submit(execute, binary, f, long, return_interrupted=True) for f in folders]
        outcomes = [r.result(timeout=60) for r in runs]
        sender.result()
    assert all(o.interrupted and o.signum == signal.SIGTERM for o in outcomes)
    assert time.monotonic() - began < 30, "the runs went on to their time limit"
    assert not _left_behind(tmp_path)
