"""Measure a Go program end to end: build it with the probe, run it under limits, judge the curves,
and keep everything in a run folder.

A run folder holds ``samples.jsonl`` (the probe's records), ``meta.json`` (provenance and
parameters), ``result.json`` (the verdicts), the program's ``stdout.txt``/``stderr.txt`` and
``binary``. A finished run replaces ``OUT/<family>/<variant>/`` in one rename, so a failed run never
spoils a good one: failed and interrupted runs are kept beside it as ``<variant>.failed``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import shutil
import signal as signal_module
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .build import build
from .cases import Family, get_family
from .errors import BadParameter, Interrupted, ProgramFailed
from .load import ANSWERED, Load, LoadRun, fill_port, ready_timeout
from .load import driver as load_driver
from .probe import Samples, SampleStream
from .profiles import diagnosis_fields, leak_profile_env
from .run import DEFAULT_OUT, Limits, Outcome, execute
from .runfolder import RunFolder, clean_stale_partials, partial_folder
from .testloop import ITERATIONS, build_test, run_arguments
from .toolchain import GoToolchain, find_go
from .verdict import Judgement, Sequential, SignalVerdict, explain, judge_samples, signal_points

#: How long a family's growth must persist before an early verdict. Its programs reach their steady state
#: within the warm-up; an unknown program gets a third of its window (see verdict.settle_for).
FAMILY_SETTLE_S = 1.5

#: How many recent points a live view shows.
LIVE_POINTS = 48

__all__ = ["DEFAULT_OUT", "LiveView", "Result", "run_family", "run_program", "measure", "load_result"]


#: The signals a program the lab has never seen is judged on.
PROGRAM_SIGNALS = ["heap_bytes", "goroutines", "outside_go_bytes"]

Progress = Callable[[str, float, int], None]


@dataclasses.dataclass(frozen=True)
class LiveView:
    """What a run shows while it runs: the recent points of the signal its verdict reads, and the verdict so far."""

    label: str
    elapsed_s: float
    rss_bytes: int
    signal: str
    recent: tuple[float, ...]  # the last points of ``signal``, oldest first
    verdict: str  # "watching" until the first look, then leak, flat or inconclusive
    rate_per_s: float
    decided: bool


Live = Callable[[LiveView], None]


@dataclasses.dataclass
class Result:
    """One variant's run: the verdict on its signal, the numbers behind it, where its data is."""

    family: str
    variant: str
    verdict: str
    signal: str
    rate_per_s: float
    unit: str
    reason: str
    duration_s: float
    samples: int
    go_version: str
    capped: bool
    run_dir: str
    #: Program time at which the verdict was certain (the run then stopped), or None if it never was.
    decided_after_s: float | None = None
    #: Why the run ended: "decided", "max duration", "memory cap".
    stopped: str = "max duration"
    expected: str | None = None
    work_rate_per_s: float | None = None
    signals: dict = dataclasses.field(default_factory=dict)
    #: With profiles: growing allocation sites, goroutine groups, the goroutine leak profile (leaklab.profiles).
    top_sites: list | None = None
    top_goroutines: list | None = None
    leak_profile: dict | None = None
    #: With --load: requests sent, answered and failed, answered per second, latency percentiles (leaklab.load).
    load: dict | None = None

    def as_dict(self) -> dict:
        """The result as strict JSON values (NaN and infinities as None)."""
        return _strict(dataclasses.asdict(self))


