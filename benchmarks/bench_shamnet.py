"""SHAMNet: accuracy over random draws from its training domain, and speed.

(a) SMF implied by SHAMNet against the target Schechter SMF over log M* 8.7-11.7
    (1000 draws), its theta-gradients against the analytic Schechter derivatives, and
    <log M*> and its gradients against the exact solver over log Mpeak 11-15.
(b) <log M*> and its Jacobian in all five parameters for 10^6 halo masses, the way
    diffsham does it (network on its 0.01-dex grid, then interpolation), against the
    peer: the same network evaluated per halo, as the 2021 code did, run here.

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
from diffsham.shamnet.network import _bounds, _value_and_jacobian, correction  # noqa: E402
from diffsham.shamnet.validation import sample_theta, smf_accuracy, smhm_accuracy_vs_solver  # noqa: E402
from diffsham.sham.solver import zero_scatter_log_sm  # noqa: E402
from diffsham.sham.smf import schechter_log_phi  # noqa: E402
from diffsham.sham.shmf import halo_grid_from_model  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-draws", type=int, default=1000)
    p.add_argument("--n-solver", type=int, default=100)
    p.add_argument("--n-halos", type=int, default=1_000_000)
    args = p.parse_args()

    net = load_shamnet()
    key = jax.random.PRNGKey(1234)
    thetas = sample_theta(key, args.n_draws, net.theta_lo, net.theta_hi)
    smf, _, _ = smf_accuracy(net, thetas)
    print(f"(a) SMF vs target over {args.n_draws} draws, log M* 8.7-11.7:")
    print(f"    RMS {smf['smf_rms']:.4f}  p99 {smf['smf_p99']:.4f}  max {smf['smf_max']:.4f} dex")
    print(f"    d log SMF/d theta error, median per parameter {np.round(smf['grad_median'], 4)}")
    print(f"    d log SMF/d theta error, p99 per parameter    {np.round(smf['grad_p99'], 4)}")
    smhm = smhm_accuracy_vs_solver(net, thetas[: args.n_solver])
    resid = np.asarray(smhm.pop("solver_resid_max"))
    print(f"    <log M*> vs solver ({args.n_solver} draws, log Mpeak 11-15): median "
          f"{smhm['mu_median']:.4f} p99 {smhm['mu_p99']:.4f} dex; gradient median "
          f"{smhm['grad_median']:.4f} p99 {smhm['grad_p99']:.4f}")
    print(f"    solver's own SMF residual over 8.7-11.7: median {np.median(resid):.2e}, "
          f"fraction below 1e-3 {np.mean(resid < 1e-3):.2f}, max {resid.max():.2e}")

    rng = np.random.default_rng(0)
    logmh = jnp.asarray(rng.uniform(10.5, 15.5, args.n_halos))
    theta = jnp.asarray(net.theta_lo + 0.5 * (net.theta_hi - net.theta_lo))
    bounds = _bounds(net)

    def grid_value_and_jac(theta):
        return _value_and_jacobian(net.weights, bounds, theta, logmh)

    grid = halo_grid_from_model()

    @jax.jit
    def per_halo_value_and_jac(theta):
        # The peer: the network per halo (mu0, exact and not the network, from the grid)
        def f(t):
            mu0 = jnp.interp(logmh, grid.logmh, zero_scatter_log_sm(schechter_log_phi, tuple(t[:3]), grid))
            return mu0 + correction(net.weights, bounds, t, mu0)

        jac, mu = jax.jacfwd(lambda t: (f(t), f(t)), has_aux=True)(theta)
        return mu, jac

    t_grid = median_time(grid_value_and_jac, theta)
    t_peer = median_time(per_halo_value_and_jac, theta, n_repeat=3)
    v1, j1 = grid_value_and_jac(theta)
    v2, j2 = per_halo_value_and_jac(theta)
    print(f"(b) <log M*> + Jacobian (5 params) for {args.n_halos:.0e} halos:")
    print(f"    grid + interpolation {1e3 * t_grid:.1f} ms; per-halo network {1e3 * t_peer:.1f} ms; "
          f"ratio {t_peer / t_grid:.1f}x")
    print(f"    max difference grid vs per-halo: value {float(jnp.abs(v1 - v2).max()):.1e} dex, "
          f"Jacobian {float(jnp.abs(j1 - j2).max()):.1e}")

    print_json_line(dict(
        benchmark="shamnet",
        n_draws=args.n_draws,
        smf_rms=smf["smf_rms"], smf_p99=smf["smf_p99"], smf_max=smf["smf_max"],
        smf_grad_median=smf["grad_median"], smf_grad_p99=smf["grad_p99"],
        smhm_mu_median=smhm["mu_median"], smhm_mu_p99=smhm["mu_p99"],
        smhm_grad_median=smhm["grad_median"], smhm_grad_p99=smhm["grad_p99"],
        solver_resid_median=float(np.median(resid)), solver_resid_max=float(resid.max()),
        n_halos=args.n_halos, t_value_jac_ms=1e3 * t_grid, t_peer_per_halo_ms=1e3 * t_peer,
        speedup_vs_per_halo=t_peer / t_grid, machine=machine(),
    ))


if __name__ == "__main__":
    main()
