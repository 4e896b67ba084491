"""Load for a program under test: HTTP requests at a steady rate to its loopback port, counted as its work.

A server that nobody calls never leaks, so ``leaklab run --program DIR --load URL`` sends it requests
while it is measured. The requests come from vegeta (github.com/tsenart/vegeta/v12), a well-kept
load generator, used as a Go library in a small driver that is package data
(``loaddriver/main.go``). It is built once per Go toolchain, like the probe is built into each
program, and kept in :data:`CACHE`; the first build fetches vegeta from the Go module proxy.

Vegeta keeps to its rate whatever the server does (an open model): a slow server still gets the
requests it is due, and its slowness shows in the latencies, instead of the load easing off as a
client waiting for each answer would. The driver dials loopback addresses only, uses no proxy and
follows no redirect. It opens at most 8 connections to a host: a server keeps buffers for each
connection it holds, and connections opened whenever answers are slow (on a busy machine) would grow
its memory with the load's latency, not with its work.

The driver first asks every URL until it answers (any HTTP status); the warm-up starts then. It
writes its counts every 50 ms as JSON lines (``load.jsonl`` in the run folder) in CLOCK_MONOTONIC
seconds, which :class:`LoadRun` turns into the program's clock and merges into the samples as the
columns ``load.sent``, ``load.answered`` (a 2xx or 3xx response) and ``load.failed`` (an error, a
timeout or a 4xx/5xx status). Answered requests are the run's work: memory kept per request is
judged on them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import os
import platform
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .errors import BadParameter, BuildFailed
from .paths import resource
from .probe import Samples
from .runfolder import RunFolder
from .toolchain import GoToolchain

__all__ = ["ANSWERED", "CACHE", "DEFAULT_RATE", "PORT", "Load", "LoadRun", "check_url", "describe", "driver",
           "fill_port", "free_port", "ready_timeout"]

#: The column of answered requests merged into a run's samples: the work a loaded run is judged on.
ANSWERED = "load.answered"
#: The same numbers under the name the verdict reads a work counter by (``expvar.<work>``).
_WORK_ALIAS = f"expvar.{ANSWERED}"
#: Requests per second when --rate is not given.
DEFAULT_RATE = 200
MAX_RATE = 20000
#: The placeholder for the port the lab chooses, in the program's arguments, --env values and --load URLs.
PORT = "{port}"
#: Where the driver is built to (override with $LEAKLAB_LOAD_CACHE).
CACHE = Path(os.environ.get("LEAKLAB_LOAD_CACHE", Path.home() / ".cache" / "leaklab" / "load"))
#: The longest the lab waits for the program's first answer.
READY_TIMEOUT_S = 10.0
#: With every request failing this long after the first answer, the run stops.
ALL_FAILING_S = 1.0

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


@dataclasses.dataclass(frozen=True)
class Load:
    """What to send: GET requests to ``urls`` in turn, ``rate`` a second in all."""

    urls: tuple[str, ...]
    rate: int = DEFAULT_RATE
    #: A request taking longer counts as failed.
    timeout_s: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "urls", tuple(self.urls))
        if not self.urls:
            raise BadParameter("--load needs at least one URL")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int) or not 1 <= self.rate <= MAX_RATE:
            raise BadParameter(f"--rate must be a whole number of requests per second from 1 to {MAX_RATE}, "
                               f"not {self.rate!r}")
        for url in self.urls:
            check_url(url)

    def as_dict(self) -> dict:
        return {"urls": list(self.urls), "rate": self.rate, "timeout_s": self.timeout_s}


def check_url(url: str) -> None:
    """Raise :class:`BadParameter` unless ``url`` is an http(s) URL on this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadParameter(f"--load wants an http:// URL such as http://127.0.0.1:{PORT}/, not {url!r}")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in _LOOPBACK_NAMES
    if not loopback:
        raise BadParameter(f"--load sends requests only to this machine's loopback (127.0.0.1, [::1] or "
                           f"localhost), so a run can never load someone else's server; {host!r} in {url!r} "
                           f"is not one")
    if PORT not in parts.netloc:
        try:
            _ = parts.port  # only for the ValueError a port that is not a number raises
        except ValueError:
            raise BadParameter(f"{url!r} has no valid port; write a number, or {PORT} for one the lab "
                               f"chooses") from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the system's choice, so two runs never collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_port(args: Sequence[str], env: Mapping[str, str], urls: Sequence[str]
              ) -> tuple[list[str], dict[str, str], list[str], int | None]:
    """Replace :data:`PORT` in the arguments, the environment's values and the URLs by one free port.

    Returns them with the port, or ``None`` when nothing asked for one. A URL that uses it while the
    program is told it nowhere would send the load to a port nobody listens on: :class:`BadParameter`.
    """
    told = any(PORT in a for a in args) or any(PORT in v for v in env.values())
    if not told and any(PORT in u for u in urls):
        raise BadParameter(f"--load uses {PORT}, but the program is not told which port that is: pass it in its "
                           f"arguments (e.g. `-- -addr 127.0.0.1:{PORT}`) or in an --env value "
                           f"(e.g. `--env PORT={PORT}`)")
    if not told:
        return list(args), dict(env), list(urls), None
    port = free_port()
    fill = str(port)
    return ([a.replace(PORT, fill) for a in args], {k: v.replace(PORT, fill) for k, v in env.items()},
            [u.replace(PORT, fill) for u in urls], port)


