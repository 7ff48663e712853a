"""What every benchmark here shares: timing a call and summarising the rounds. Each benchmark
alternates its sides round by round in one process, so both see the same machine state, and prints
the medians and the ratio ours / theirs (below 1: we are faster)."""
import statistics
import time


def timed(fn, *args, **kwargs):
    """Seconds that fn(*args, **kwargs) took (wall clock, perf_counter)."""
    t = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t


def median(values):
    return statistics.median(values)


def p90(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
