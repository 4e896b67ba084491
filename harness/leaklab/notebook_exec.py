"""Executing the notebooks: each with papermill under the ``leaklab`` kernel, in a worker process of its own.

:func:`execute_all` runs every notebook (family notebooks first, ``jobs`` at a time, the overview last, so
no family is run twice), :func:`execute` one; the workers (:mod:`leaklab.notebook_workers`) are stopped with
their kernels and programs by a signal, or by leaklab's death.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import BadParameter, KernelMissing
from .notebook_workers import KERNEL, execute_in_workers
from .paths import content

__all__ = ["check_kernel", "check_parameters", "execute", "execute_all", "notebook_paths", "notebooks_dir"]


def notebooks_dir() -> Path:
    """The notebooks shipped with the lab (``00-overview.ipynb`` and one ``NN-family.ipynb`` per family):
    notebooks/ of the checkout."""
    return content("notebooks")


def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The notebooks in the order they must run: family notebooks first, the overview (``00-``) last."""
    found = sorted((folder or notebooks_dir()).glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if not p.name.startswith("00-")] + [p for p in found if p.name.startswith("00-")]


def check_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise KernelMissing(f"the Jupyter kernel {KERNEL!r} is not installed; run `make setup` (or: .venv/bin/python "
                            f"-m ipykernel install --sys-prefix --name {KERNEL})", kernel=KERNEL) from None




def check_parameters(parameters: Mapping[str, object]) -> None:
    """Refuse a parameter that is a number but not a finite one (NaN, an infinity), naming it."""
    for name, value in parameters.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise BadParameter(f"notebook parameter {name} = {value!r}: give a finite number")


def execute(notebook: Path, output: Path, parameters: Mapping[str, object], timeout: float = 300) -> Path:
    """Run ``notebook`` with papermill under the ``leaklab`` kernel; write the executed copy to ``output``.

    The notebook runs in a worker process of its own (see :func:`execute_all`, which this is with one
    notebook); the kernel's sockets live in a private temporary folder, removed afterwards: nothing
    is written beside the notebook, and executions running at once never share a socket.
    Raises :class:`NotebookFailed` naming the notebook and carrying the failing cell's source and output,
    :class:`BadParameter` for a parameter that is NaN or infinite, and
    :class:`~leaklab.errors.Interrupted` (a ``KeyboardInterrupt``) when a signal stopped it.
    """
    check_parameters(parameters)
    check_kernel()
    execute_in_workers([[(Path(notebook), Path(output))]], parameters, timeout, jobs=1, progress=None)
    return Path(output)


def execute_all(out: Path, executed: Path, *, duration: float = 3.0, interval: float = 0.05, warmup: float = 1.0,
                timeout: float = 300, folder: Path | None = None, jobs: int = 2,
                progress: Callable[[str], None] | None = None,
                done: Callable[[Path], None] | None = None) -> list[Path]:
    """Execute every notebook with the same parameters; return the executed copies in :func:`notebook_paths` order.

    The family notebooks run ``jobs`` at a time, each in a worker process of its own (papermill changes
    the working directory, which a process has only one of); their programs are paced, so their verdicts
    do not depend on a busy machine. The overview runs last, when every family has left its run folders.

    SIGINT, SIGTERM or SIGHUP stops every notebook under way: each worker interrupts its kernel, whose
    run keeps what it measured as ``<variant>.failed``, and ends; what does not end within a few
    seconds is killed, and :class:`~leaklab.errors.Interrupted` is raised. The workers run in
    sessions of their own and watch this process: if it dies, they stop the same way by themselves.
    ``done`` is called with each executed copy as soon as its notebook has run.
    """
    params = {"duration": duration, "interval": interval, "warmup": warmup, "out": str(Path(out).resolve())}
    check_parameters(params)
    executed = Path(executed).resolve()
    paths = notebook_paths(folder)
    family_nbs = [p for p in paths if not p.name.startswith("00-")]
    check_kernel()
    # The last pages run the most programs (the example service: three): started first, they do not end
    # the report alone.
    # The overview's kernel starts while the last family pages run; it begins once they have ended.
    execute_in_workers([[(nb, executed / nb.name) for nb in reversed(family_nbs)],
                        [(nb, executed / nb.name) for nb in paths[len(family_nbs):]]], params, timeout, jobs, progress,
                       done)
    return [executed / p.name for p in paths]
