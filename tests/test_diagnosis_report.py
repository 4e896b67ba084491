"""The diagnosis tables: backticked text shown as code, a run without profiles told how to get them, Go's checks."""

from types import SimpleNamespace

from leaklab.diagnosis_report import DiagnosisReport, code_html


def test_backticked_text_is_code_and_an_odd_backtick_is_left_as_it_is():
    assert code_html("use `defer t.Stop()` <now>") == "use <code>defer t.Stop()</code> &lt;now&gt;"
    assert code_html("a ` b") == "a ` b"


def test_a_run_without_profiles_says_how_to_diagnose_it_and_the_checks_get_a_table():
    run = SimpleNamespace(family="timer", variant="leaky", top_sites=None)
    check = {"check": "go vet", "variant": "leaky", "flagged": True, "finding": "`lostcancel` at main.go:12"}
    shown = DiagnosisReport([run], [check])
    titles = [title for title, _, _ in shown.sections()]
    assert titles == ["timer/leaky", "Go's own checks"]
    assert "profiles=True" in repr(shown) and "<code>lostcancel</code>" in shown._repr_html_()
