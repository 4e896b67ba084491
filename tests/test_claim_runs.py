"""Running the claims (leaklab.claim_runs): what is asked for, and the cases each Go builds."""


def test_unknown_claim_is_a_clear_error(leaklab):
    status, _, err = leaklab("claims", "no-such-claim")
    assert status == 2 and "no claim called no-such-claim" in err


def test_an_older_go_measures_a_copy_of_the_cases_with_its_own_go_directive():
    from leaklab.cases import cases_dir
    from leaklab.claim_runs import _cases_for
    from leaklab.toolchain import GoToolchain

    old = GoToolchain(go="go", version="go1.22.10", goroot="", goexperiment="")
    with _cases_for(old) as copy:
        assert copy != cases_dir() and "\ngo 1.22\n" in (copy / "go.mod").read_text()
        assert (copy / "04-finalizer" / "leaky" / "main.go").is_file()
    assert not copy.exists() and "\ngo 1.24\n" in (cases_dir() / "go.mod").read_text()
    with _cases_for(GoToolchain(go="go", version="go1.27.3", goroot="", goexperiment="")) as same:
        assert same == cases_dir()
