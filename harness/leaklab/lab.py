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
import os
import platform
import shutil
import signal as signal_module
import threading
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._json import finite
from .build import build
from .cases import Family, get_family
from .errors import BadParameter, Interrupted, ProgramFailed, RunFolderFailed
from .load import ANSWERED, Load, LoadRun, fill_port
from .load import driver as load_driver
from .probe import Samples
from .profiles import diagnosis_fields, leak_profile_env
from .run import DEFAULT_OUT, Limits, Outcome, check_limits, execute
from .runfolder import RunFolder, clean_stale_partials, partial_folder
from .testloop import ITERATIONS, build_test, run_arguments
from .toolchain import GoToolchain, find_go
from .verdict import SignalVerdict, explain, judge_samples
from .watch import Live, LiveView, Progress, Watch, cancelled, failure, side_by_side_runs, work_rate

#: How long a family's growth must persist before an early verdict (others: sequential.settle_for).
FAMILY_SETTLE_S = 1.0

__all__ = ["DEFAULT_OUT", "LiveView", "Result", "run_family", "run_program", "measure", "load_result"]


#: The signals a program the lab has never seen is judged on.
PROGRAM_SIGNALS = ["heap_bytes", "goroutines", "outside_go_bytes"]

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
    #: Program time the judged window starts at: the warm-up (counted from the first answer under load).
    warmup_s: float | None = None
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
        return finite(dataclasses.asdict(self))  # type: ignore[return-value]


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
            program_env: dict[str, str] | None = None, load: Load | None = None, test: str | None = None,
            cancel: threading.Event | None = None) -> Result:
    """Build, run and judge the main package in ``package``; keep it all in ``OUT/<family>/<variant>``.

    ``signal`` is the curve the verdict reads (``None``: every signal a program can leak through).
    ``env`` is for the build and the run, ``program_env`` for the run only; the program inherits
    leaklab's environment, runs as ``binary ARGS`` in ``cwd`` (default: the run folder), stdin closed;
    :data:`~leaklab.load.PORT` in ``args``, ``program_env`` and ``load`` URLs is a free loopback port.
    With ``load`` (:mod:`leaklab.load`) the warm-up starts at the first answer and answered requests are
    the work; with ``test`` (a pattern) the package's matching tests run in a loop (:mod:`leaklab.testloop`).
    Raises :class:`ProgramFailed` (samples kept) when the program crashes, hangs, never samples, never
    answers or exits under load; :class:`Interrupted` after saving what was gathered.
    """
    check_limits(limits)
    args, program_env, load, port, work = _program_inputs(test, load, args, program_env or {}, work)
    if cwd is not None and not Path(cwd).is_dir():
        raise BadParameter(f"--cwd must be a folder; {cwd} is not one")
    go = go or find_go()
    env = env or {}
    final = out / family / variant
    run_dir = _new_run_dir(out, final)
    with _KeptOnFailure(run_dir, final) as kept:
        binary = _build_binary(package, run_dir, go, env, profiles=profiles, test=test, go_directive=go_directive)
        kept.built = True
        loading = LoadRun(load_driver(go), load, RunFolder(run_dir).load) if load else None
        if profiles:
            env = {**env, "LEAKLAB_PROFILE_DIR": str(run_dir.resolve())}
        meta = {**_provenance(go, binary, package, limits, env), "go_directive": go_directive or "", "program": {
            "args": list(args), "cwd": str(Path(cwd or run_dir).resolve()), "env": sorted(program_env),
            "port": port, "load": load.as_dict() if load else None, "test": test}}
        watch = Watch(RunFolder(run_dir).samples, [signal] if signal else PROGRAM_SIGNALS, limits, work, loading,
                      profiled=profiles)
        label = f"{family}/{variant}"
        try:
            outcome = execute(binary, run_dir, limits, env={**env, **program_env}, return_interrupted=True,
                              args=args, cwd=cwd, on_start=loading.start if loading else None,
                              on_tick=lambda el, rss: watch.tick(el, rss, progress, label, live) or cancelled(cancel))
        finally:
            if loading:
                loading.close()
        RunFolder(run_dir).meta.write_text(json.dumps({**meta, "outcome": dataclasses.asdict(outcome)}, indent=2))
        samples = watch.final()
        problem = failure(outcome, run_dir, len(samples), limits, samples.ended,
                          float(samples.t[-1]) if len(samples) else 0.0, watch)
        if cancelled(cancel):  # the main thread was interrupted: so is this run (only it sees signals)
            outcome.interrupted, outcome.signum = True, outcome.signum or signal_module.SIGINT
        if problem or outcome.interrupted:
            _give_up(run_dir, final, label, problem, outcome)
        result = _judged(label, watch, samples, outcome, limits, work, loading, go, run_dir, final,
                         expected=expected, diagnose=profiles)
        RunFolder(run_dir).result.write_text(json.dumps(result.as_dict(), indent=2, allow_nan=False))
        _place(run_dir, final)
    return result


