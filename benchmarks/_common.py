"""Helpers shared by the benchmark scripts: timing medians and machine description."""
import json
import os
import platform
import time

import jax


def median_time(fn, *args, n_repeat=7):
    """Median wall time [s] of fn(*args) after one warm-up call (compilation excluded)."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(n_repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def machine():
    return dict(
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        jax=jax.__version__,
        device=str(jax.devices()[0]),
    )


def print_json_line(record):
    print(json.dumps(record, sort_keys=True))