def _strict(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


#: Sampling faster than this costs more than it tells (and the harness keeps every sample).
MIN_INTERVAL_S = 0.01


def check_limits(limits: Limits) -> None:
    """Raise :class:`BadParameter` when run limits make no sense."""
    numbers = {"--interval": limits.interval_s, "--duration": limits.duration_s, "--warmup": limits.warmup_s,
               "--mem-cap": limits.mem_cap_bytes, "--settle": limits.settle_s if limits.settle_s is not None else 1.0}
    for name, value in numbers.items():
        if not math.isfinite(value):
            raise BadParameter(f"{name} must be a finite number, not {value}")
    if not MIN_INTERVAL_S <= limits.interval_s <= 5:
        raise BadParameter(f"--interval must be between {MIN_INTERVAL_S:g} and 5 seconds, not {limits.interval_s:g}")
    if not 0 < limits.duration_s <= 3600:
        raise BadParameter(f"--duration must be between 0 and 3600 seconds, not {limits.duration_s:g}")
    if limits.warmup_s < 0 or limits.warmup_s >= limits.duration_s:
        raise BadParameter(f"--warmup ({limits.warmup_s:g} s) must be shorter than --duration "
                           f"({limits.duration_s:g} s)")
    if limits.mem_cap_bytes < 16 * 1024 * 1024:
        raise BadParameter("--mem-cap must be at least 16 MiB")


def _provenance(go: GoToolchain, binary: Path, package: Path, limits: Limits, env: dict[str, str]) -> dict:
    info = go.run("version", "-m", str(binary), timeout=60).stdout
    build_settings = dict(line.split("\t")[2].split("=", 1) for line in info.splitlines()
                          if line.startswith("\tbuild\t") and "=" in line)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "go_version": go.version, "goroot": go.goroot,
        "goexperiment": build_settings.get("GOEXPERIMENT", go.goexperiment),
        "godebug": env.get("GODEBUG", os.environ.get("GODEBUG", "")),
        "cgo_enabled": build_settings.get("CGO_ENABLED", ""),
        "build_settings": build_settings, "package": str(package),
        "parameters": dataclasses.asdict(limits),
        "host": {"machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count(),
                 "python": platform.python_version()},
        "leaklab_version": __version__,
    }


def _failure(outcome: Outcome, run_dir: Path, samples: int, limits: Limits, ended: bool = True,
             last_t: float = 0.0, watch: _Watch | None = None) -> str | None:
    # Its last words: what it wrote on stderr, else on stdout (where a test binary reports a failure).
    tail = RunFolder(run_dir).last_words(15)
    if outcome.interrupted:
        return None
    if outcome.timed_out:
        return (f"the program was still running {limits.grace_s:g} s after its {limits.duration_s:g} s run "
                f"and was killed; {samples} samples kept")
    if outcome.capped:
        return None
    if watch is not None and watch.load is not None:
        problem = _load_failure(outcome, watch, ended, tail)
        if problem:
            return problem
    if outcome.returncode not in (0, None):
        how = (f"was killed by signal {-outcome.returncode}" if outcome.returncode < 0
               else f"exited with status {outcome.returncode}")
        return f"the program {how} after {outcome.wall_s:.1f} s ({samples} samples kept). Its last words:\n{tail}"
    if not ended and not outcome.stopped_early and last_t < limits.warmup_s:
        what = ("without producing a single sample" if samples <= 1 else
                f"before the {limits.warmup_s:g} s warm-up ended ({samples} samples)")
        return (f"the program exited on its own after {outcome.wall_s:.1f} s {what}: a program must keep working "
                f"until the lab stops it (does main return at once?)" + (f"\n{tail}" if tail else ""))
    return None


def _load_failure(outcome: Outcome, watch: _Watch, ended: bool, tail: str) -> str | None:
    """Why a loaded run failed: the server never answered, every request failed, or the program left."""
    words = f" Its last words:\n{tail}" if tail else " It printed nothing."
    if watch.problem:
        return watch.problem + words
    if outcome.stopped_early or ended:
        return None
    load = watch.load
    assert load is not None  # only a loaded run gets here
    how = (f"was killed by signal {-(outcome.returncode or 0)}" if (outcome.returncode or 0) < 0
           else f"exited with status {outcome.returncode}")
    if load.ready_t is None:
        return f"the program {how} after {outcome.wall_s:.1f} s, before it answered {', '.join(load.load.urls)}.{words}"
    sent, answered, failed = load.counts
    return (f"the program {how} after {outcome.wall_s:.1f} s while under load ({answered:,} of {sent:,} requests "
            f"answered, {failed:,} failed): a server must keep serving until the lab stops it.{words}")