class _KeptOnFailure:
    """Whatever ends a run after its build, what it gathered stays, as ``<variant>.failed``; an OSError (a
    full disk, a folder removed under the run) becomes one line, :class:`RunFolderFailed`."""

    def __init__(self, run_dir: Path, final: Path) -> None:
        self.run_dir, self.final, self.built = run_dir, final, False

    def __enter__(self) -> _KeptOnFailure:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        kept = _keep_failed(self.run_dir, self.final) if self.built and self.run_dir.exists() else None
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if isinstance(exc, OSError):
            label = f"{self.final.parent.name}/{self.final.name}"
            raise RunFolderFailed(f"{label}: {_why(exc)}" +
                                  (f"; what the run gathered is kept in {kept}" if kept else ""), kept) from None


def _give_up(run_dir: Path, final: Path, label: str, problem: str | None, outcome: Outcome) -> None:
    """Keep a failed or interrupted run as ``<variant>.failed`` and raise what happened."""
    failed = _place(run_dir, final.with_name(f"{final.name}.failed"))
    if outcome.interrupted:
        raise Interrupted(f"interrupted; samples kept in {failed}", outcome.signum or signal_module.SIGINT)
    raise ProgramFailed(f"{label}: {problem}\n(run folder: {failed})", str(failed))


def _program_inputs(test: str | None, load: Load | None, args: Sequence[str], program_env: dict[str, str],
                    work: str) -> tuple[list[str], dict[str, str], Load | None, int | None, str]:
    """The program's arguments, environment, load and work counter, with a test loop's and the port filled in."""
    if test is not None and load is not None:
        raise BadParameter("--test and --load do not go together: a test loop is its own load")
    if test is not None:
        loop_args, loop_env = run_arguments(test)
        args, program_env, work = [*loop_args, *args], {**program_env, **loop_env}, ITERATIONS
    filled, program_env, urls, port = fill_port(args, program_env, load.urls if load else ())
    if load:
        load = dataclasses.replace(load, urls=tuple(urls))
        work = ANSWERED
    return list(filled), program_env, load, port, work


