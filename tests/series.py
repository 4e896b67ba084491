"""Synthetic curves for the verdict's tests: what a probe would have recorded."""

import numpy as np

from leaklab.probe import Samples
from leaklab.sequential import Sequential

MiB = 2**20


def heap_samples(times: np.ndarray, live: np.ndarray, every: float = 0.2, work_rate: float = 0.0) -> Samples:
    """Samples of a program whose collections come every ``every`` seconds and measure ``live`` there."""
    gc = np.floor(times / every)
    at_gc = np.interp(gc * every, times, live)
    cols = {"t": times, "gc_cycles": gc, "live_bytes": at_gc, "heap_bytes": at_gc + 1 * MiB}
    if work_rate:
        cols["expvar.requests"] = np.floor(times * work_rate)
    return Samples(cols, {}, True)


def sequential(samples: Samples, names: list[str], window: float, work: str | None = None):
    """Run the sequential decision over ``samples`` as a run would: a look whenever one is due."""
    seq = Sequential(names, 1.0, window, work=work)
    for i in range(1, len(samples) + 1):
        part = Samples({k: v[:i] for k, v in samples.columns.items()}, {}, False)
        if seq.due(float(part.t[-1])):
            judgement = seq.look(part)
            if judgement.decided:
                return judgement
    return seq.look(samples, final=True)


def outside_go(times: np.ndarray, resident: np.ndarray, mapped: np.ndarray) -> Samples:
    """Samples of memory outside Go: ``resident`` of it, in address space ``mapped`` outside Go."""
    return Samples({"t": times, "outside_go_bytes": resident, "outside_go_vm_bytes": mapped}, {}, True)


def flat_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """A flat live heap with autocorrelated noise (AR(1), 0.3 MiB) and, now and then, a GC-aligned jump."""
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.7 * noise[i - 1] + rng.normal(0, 0.3 * MiB)
    return 30 * MiB + noise
