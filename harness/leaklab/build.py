"""Build a Go main package with the lab's probe added by ``go build -overlay``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .errors import BuildFailed
from .paths import resource
from .toolchain import GoToolchain

__all__ = ["build"]

_PROBE_NAME = "zz_leaklab_probe.go"


def _has_module(package: Path) -> bool:
    return any((d / "go.mod").is_file() for d in (package, *package.parents))


def build(package: Path, output: Path, go: GoToolchain, *, env: dict[str, str] | None = None,
          go_directive: str | None = None) -> Path:
    """Compile the main package in ``package`` into ``output``, probe included.

    A folder outside any Go module gets a go.mod (``go 1.24``) through the overlay too, so a lone
    ``main.go`` builds as it is. ``go_directive`` (e.g. ``"1.22"``) builds the package as a module of
    its own with that go directive, whatever go.mod it sits in: this is how an older toolchain
    builds a case, and how a new one is asked for the old semantics (timers before ``go 1.23``).
    The package must then import only the standard library. Raises :class:`BuildFailed` with the
    compiler's message.
    """
    package = package.resolve()
    if not package.is_dir() or not any(package.glob("*.go")):
        raise BuildFailed(f"{package} holds no .go files: point at the folder of a `package main`.")
    with tempfile.TemporaryDirectory(prefix="leaklab-build-") as tmp:
        replace = {str(package / _PROBE_NAME): str(resource("probe.go"))}
        if go_directive or not _has_module(package):
            gomod = Path(tmp) / "go.mod"
            gomod.write_text(f"module leaklab/program\n\ngo {go_directive or '1.24'}\n")
            replace[str(package / "go.mod")] = str(gomod)
        overlay = Path(tmp) / "overlay.json"
        overlay.write_text(json.dumps({"Replace": replace}))
        proc = go.run("build", "-overlay", str(overlay), "-o", str(output.resolve()), ".", cwd=package, env=env)
    if proc.returncode != 0:
        raise BuildFailed(f"`go build` failed for {package}:\n{proc.stderr.strip()}")
    return output
