"""Executing the notebooks: the kernel they need, and parameters refused before anything runs."""

import pytest

from leaklab import BadParameter, notebook_exec, notebooks
from leaklab.errors import KernelMissing

NOTEBOOKS = sorted(notebook_exec.notebooks_dir().glob("*.ipynb"))


def test_a_missing_kernel_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook_exec, "KERNEL", "no-such-kernel-leaklab")
    with pytest.raises(KernelMissing, match="make setup"):
        notebook_exec.execute(NOTEBOOKS[0], tmp_path / "x.ipynb", {})


@pytest.mark.parametrize("name, value", [("warmup", float("nan")), ("duration", float("inf")),
                                         ("interval", float("-inf"))])
def test_a_parameter_that_is_not_a_finite_number_is_refused_by_name_before_anything_runs(tmp_path, name, value):
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = {value!r}"):
        notebook_exec.execute_all(tmp_path / "runs", tmp_path / "out", **{name: value})
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = "):
        notebook_exec.execute(NOTEBOOKS[0], tmp_path / "x.ipynb", {"out": "runs", name: value})
    with pytest.raises(BadParameter, match=rf"notebook parameter {name} = "):  # papermill -p warmup nan, by hand
        notebooks.run_and_record("syncmap", out=tmp_path / "runs", **{name: value})
    assert list(tmp_path.iterdir()) == []