def _new_run_dir(out: Path, final: Path) -> Path:
    """A fresh hidden ``.partial`` folder beside ``final``, after cleaning what dead runs left there."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_partials(final.parent)  # what runs killed outright left here (leaklab.runfolder)
        return partial_folder(final.parent, final.name)
    except OSError as exc:  # a read-only --out, an --out that is a file, a full disk
        raise RunFolderFailed(f"cannot make a run folder in {out}: {exc.strerror or exc} (give --out a folder "
                              f"you can write)", None) from None


def _build_binary(package: Path, run_dir: Path, go: GoToolchain, env: dict[str, str], *, profiles: bool,
                  test: str | None, go_directive: str | None) -> Path:
    # GODEBUG is for the program: the go command is a Go program too, and must not get it.
    build_env = {k: v for k, v in env.items() if k != "GODEBUG"}
    if profiles:  # Go 1.26 has the goroutine leak profile only as an experiment chosen at build time
        build_env.update(leak_profile_env(go, build_env.get("GOEXPERIMENT")))
    if test is not None:
        return build_test(package, RunFolder(run_dir).binary, go, env=build_env)
    return build(package, RunFolder(run_dir).binary, go, env=build_env, go_directive=go_directive)


def _judged(label: str, watch: Watch, samples: Samples, outcome: Outcome, limits: Limits, work: str,
            loading: LoadRun | None, go: GoToolchain, run_dir: Path, final: Path, *, expected: str | None,
            diagnose: bool) -> Result:
    """The run's result: the decision taken while it ran, or the verdict on all of it."""
    judged = watch.decision or watch.judge(samples, final=True)
    seen = {**judge_samples(samples, watch.warmup_s, work=work or None, now=judged.t), **judged.signals}
    chosen = _capped(explain(judged.overall, seen), outcome, limits)
    loaded = loading.summary() if loading else None
    family, variant = label.rsplit("/", 1)
    return Result(family=family, variant=variant, verdict=chosen.verdict, signal=chosen.signal,
                  rate_per_s=chosen.rate_per_s, unit=chosen.unit, reason=chosen.reason,
                  duration_s=round(float(samples.t[-1]) if len(samples) else 0.0, 3), samples=len(samples),
                  go_version=go.version, capped=outcome.capped, run_dir=str(final.resolve()),
                  decided_after_s=round(judged.t, 3) if watch.decision else None,
                  stopped="memory cap" if outcome.capped else "decided" if watch.decision else "max duration",
                  warmup_s=round(watch.warmup_s, 3),
                  expected=expected, work_rate_per_s=loaded["answered_per_s"] if loaded else work_rate(samples, work),
                  signals={n: v.as_dict() for n, v in seen.items()}, load=loaded,
                  **(diagnosis_fields(run_dir, go.goroot, _heap_leak_rate(seen)) if diagnose else {}))


def _keep_failed(run_dir: Path, final: Path) -> str | None:
    """Keep a run folder as ``<variant>.failed`` beside ``final``; None when even that fails."""
    try:
        return str(_place(run_dir, final.with_name(f"{final.name}.failed")))
    except OSError:
        return None


def _why(exc: OSError) -> str:
    """An OSError in one line, naming the file it was about by its name in the run folder."""
    name = Path(exc.filename).name if exc.filename else ""
    return f"{exc.strerror or exc} ({name})" if name else str(exc.strerror or exc)


def _heap_leak_rate(seen: dict[str, SignalVerdict]) -> float | None:
    heap = seen.get("heap_bytes")
    return heap.rate_per_s if heap is not None and heap.verdict == "leak" else None


def _capped(chosen: SignalVerdict, outcome: Outcome, limits: Limits) -> SignalVerdict:
    """Reaching the memory cap is a leak, whatever the curve said so far."""
    if outcome.capped:
        chosen = dataclasses.replace(chosen, verdict="leak", reason=(
            f"hit the {limits.mem_cap_bytes // 2**20} MiB memory cap after {outcome.wall_s:.1f} s; " + chosen.reason))
    return chosen


def run_family(family: str | Family, variant: str = "both", *, side_by_side: bool = False,
               **kwargs) -> list[Result]:
    """Run one family's ``leaky`` and/or ``fixed`` variant and judge each on the family's signal.

    ``side_by_side`` runs them at once (for batch runs: each program mostly waits on its ticker)."""
    fam = family if isinstance(family, Family) else get_family(family)
    variants = ["leaky", "fixed"] if variant == "both" else [variant]
    for v in variants:
        if v not in fam.expect:
            raise BadParameter(f"family {fam.name!r} has no variant {v!r}; it has: {', '.join(fam.variants)}")
    limits = kwargs.pop("limits", Limits())
    if limits.settle_s is None:  # the lab's own programs: no warm-up ramp to wait out after the warm-up
        limits = dataclasses.replace(limits, settle_s=FAMILY_SETTLE_S)

    def one(v: str, cancel: threading.Event | None = None) -> Result:
        return measure(fam.package(v), fam.name, v, signal=fam.signal, expected=fam.expect[v].verdict,
                       work=fam.work, limits=limits, cancel=cancel, **kwargs)

    if not side_by_side or len(variants) < 2:
        return [one(v) for v in variants]
    return side_by_side_runs(one, variants)


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
