"""Measure code that has tests but no main: its matching tests or benchmarks, run again and again.

``leaklab run --program DIR --test PATTERN`` builds the package's test binary (``go test -c``) with two
files added by ``go build -overlay``, the package's source untouched: the probe, and a test of the lab's,
``TestLeaklabLoop``, which runs once every test and benchmark whose name matches PATTERN (Go's regexp,
on top-level names) and counts the round in an expvar, ``leaklab_iterations``. The binary runs that one
test with ``-test.count`` as high as it goes, until the lab stops it. The rounds are the run's work,
so what a round keeps is judged as what a request keeps is.

Why this way, measured on go1.26.8 (the same code in Go 1.22 and 1.27):

- ``-test.count`` alone gives no count of the rounds: only growth per second could be judged, and that
  depends on how long a round takes (a test keeping 1 KiB per round of 20 ms grows 50 KiB/s, under
  the heap's threshold).
- Looping inside one test instead (``for { t.Run(name, f) }``) leaks in the ``testing`` package itself:
  each run of a subtest gets a new name (``name#01``, ``name#02``...), and the subtests *it* starts are
  remembered under those names, an entry per round: a flat test with subtests came out ``leak``, at
  225 B a round. Each round of ``-test.count`` starts afresh (a new root test and name matcher), so
  nothing is kept from one to the next: the same test is ``flat``.
- A test that calls ``t.Parallel`` finishes within its round (the round waits for it); a failing test
  stops the run at once (``-test.failfast``), and the lab reports its output. A benchmark runs through
  ``testing.Benchmark`` (``-test.benchtime``, default 1 s, per round); its ``b.N`` operations are the
  work.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from .errors import BadParameter, BuildFailed
from .paths import resource
from .toolchain import GoToolchain

__all__ = ["ITERATIONS", "LOOP_TEST", "build_test", "run_arguments"]

#: The expvar the loop counts its work in (a test round, or a benchmark's operations).
ITERATIONS = "leaklab_iterations"
#: The test of the lab's that runs the matching ones in a loop.
LOOP_TEST = "TestLeaklabLoop"
_PATTERN_ENV = "LEAKLAB_TEST_PATTERN"
#: -test.count: more rounds than any run lasts.
_ROUNDS = 10**18
_PROBE_NAME = "zz_leaklab_probe.go"
_LOOP_NAME = "zz_leaklab_loop_test.go"
_FUNC = re.compile(r"^func\s+((Test|Benchmark)\w*)\s*\(\s*\w+\s+\*testing\.([TB])\s*\)", re.M)

_LOOP = '''package {package}

import (
	"expvar"
	"os"
	"regexp"
	"testing"
{imports}
)

var leaklabIterations = expvar.NewInt("{iterations}")

var leaklabTests = []testing.InternalTest{{{tests}}}

var leaklabBenchmarks = []testing.InternalBenchmark{{{benchmarks}}}

// {loop} is Go Leak Lab's: each time it runs, it runs once the tests and
// benchmarks whose names match ${pattern_env}, and counts the round. The lab
// runs it with -test.count as high as it goes, until it stops the program.
func {loop}(t *testing.T) {{
	match, err := regexp.Compile(os.Getenv("{pattern_env}"))
	if err != nil {{
		t.Fatalf("leaklab: --test %q is not a regular expression: %v", os.Getenv("{pattern_env}"), err)
	}}
	ran := 0
	for _, test := range leaklabTests {{
		if match.MatchString(test.Name) {{
			ran++
			if !t.Run(test.Name, test.F) {{
				t.Fatalf("leaklab: %s failed; a test must pass to be measured", test.Name)
			}}
		}}
	}}
	for _, b := range leaklabBenchmarks {{
		if match.MatchString(b.Name) {{
			ran++
			r := testing.Benchmark(b.F)
			if r.N == 0 {{
				t.Fatalf("leaklab: %s failed or was skipped; a benchmark must run to be measured", b.Name)
			}}
			leaklabIterations.Add(int64(r.N) - 1)
		}}
	}}
	if ran == 0 {{
		t.Fatalf("leaklab: no test or benchmark of this package matches --test %q", match)
	}}
	leaklabIterations.Add(1)
}}
'''


def _list(package: Path, go: GoToolchain, overlay: Path, env: dict[str, str]) -> dict:
    proc = go.run("list", "-overlay", str(overlay), "-json", ".", cwd=package, env=env, timeout=120)
    if proc.returncode != 0:
        raise BuildFailed(f"`go list` failed for {package}:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def _functions(package: Path, files: list[str]) -> list[tuple[str, str]]:
    """(name, kind) of the tests and benchmarks in ``files``: kind ``T`` or ``B``."""
    found = []
    for name in files:
        for m in _FUNC.finditer((package / name).read_text(errors="replace")):
            fn, prefix, kind = m.groups()
            suffix = fn[len(prefix):]
            if (kind == "T") == (prefix == "Test") and (not suffix or not suffix[0].islower()):
                found.append((fn, kind))
    return found


def _loop_source(info: dict, package: Path) -> str:
    internal = _functions(package, info.get("TestGoFiles") or [])
    external = _functions(package, info.get("XTestGoFiles") or [])
    main = info["Name"] == "main"
    if main:  # a main package cannot be imported: the loop joins its internal tests
        entries, name, imports = [(f, f, k) for f, k in internal], "main", ""
    else:
        entries = [(f, f"leaklabpkg.{f}", k) for f, k in internal] + [(f, f, k) for f, k in external]
        name, imports = f"{info['Name']}_test", f'\tleaklabpkg "{info["ImportPath"]}"\n'
        if not internal:
            imports = ""
    tests = ", ".join(f'{{"{n}", {ref}}}' for n, ref, k in entries if k == "T" and n != LOOP_TEST)
    benchmarks = ", ".join(f'{{"{n}", {ref}}}' for n, ref, k in entries if k == "B")
    return _LOOP.format(package=name, imports=imports.rstrip("\n"), iterations=ITERATIONS, tests=tests,
                        benchmarks=benchmarks, loop=LOOP_TEST, pattern_env=_PATTERN_ENV)


def _has_module(package: Path) -> bool:
    return any((d / "go.mod").is_file() for d in (package, *package.parents))


def build_test(package: Path, output: Path, go: GoToolchain, *, env: dict[str, str] | None = None) -> Path:
    """Compile the test binary of the package in ``package`` into ``output``, probe and loop included.

    Raises :class:`BadParameter` when the folder holds no tests or benchmarks, :class:`BuildFailed`
    with the compiler's message when it does not compile.
    """
    package = package.resolve()
    if not any(package.glob("*_test.go")):
        raise BadParameter(f"--test wants a folder with tests (*_test.go files); {package} has none")
    with tempfile.TemporaryDirectory(prefix="leaklab-build-") as tmp:
        replace: dict[str, str] = {}
        if not _has_module(package):
            gomod = Path(tmp) / "go.mod"
            gomod.write_text("module leaklab/program\n\ngo 1.24\n")
            replace[str(package / "go.mod")] = str(gomod)
        overlay = Path(tmp) / "overlay.json"
        overlay.write_text(json.dumps({"Replace": replace}))
        info = _list(package, go, overlay, env or {})
        probe = Path(tmp) / _PROBE_NAME
        probe.write_text(re.sub(r"^package main$", f"package {info['Name']}", resource("probe.go").read_text(),
                                count=1, flags=re.M))
        loop = Path(tmp) / _LOOP_NAME
        loop.write_text(_loop_source(info, package))
        replace.update({str(package / _PROBE_NAME): str(probe), str(package / _LOOP_NAME): str(loop)})
        overlay.write_text(json.dumps({"Replace": replace}))
        proc = go.run("test", "-c", "-overlay", str(overlay), "-o", str(output.resolve()), ".", cwd=package, env=env)
    if proc.returncode != 0:
        raise BuildFailed(f"`go test -c` failed for {package}:\n{proc.stderr.strip() or proc.stdout.strip()}")
    return output


def run_arguments(pattern: str) -> tuple[list[str], dict[str, str]]:
    """The test binary's arguments and environment that run the loop over the tests matching ``pattern``."""
    if not pattern:
        raise BadParameter("--test wants a pattern, e.g. --test TestRender or --test 'Benchmark.*'")
    return ["-test.run", f"^{LOOP_TEST}$", f"-test.count={_ROUNDS}", "-test.failfast"], {_PATTERN_ENV: pattern}