def _place(tmp: Path, final: Path) -> Path:
    """Move a finished run folder to ``final``, replacing an older one in one rename."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def measure(package: Path, family: str, variant: str, *, limits: Limits = Limits(), out: Path = DEFAULT_OUT,
            signal: str | None = None, go: GoToolchain | None = None, env: dict[str, str] | None = None,
            profiles: bool = False, progress: Progress | None = None, live: Live | None = None,
            expected: str | None = None,
            work: str = "", go_directive: str | None = None, args: Sequence[str] = (), cwd: Path | None = None,
            program_env: dict[str, str] | None = None, load: Load | None = None, test: str | None = None) -> Result:
    """Build, run and judge the main package in ``package``.

    ``signal`` is the curve the verdict reads; ``None`` judges every signal a program can leak through
    and names the one that grows. ``env`` is for the build and the run, ``program_env`` for the run
    only; both add to leaklab's own environment, which the program inherits. The program runs as
    ``binary ARGS`` in ``cwd`` (default: the run folder) with stdin closed. :data:`~leaklab.load.PORT`
    in ``args``, ``program_env`` values and ``load`` URLs is replaced by a free loopback port.

    With ``load``, the lab sends it HTTP requests (:mod:`leaklab.load`): the warm-up starts when it
    first answers, and answered requests are its work. Raises :class:`ProgramFailed` (samples kept)
    when the program crashes, hangs, never samples, never answers or exits under load; re-raises
    ``KeyboardInterrupt`` after saving what was gathered.

    With ``test`` (a pattern), the package's tests and benchmarks that match it run in a loop
    (:mod:`leaklab.testloop`), and its rounds are the work.
    """
    check_limits(limits)
    if test is not None and load is not None:
        raise BadParameter("--test and --load do not go together: a test loop is its own load")
    if test is not None:
        loop_args, loop_env = run_arguments(test)
        args, program_env, work = [*loop_args, *args], {**(program_env or {}), **loop_env}, ITERATIONS
    args, program_env, urls, port = fill_port(args, program_env or {}, load.urls if load else ())
    if load:
        load = dataclasses.replace(load, urls=tuple(urls))
        work = ANSWERED
    if cwd is not None and not Path(cwd).is_dir():
        raise BadParameter(f"--cwd must be a folder; {cwd} is not one")
    go = go or find_go()
    env = env or {}
    final = out / family / variant
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(final.parent)  # what runs killed outright left here (leaklab.runfolder)
    run_dir = partial_folder(final.parent, variant)
    try:
        # GODEBUG is for the program: the go command is a Go program too, and must not get it.
        build_env = {k: v for k, v in env.items() if k != "GODEBUG"}
        if profiles:  # Go 1.26 has the goroutine leak profile only as an experiment chosen at build time
            build_env.update(leak_profile_env(go, build_env.get("GOEXPERIMENT")))
        binary = (build_test(package, RunFolder(run_dir).binary, go, env=build_env) if test is not None else
                  build(package, RunFolder(run_dir).binary, go, env=build_env, go_directive=go_directive))
        loading = LoadRun(load_driver(go), load, RunFolder(run_dir).load) if load else None
        if profiles:
            env = {**env, "LEAKLAB_PROFILE_DIR": str(run_dir.resolve())}
        meta = {**_provenance(go, binary, package, limits, env), "go_directive": go_directive or "",
                "program": {"args": list(args), "cwd": str(Path(cwd or run_dir).resolve()),
                            "env": sorted(program_env), "port": port, "load": load.as_dict() if load else None,
                            "test": test}}
        names = [signal] if signal else PROGRAM_SIGNALS
        watch = _Watch(RunFolder(run_dir).samples, names, limits, work, loading)
        label = f"{family}/{variant}"
        try:
            outcome = execute(binary, run_dir, limits, env={**env, **program_env}, return_interrupted=True,
                              args=args, cwd=cwd, on_start=loading.start if loading else None,
                              on_tick=lambda el, rss: watch.tick(el, rss, progress, label, live))
        finally:
            if loading:
                loading.close()
        RunFolder(run_dir).meta.write_text(json.dumps({**meta, "outcome": dataclasses.asdict(outcome)}, indent=2))
        samples = watch.final()
        problem = _failure(outcome, run_dir, len(samples), limits, samples.ended,
                           float(samples.t[-1]) if len(samples) else 0.0, watch)
        if problem or outcome.interrupted:
            failed = _place(run_dir, final.with_name(f"{variant}.failed"))
            if outcome.interrupted:
                raise Interrupted(f"interrupted; samples kept in {failed}", outcome.signum or signal_module.SIGINT)
            raise ProgramFailed(f"{family}/{variant}: {problem}\n(run folder: {failed})", str(failed))
        judged = watch.decision or watch.judge(samples, final=True)
        seen = {**judge_samples(samples, watch.warmup_s, work=work or None, now=judged.t), **judged.signals}
        chosen = _capped(explain(judged.overall, seen), outcome, limits)
        loaded = loading.summary() if loading else None
        result = Result(family=family, variant=variant, verdict=chosen.verdict, signal=chosen.signal,
                        rate_per_s=chosen.rate_per_s, unit=chosen.unit, reason=chosen.reason,
                        duration_s=round(float(samples.t[-1]) if len(samples) else 0.0, 3), samples=len(samples),
                        go_version=go.version, capped=outcome.capped, run_dir=str(final.resolve()),
                        decided_after_s=round(judged.t, 3) if watch.decision else None,
                        stopped="memory cap" if outcome.capped else "decided" if watch.decision else "max duration",
                        expected=expected,
                        work_rate_per_s=loaded["answered_per_s"] if loaded else _work_rate(samples, work),
                        signals={n: v.as_dict() for n, v in seen.items()},
                        load=loaded,
                        **(diagnosis_fields(run_dir, go.goroot, _heap_leak_rate(seen)) if profiles else {}))
        RunFolder(run_dir).result.write_text(json.dumps(result.as_dict(), indent=2, allow_nan=False))
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    _place(run_dir, final)
    return result


class _Watch:
    """Reads a run's samples while it runs and judges them at each look; says when the run may stop.

    With load, the warm-up starts when the program first answers, so the looks are planned then; the
    load's counts are merged into the samples; a server that never answers, or whose every request
    fails, ends the run with :attr:`problem` set.
    """

    def __init__(self, path: Path, names: list[str], limits: Limits, work: str, load: LoadRun | None = None) -> None:
        self.stream = SampleStream(path)
        self.names, self.limits, self.work, self.load = names, limits, work, load
        self.sequential = limits.sequential
        self.seq: Sequential | None = None
        self.warmup_s = limits.warmup_s
        self.decision: Judgement | None = None
        self.latest: Judgement | None = None
        self.problem: str | None = None
        if load is None:
            self._plan(limits.warmup_s)

    def _plan(self, warmup_s: float) -> None:
        self.warmup_s = warmup_s
        window = self.limits.duration_s - warmup_s
        if window <= 0:
            self.problem = (f"the program first answered after {warmup_s - self.limits.warmup_s:.1f} s, which leaves "
                            f"nothing of the {self.limits.duration_s:g} s run to judge after the warm-up: "
                            f"give it a longer --duration")
            return
        self.seq = Sequential(self.names, warmup_s, window, work=self.work or None, settle_s=self.limits.settle_s)

    def tick(self, elapsed: float, rss: int, progress: Progress | None, label: str, live: Live | None) -> bool:
        fresh = self.stream.poll()
        if self.load is not None:
            self._load_tick(elapsed)
        if fresh and self.seq is not None and self.decision is None and self.problem is None:
            samples = self.samples()
            if self.seq.due(float(samples.t[-1])):
                self.latest = self.seq.look(samples)
                if self.latest.decided and self.sequential:
                    self.decision = self.latest
        done = self.decision is not None or self.problem is not None
        if self.load is not None and done:
            # The load ends first, so no request fails as the program ends, and the last profiles are taken without it.
            self.load.stop()
            done = self.load.ended()
        if progress:
            progress(label, elapsed, rss)
        if live:
            live(self.view(label, elapsed, rss))
        return done

    def _load_tick(self, elapsed: float) -> None:
        load = self.load
        assert load is not None  # called only with load
        load.poll()
        if self.problem is None:
            self.problem = load.problem(elapsed, ready_timeout(self.limits.duration_s, self.limits.warmup_s))
        if self.seq is None and self.problem is None and load.ready_t is not None:
            self._plan(load.ready_t + self.limits.warmup_s)
        if elapsed >= self.limits.duration_s - 2 * self.limits.interval_s:
            load.stop()  # the probe ends the program at its duration: no request is left to fail then

    def samples(self) -> Samples:
        """The samples so far, with the load's columns when there is load."""
        samples = self.stream.samples()
        return self.load.merge(samples) if self.load is not None else samples

    def view(self, label: str, elapsed: float, rss: int) -> LiveView:
        latest = self.decision or self.latest
        name = latest.overall.signal if latest and latest.signals else self.names[0]
        samples = self.stream.samples()
        recent: tuple[float, ...] = ()
        if len(samples) and name in samples.columns:
            _, y, _ = signal_points(samples, name)
            recent = tuple(float(v) for v in y[-LIVE_POINTS:])
        return LiveView(label, elapsed, rss, name, recent, latest.overall.verdict if latest else "watching",
                        latest.overall.rate_per_s if latest else float("nan"), self.decision is not None)

    def judge(self, samples: Samples, *, final: bool) -> Judgement:
        if self.seq is None:  # a loaded program that never answered: judged as if from its start
            self._plan(self.limits.warmup_s)
        assert self.seq is not None  # check_limits keeps the warm-up shorter than the run
        return self.seq.look(samples, final=final)

    def final(self) -> Samples:
        self.stream.poll()
        if self.load is not None:
            self.load.poll()
        return self.samples()


