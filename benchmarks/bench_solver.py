"""The exact SHAM solver: time per solve, per solve with the full Jacobian in all five
parameters, and per vmapped batch; and its SMF residual on random draws.

Usage: python benchmarks/bench_solver.py [--n-draws 50]
Last line: one JSON record of the figures.
"""
import argparse
import sys

import jax
import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, median_time, print_json_line  # noqa: E402

from diffsham.sham.params import SHAM_PBOUNDS_HI, SHAM_PBOUNDS_LO, ShamParams  # noqa: E402
from diffsham.sham.solver import DEFAULT_SOLVER_CONFIG, solve_sham  # noqa: E402
from diffsham.shamnet.validation import sample_theta  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-draws", type=int, default=50)
    args = p.parse_args()
    thetas = sample_theta(jax.random.PRNGKey(7), args.n_draws, SHAM_PBOUNDS_LO, SHAM_PBOUNDS_HI)

    solve = jax.jit(lambda t: solve_sham(ShamParams(*t)).mean_log_sm)
    solve_jac = jax.jit(jax.jacfwd(lambda t: solve_sham(ShamParams(*t)).mean_log_sm))
    solve_batch = jax.jit(jax.vmap(lambda t: solve_sham(ShamParams(*t)).mean_log_sm))
    theta = thetas[0]
    t_solve = median_time(solve, theta)
    t_jac = median_time(solve_jac, theta)
    t_batch = median_time(solve_batch, thetas[:16], n_repeat=3) / 16

    edges = np.asarray(DEFAULT_SOLVER_CONFIG.fit_edges())
    centres = 0.5 * (edges[1:] + edges[:-1])
    sel = (centres > 8.7) & (centres < 11.7)
    resid_fn = jax.jit(lambda t: solve_sham(ShamParams(*t)).log_resid)
    resid = np.array([np.abs(np.asarray(resid_fn(t)))[sel].max() for t in thetas])
    worst = np.asarray(thetas[int(np.argmax(resid))])

    print(f"one solve {1e3 * t_solve:.1f} ms; solve + Jacobian (5 params) {1e3 * t_jac:.1f} ms; "
          f"vmapped batch of 16: {1e3 * t_batch:.1f} ms per solve")
    print(f"SMF residual over 8.7-11.7 on {args.n_draws} random draws: median {np.median(resid):.2e}, "
          f"fraction <= 1e-3 {np.mean(resid <= 1e-3):.2f}, max {resid.max():.2e} at theta={np.round(worst, 3)}")
    print_json_line(dict(
        benchmark="solver", t_solve_ms=1e3 * t_solve, t_solve_jac_ms=1e3 * t_jac,
        t_batched_per_solve_ms=1e3 * t_batch, n_draws=args.n_draws,
        resid_median=float(np.median(resid)), resid_frac_le_1e3=float(np.mean(resid <= 1e-3)),
        resid_max=float(resid.max()), machine=machine(),
    ))


if __name__ == "__main__":
    main()
