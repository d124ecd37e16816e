"""Timing shared by the benchmarks: round-robin steps, per-round ratios, markdown tables."""

import statistics
import time


def time_round_robin(steps, seconds, min_rounds, warmup):
    """Seconds per step of each ``name: (step, state)``, one list entry per round; every model
    steps once per round. A ``step`` maps state to state and blocks until its result is ready."""
    states = {name: state for name, (_, state) in steps.items()}
    times = {name: [] for name in steps}
    rounds, start_timing = 0, None
    while rounds < min_rounds or time.perf_counter() - start_timing < seconds:
        for name, (step, _) in steps.items():
            # An untimed step first: the previous model's worker threads (torch's OpenMP pool
            # spins after each call) settle down on it rather than on the timed step.
            states[name] = step(states[name])
            start = time.perf_counter()
            states[name] = step(states[name])
            if warmup == 0:
                times[name].append(time.perf_counter() - start)
        if warmup:
            warmup -= 1
            start_timing = time.perf_counter()
        else:
            rounds += 1
    return times


def ratio(peer, model):
    """Median over rounds of peer time / model time (> 1: model faster than peer)."""
    return statistics.median(p / m for p, m in zip(peer, model, strict=True))


def markdown(header: str, rule: str, cells: list[list[str]]) -> list[str]:
    """A markdown table's lines: ``header`` and ``rule`` as written, then one row per ``cells``."""
    return [header, rule, *("| " + " | ".join(row) + " |" for row in cells)]


def times_x(r) -> str:
    """A ratio as ``1.23x``; ``n/a`` where there is none."""
    return "n/a" if r is None else f"{r:.2f}x"