def ready_timeout(duration_s: float, warmup_s: float) -> float:
    """How long a run waits for the program's first answer: 10 s, or half what the run leaves to judge."""
    return min(READY_TIMEOUT_S, max(1.0, (duration_s - warmup_s) / 2))


def _sources() -> list[Path]:
    folder = resource("loaddriver")
    return sorted(p for p in folder.iterdir() if p.name in ("main.go", "go.mod", "go.sum"))


#: Held while this process builds the load driver.
_BUILDING = threading.Lock()


def driver(go: GoToolchain, cache: Path | None = None) -> Path:
    """The load driver built by ``go``: from :data:`CACHE` when it was built before, else built now.

    The name carries a digest of its sources and the toolchain, so a new Go or a changed driver
    builds afresh. The build fetches vegeta from the Go module proxy once (then Go's module cache
    has it); without a network the first build fails with :class:`BuildFailed`, saying so.
    """
    digest = hashlib.sha256(f"{go.version} {platform.machine()}".encode())
    for path in _sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cache = Path(cache or CACHE)
    binary = cache / f"leaklab-load-{digest.hexdigest()[:16]}"
    with _BUILDING:  # two runs of one process (leaky and fixed side by side) build it once, not into one file
        if not binary.is_file():
            _build_driver(go, cache, binary)
    return binary


def _build_driver(go: GoToolchain, cache: Path, binary: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f".{binary.name}.{os.getpid()}.partial")
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOWORK": "off"}
    try:
        proc = go.run("build", "-trimpath", "-o", str(partial), ".", cwd=resource("loaddriver"), env=env, timeout=600)
    except BaseException:  # interrupted, or too slow: nothing half-built is left in the cache
        partial.unlink(missing_ok=True)
        raise
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildFailed(f"could not build the load driver (vegeta, fetched once from the Go module proxy and "
                          f"then cached in {cache}): check the network or $GOPROXY.\n{proc.stderr.strip()[-1500:]}")
    os.replace(partial, binary)


