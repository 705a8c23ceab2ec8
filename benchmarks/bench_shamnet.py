"""SHAMNet: accuracy over random draws from its training domain, and speed.

(a) SMF implied by SHAMNet against the target Schechter SMF over log M* 8.7-11.7
    (1000 draws), its theta-gradients against the analytic Schechter derivatives, and
    <log M*> and its gradients against the exact solver over log Mpeak 11-15; for the
    prediction as used (refined: the solver converged from the network's start) and
    for the network alone. Also the solver steps the refinement took.
(b) <log M*> and its Jacobian in all five parameters for 10^6 halo masses, the way
    diffsham does it (on the 0.01-dex grid, then interpolation), refined and network
    alone, against two peers run here: the network evaluated per halo, as the 2021
    code did, and the exact solver from zero-scatter matching (its own continuation).

Usage: python benchmarks/bench_shamnet.py [--n-draws 1000] [--n-solver 100]
Last line: one JSON record of the figures.
"""
import argparse
import sys

import jax
import numpy as np
from jax import numpy as jnp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, median_time, print_json_line  # noqa: E402

from diffsham.shamnet import load_shamnet  # noqa: E402
from diffsham.shamnet.network import (  # noqa: E402
    REFINE_CONFIG,
    _bounds,
    _value_and_jacobian,
    correction,
    mean_log_sm_on_grid,
    refined_solution,
)
from diffsham.shamnet.validation import sample_theta, smf_accuracy, smhm_accuracy_vs_solver  # noqa: E402
from diffsham.sham.params import ShamParams  # noqa: E402
from diffsham.sham.solver import mean_log_sm_from_solution, solve_sham, zero_scatter_log_sm  # noqa: E402
from diffsham.sham.smf import schechter_log_phi  # noqa: E402
from diffsham.sham.shmf import halo_grid_from_model  # noqa: E402


def _jit_value_and_jacobian(f):
    """Jitted theta -> (f(theta), df/dtheta), the value from the Jacobian's own pass."""

    @jax.jit
    def value_and_jac(theta):
        jac, value = jax.jacfwd(lambda t: (f(t),) * 2, has_aux=True)(theta)
        return value, jac

    return value_and_jac


