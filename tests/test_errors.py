"""The errors of the lab: one hierarchy, as errors.py's docstring draws it, each error carrying its fields."""

import signal

import pytest

from leaklab import errors
from leaklab.errors import (
    BadGoVersion,
    BadParameter,
    GoFetchFailed,
    GoNotFound,
    GoTooOld,
    Interrupted,
    LeakLabError,
    ProgramFailed,
    ToolchainError,
    UnknownFamily,
)


def test_every_error_but_interrupted_is_a_leaklab_error_and_the_docstring_names_each():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, KeyboardInterrupt if cls is Interrupted else LeakLabError), name
        assert f" {name} " in errors.__doc__ or f" {name}\n" in errors.__doc__, f"{name} missing from the hierarchy"


def test_bad_input_and_a_failed_download_are_not_a_missing_go():
    assert issubclass(UnknownFamily, BadParameter) and issubclass(BadGoVersion, BadParameter)
    assert not issubclass(BadGoVersion, ToolchainError)
    assert {GoNotFound, GoTooOld, GoFetchFailed} <= set(ToolchainError.__subclasses__())
    assert not issubclass(GoFetchFailed, GoNotFound)


@pytest.mark.parametrize("error, field, value", [
    (UnknownFamily("no family called 'x'", name="x"), "name", "x"),
    (BadGoVersion("'latest' is not a Go release", version="latest"), "version", "latest"),
    (GoFetchFailed("could not fetch Go 1.22", version="1.22"), "version", "1.22"),
    (ProgramFailed("crashed", "runs/x/leaky.failed"), "run_dir", "runs/x/leaky.failed"),
    (Interrupted("interrupted by SIGTERM", signal.SIGTERM), "signum", signal.SIGTERM),
])
def test_an_error_carries_its_fields_beside_its_message(error, field, value):
    assert getattr(error, field) == value and str(error)