def _heap_leak_rate(seen: dict[str, SignalVerdict]) -> float | None:
    heap = seen.get("heap_bytes")
    return heap.rate_per_s if heap is not None and heap.verdict == "leak" else None


def _capped(chosen: SignalVerdict, outcome: Outcome, limits: Limits) -> SignalVerdict:
    """Reaching the memory cap is a leak, whatever the curve said so far."""
    if outcome.capped:
        chosen = dataclasses.replace(chosen, verdict="leak", reason=(
            f"hit the {limits.mem_cap_bytes // 2**20} MiB memory cap after {outcome.wall_s:.1f} s; " + chosen.reason))
    return chosen


def _work_rate(samples: Samples, work: str) -> float | None:
    """Completed work per second: answered requests under load, else the expvar counter the program publishes."""
    column = work if work == ANSWERED else f"expvar.{work}"
    if not work or column not in samples.columns or len(samples) < 2:
        return None
    seen = np.isfinite(samples[column])  # a counter of a package initialised after the probe's first sample
    done, t = samples[column][seen], samples.t[seen]
    if work == ANSWERED:  # from the first answer on: before it, the server was starting
        began = np.flatnonzero(done > 0)
        if len(began) < 2:
            return None
        i = max(began[0] - 1, 0)
        done, t = done[i:], t[i:]
    if len(done) < 2:
        return None
    return float((done[-1] - done[0]) / (t[-1] - t[0]))