@jax.jit
def _refined_steps(weights, bounds, theta):
    return refined_solution(weights, bounds, theta).n_iter


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-draws", type=int, default=1000)
    p.add_argument("--n-solver", type=int, default=100)
    p.add_argument("--n-halos", type=int, default=1_000_000)
    args = p.parse_args()

    net = load_shamnet()
    key = jax.random.PRNGKey(1234)
    thetas = sample_theta(key, args.n_draws, net.theta_lo, net.theta_hi)
    results = {}
    for label, refine in (("refined", True), ("network alone", False)):
        smf, _, _ = smf_accuracy(net, thetas, refine=refine)
        print(f"(a) {label}: SMF vs target over {args.n_draws} draws, log M* 8.7-11.7:")
        print(f"    RMS {smf['smf_rms']:.4f}  p99 {smf['smf_p99']:.4f}  max {smf['smf_max']:.4f} dex")
        print(f"    d log SMF/d theta error, median per parameter {np.round(smf['grad_median'], 4)}")
        print(f"    d log SMF/d theta error, p99 per parameter    {np.round(smf['grad_p99'], 4)}")
        smhm = smhm_accuracy_vs_solver(net, thetas[: args.n_solver], max_solver_resid=1e-3, refine=refine)
        resid = np.asarray(smhm.pop("solver_resid_max"))
        print(f"    <log M*> vs solver ({smhm['n_used']} of {args.n_solver} draws where the solver is "
              f"exact, log Mpeak 11-15): median {smhm['mu_median']:.2e} p99 {smhm['mu_p99']:.2e} dex; "
              f"gradient median {smhm['grad_median']:.2e} p99 {smhm['grad_p99']:.2e}")
        results[refine] = (smf, smhm)
    print(f"    solver's own SMF residual over 8.7-11.7: median {np.median(resid):.2e}, "
          f"fraction below 1e-3 {np.mean(resid < 1e-3):.2f}, max {resid.max():.2e}")
    bounds = _bounds(net)
    steps = np.array([int(_refined_steps(net.weights, bounds, t)) for t in thetas])
    print(f"    solver steps from the network's start: median {np.median(steps):.0f}, "
          f"90th percentile {np.percentile(steps, 90):.0f}, max {steps.max()} "
          f"(limit {REFINE_CONFIG.n_iter})")

    rng = np.random.default_rng(0)
    logmh = jnp.asarray(rng.uniform(10.5, 15.5, args.n_halos))
    theta = jnp.asarray(net.theta_lo + 0.5 * (net.theta_hi - net.theta_lo))

    def grid_value_and_jac(theta):
        return _value_and_jacobian(net.weights, bounds, theta, logmh)

    def network_alone_value_and_jac(theta):
        return _value_and_jacobian(net.weights, bounds, theta, logmh, refine=False)

    grid = halo_grid_from_model()

    def per_halo(t):
        # The peer: the network per halo (mu0, exact and not the network, from the grid)
        mu0 = jnp.interp(logmh, grid.logmh, zero_scatter_log_sm(schechter_log_phi, tuple(t[:3]), grid))
        return mu0 + correction(net.weights, bounds, t, mu0)

    per_halo_value_and_jac = _jit_value_and_jacobian(per_halo)
    cold_solver_value_and_jac = _jit_value_and_jacobian(
        lambda t: mean_log_sm_from_solution(solve_sham(ShamParams(*t)), logmh))

    # per parameter point, on the 650-cell grid alone (what every evaluation pays)
    t_point = {}
    for label, refine in (("refined", True), ("network_alone", False)):
        def on_grid(t, refine=refine):
            return mean_log_sm_on_grid(net.weights, bounds, t, refine=refine)

        t_point[f"{label}_value"] = median_time(jax.jit(on_grid), theta, n_repeat=51)
        t_point[f"{label}_value_jac"] = median_time(_jit_value_and_jacobian(on_grid), theta, n_repeat=51)
    print("(b) per parameter point, on the 650-cell grid: refined "
          f"{1e3 * t_point['refined_value']:.2f} ms, with Jacobian {1e3 * t_point['refined_value_jac']:.2f} ms; "
          f"network alone {1e3 * t_point['network_alone_value']:.2f} / "
          f"{1e3 * t_point['network_alone_value_jac']:.2f} ms")

    t_grid = median_time(grid_value_and_jac, theta)
    t_alone = median_time(network_alone_value_and_jac, theta)
    t_peer = median_time(per_halo_value_and_jac, theta, n_repeat=3)
    t_cold = median_time(cold_solver_value_and_jac, theta, n_repeat=3)
    v1, j1 = network_alone_value_and_jac(theta)
    v2, j2 = per_halo_value_and_jac(theta)
    print(f"(b) <log M*> + Jacobian (5 params) for {args.n_halos:.0e} halos, middle of the domain:")
    print(f"    refined {1e3 * t_grid:.1f} ms; network alone {1e3 * t_alone:.1f} ms")
    print(f"    peers: per-halo network {1e3 * t_peer:.1f} ms ({t_peer / t_grid:.1f}x the refined); "
          f"solver from zero-scatter matching {1e3 * t_cold:.1f} ms ({t_cold / t_grid:.1f}x)")
    print(f"    max difference network alone on the grid vs per halo: value "
          f"{float(jnp.abs(v1 - v2).max()):.1e} dex, Jacobian {float(jnp.abs(j1 - j2).max()):.1e}")

    smf, smhm = results[True]
    raw_smf, raw_smhm = results[False]
    print_json_line(dict(
        benchmark="shamnet",
        n_draws=args.n_draws,
        smf_rms=smf["smf_rms"], smf_p99=smf["smf_p99"], smf_max=smf["smf_max"],
        smf_grad_median=smf["grad_median"], smf_grad_p99=smf["grad_p99"],
        smhm_mu_median=smhm["mu_median"], smhm_mu_p99=smhm["mu_p99"],
        smhm_grad_median=smhm["grad_median"], smhm_grad_p99=smhm["grad_p99"],
        solver_resid_median=float(np.median(resid)), solver_resid_max=float(resid.max()),
        smhm_n_used=smhm["n_used"],
        network_alone=dict(
            smf_rms=raw_smf["smf_rms"], smf_p99=raw_smf["smf_p99"], smf_max=raw_smf["smf_max"],
            smf_grad_median=raw_smf["grad_median"], smf_grad_p99=raw_smf["grad_p99"],
            smhm_mu_median=raw_smhm["mu_median"], smhm_mu_p99=raw_smhm["mu_p99"],
            smhm_grad_median=raw_smhm["grad_median"], smhm_grad_p99=raw_smhm["grad_p99"],
        ),
        refine_steps_median=float(np.median(steps)), refine_steps_p90=float(np.percentile(steps, 90)),
        refine_steps_max=int(steps.max()),
        n_halos=args.n_halos, t_value_jac_ms=1e3 * t_grid, t_network_alone_value_jac_ms=1e3 * t_alone,
        t_peer_per_halo_ms=1e3 * t_peer, speedup_vs_per_halo=t_peer / t_grid,
        t_cold_solver_value_jac_ms=1e3 * t_cold,
        t_point_ms={k: 1e3 * v for k, v in t_point.items()}, speedup_vs_cold_solver=t_cold / t_grid, machine=machine(),
    ))


if __name__ == "__main__":
    main()
