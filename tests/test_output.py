"""A program's output is kept within bounds: its start and its end, and a note of what was dropped between."""

import errno
import os
import subprocess
import sys
from pathlib import Path

from leaklab.output import Output


def test_a_short_output_is_kept_whole(tmp_path):
    with Output(tmp_path / "out", tmp_path / "err", head=10, tail=10) as output:
        os.write(output.fds[0], b"hello\n")
        output.started()
    assert (tmp_path / "out").read_bytes() == b"hello\n" and (tmp_path / "err").read_bytes() == b""
    assert output.dropped == {"stdout": 0, "stderr": 0} and output.error is None


def test_a_long_output_keeps_its_head_and_its_tail_and_says_what_was_dropped(tmp_path):
    with Output(tmp_path / "out", tmp_path / "err", head=10, tail=10) as output:
        for i in range(1000):
            os.write(output.fds[1], b"%04d\n" % i)
        output.started()
    kept = (tmp_path / "err").read_bytes()
    assert kept == (b"0000\n0001\n\n[leaklab: 4,980 bytes of stderr dropped here; the first 10 bytes and the last "
                    b"10 bytes are kept]\n0998\n0999\n")
    assert output.dropped == {"stdout": 0, "stderr": 4980}


def test_a_child_writing_fast_is_read_as_fast_and_never_blocks(tmp_path):
    # 200 MB through the pipe: the child ends only if the reader keeps up and drops the middle
    with Output(tmp_path / "out", tmp_path / "err") as output:
        child = subprocess.Popen([sys.executable, "-c", "import os\nfor _ in range(200): os.write(1, b'x' * 2**20)"],
                                 stdout=output.fds[0], stderr=output.fds[1])
        output.started()
        assert child.wait(timeout=60) == 0
    assert (tmp_path / "out").stat().st_size < 8 * 2**20 + 200
    assert output.dropped["stdout"] == 200 * 2**20 - 8 * 2**20


def test_a_full_disk_is_kept_as_the_error_and_the_pipe_still_drained(tmp_path):
    # /dev/full: every write fails with ENOSPC, as on a full disk; the writer must not block on a full pipe
    with Output(Path("/dev/full"), tmp_path / "err") as output:
        child = subprocess.Popen([sys.executable, "-c", "import os\nfor _ in range(20): os.write(1, b'x' * 2**20)"],
                                 stdout=output.fds[0], stderr=output.fds[1])
        output.started()
        assert child.wait(timeout=60) == 0
    assert output.error is not None and output.error.errno == errno.ENOSPC