def run_family(family: str | Family, variant: str = "both", **kwargs) -> list[Result]:
    """Run one family's ``leaky`` and/or ``fixed`` variant and judge each on the family's signal."""
    fam = family if isinstance(family, Family) else get_family(family)
    variants = ["leaky", "fixed"] if variant == "both" else [variant]
    for v in variants:
        if v not in fam.expect:
            raise BadParameter(f"family {fam.name!r} has no variant {v!r}; it has: {', '.join(fam.variants)}")
    limits = kwargs.pop("limits", Limits())
    if limits.settle_s is None:  # the lab's own programs: no warm-up ramp to wait out after the warm-up
        limits = dataclasses.replace(limits, settle_s=FAMILY_SETTLE_S)
    return [measure(fam.package(v), fam.name, v, signal=fam.signal, expected=fam.expect[v].verdict,
                    work=fam.work, limits=limits, **kwargs) for v in variants]


def run_program(path: Path, **kwargs) -> Result:
    """Measure any Go main package the lab has never seen, on every signal it can leak through.

    It runs in its own folder unless ``cwd`` says otherwise, so relative paths in its arguments work;
    the other keywords are :func:`measure`'s (``args``, ``program_env``, ``load``...).
    """
    path = Path(path)
    if not path.is_dir():
        raise BadParameter(f"--program wants the folder of a Go main package; {path} is not a folder")
    kwargs.setdefault("work", "requests")  # judged per request too, where the program counts them (expvar)
    if kwargs.get("cwd") is None:
        kwargs["cwd"] = path.resolve()
    return measure(path, f"program-{path.resolve().name}", "program", **kwargs)


def load_result(run_dir: Path) -> Result:
    """Read back the result a run folder holds (``run_dir`` is where it was read, wherever it was written)."""
    return Result(**{**json.loads(RunFolder(run_dir).result.read_text()), "run_dir": str(Path(run_dir).resolve())})