class LoadRun:
    """The driver sending one run's load, and what it has reported, in the program's clock.

    :meth:`start` is called as the program starts (``origin`` is that moment, ``time.monotonic()``);
    :meth:`close` stops the driver, whatever happened, and reads its last record.
    """

    def __init__(self, binary: Path, load: Load, path: Path) -> None:
        self.binary, self.load, self.path = binary, load, path
        self.origin = 0.0
        self.popen: subprocess.Popen | None = None
        self.ready_t: float | None = None
        self.first_status: dict[str, int | None] = {}
        self.end: dict | None = None
        self.last_error = ""
        self._t: list[float] = []
        self._counts: list[tuple[float, float, float]] = []
        self._offset = 0
        self._rest = b""
        self._stopped: float | None = None

    def start(self, origin: float) -> None:
        """Start the driver; it asks the URLs until they answer, then sends the load."""
        self.origin = origin
        argv = [str(self.binary), "-out", str(self.path), "-rate", str(self.load.rate),
                "-timeout", f"{self.load.timeout_s}s"]
        for url in self.load.urls:
            argv += ["-target", url]
        with open(RunFolder(self.path.parent).load_stderr, "wb") as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                          start_new_session=True)

    def stop(self) -> None:
        """Ask the driver to end its attack (it writes its last record and exits)."""
        if self.popen is None or self._stopped is not None:
            return
        self._stopped = time.monotonic()
        assert self.popen.stdin is not None  # started with stdin=PIPE
        try:
            self.popen.stdin.write(b"stop\n")
            self.popen.stdin.close()
        except OSError:
            pass  # it has ended already

    def ended(self, within: float = 1.0) -> bool:
        """Whether the driver, asked to stop, has ended (or had ``within`` seconds to, and is past waiting for)."""
        if self.popen is None or self.popen.poll() is not None:
            return True
        return self._stopped is not None and time.monotonic() - self._stopped > within

    def close(self, within: float = 5.0) -> None:
        """Stop the driver and wait for its last record; past ``within`` seconds its group is killed."""
        if self.popen is None:
            return
        self.stop()
        try:
            self.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self.poll()

    def poll(self) -> None:
        """Read what the driver appended since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            self._record(line)

    def _record(self, line: bytes) -> None:
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if not isinstance(rec, dict) or not isinstance(rec.get("mono"), int | float):
            return
        t = float(rec["mono"]) - self.origin
        kind = rec.get("type")
        if kind == "answered" and isinstance(rec.get("url"), str):
            self.first_status[rec["url"]] = rec.get("status")
        if kind == "ready":
            self.ready_t = t
            self.first_status = rec.get("status") or self.first_status
        elif kind in ("counts", "end") and all(isinstance(rec.get(k), int) for k in ("sent", "answered", "failed")):
            self._t.append(t)
            self._counts.append((rec["sent"], rec["answered"], rec["failed"]))
            self.last_error = rec.get("last_error") or self.last_error
        if kind == "end":
            self.end = rec

    @property
    def counts(self) -> tuple[int, int, int]:
        """Requests sent, answered and failed so far."""
        sent, answered, failed = self._counts[-1] if self._counts else (0, 0, 0)
        return int(sent), int(answered), int(failed)

    def merge(self, samples: Samples) -> Samples:
        """``samples`` with the load's columns, at each sample's time (0 before the first answer)."""
        t = samples.t
        columns = dict(samples.columns)
        if self._counts:
            at, counts = np.asarray(self._t), np.asarray(self._counts, dtype=float)
            values = [np.interp(t, at, counts[:, i], left=0.0) for i in range(3)]
        else:
            values = [np.zeros(len(t)) for _ in range(3)]
        for name, v in zip(("load.sent", ANSWERED, "load.failed"), values, strict=True):
            columns[name] = v
        columns[_WORK_ALIAS] = columns[ANSWERED]
        return dataclasses.replace(samples, columns=columns)

    def problem(self, elapsed: float, timeout_s: float) -> str | None:
        """Why the run cannot go on, ``elapsed`` seconds after the program started, or None."""
        urls = ", ".join(self.load.urls)
        if self.ready_t is None:
            silent = ", ".join(u for u in self.load.urls if u not in self.first_status)
            if self.popen is not None and self.popen.poll() is not None and self._stopped is None:
                return f"the load driver ended before the program answered: {self._driver_words()}"
            if elapsed > timeout_s:
                return (f"the program never answered {silent or urls} in the {timeout_s:g} s the lab waited: is it "
                        f"listening on that address and port (its arguments and --env), and serving HTTP?")
            return None
        if self.popen is not None and self.popen.poll() is not None and self._stopped is None:
            return f"the load driver ended on its own: {self._driver_words()}"
        sent, answered, failed = self.counts
        if answered == 0 and failed > 0 and elapsed - self.ready_t > ALL_FAILING_S:
            return (f"every request failed: {failed} of {sent} sent to {urls} in {elapsed - self.ready_t:.1f} s, "
                    f"none answered with a 2xx or 3xx status (the last error: {self.last_error or 'unknown'}); "
                    f"is the URL right?")
        return None

    def _driver_words(self) -> str:
        words = RunFolder(self.path.parent).load_stderr
        return (words.read_text(errors="replace").strip()[-500:] if words.is_file() else "") or "no message"

    def summary(self) -> dict:
        """What the load did, for the run's result (answered per second from the first answer to its last count)."""
        sent, answered, failed = self.counts
        end = self.end or {}
        span = self._t[-1] - self.ready_t if self.ready_t is not None and self._t else 0.0
        return {
            "urls": list(self.load.urls), "rate": self.load.rate,
            "ready_after_s": round(self.ready_t, 3) if self.ready_t is not None else None,
            "sent": sent, "answered": answered, "failed": failed,
            "answered_per_s": round(answered / span, 1) if span > 0 else None,
            "latency_ms": {k: round(v, 3) for k, v in (end.get("latency_ms") or {}).items()} or None,
            "status_codes": end.get("status_codes") or {},
            "errors": end.get("errors") or {},
        }


def describe(summary: Mapping) -> str:
    """One line for people: ``load: 200 req/s to ...; sent 1,203, answered 1,203 (199.8/s), failed 0; ...``."""
    lat = summary.get("latency_ms") or {}
    latency = ", ".join(f"{k} {lat[k]:.1f} ms" for k in ("p50", "p90", "p99", "max") if k in lat)
    per_s = summary.get("answered_per_s")
    return (f"load: {summary['rate']} req/s asked of {', '.join(summary['urls'])}; sent {summary['sent']:,}, "
            f"answered {summary['answered']:,}" + (f" ({per_s:,.1f}/s)" if per_s else "")
            + f", failed {summary['failed']:,}" + (f"; latency {latency}" if latency else ""))
