"""leaklab.watch: what a run counts as its work, watched while it runs."""

import numpy as np

from leaklab.probe import Samples
from leaklab.watch import work_rate


def test_the_work_rate_under_load_counts_from_the_first_answer():
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    answered = np.array([0, 0, 0, 100, 200, 300.0])  # the server answered from t = 1.0 on, 200 a second
    samples = Samples(columns={"t": t, "load.answered": answered}, start={}, ended=True)
    assert work_rate(samples, "load.answered") == 200
    assert work_rate(Samples(columns={"t": t, "load.answered": np.zeros(6)}, start={}, ended=True),
                     "load.answered") is None
    assert work_rate(samples, "requests") is None


def test_the_work_rate_skips_samples_taken_before_the_counter_existed():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    samples = Samples(columns={"t": t, "expvar.leaklab_iterations": np.array([np.nan, 10, 30, 50])}, start={},
                      ended=True)
    assert work_rate(samples, "leaklab_iterations") == 20
