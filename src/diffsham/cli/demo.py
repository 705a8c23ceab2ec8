"""The default job: the SMHM of SHAM for default parameters, from SHAMNet (refined, and
the network alone) and the exact solver, and the SMF each implies against the target,
written as a table and a plot."""
import json
import os
import time

import numpy as np
from jax import numpy as jnp

from ..sham.implied_smf import implied_smf
from ..sham.params import DEFAULT_SHAM_PARAMS, TARGET_LOG_PHI, target_smf_params
from ..sham.scatter import scatter_sigma
from ..sham.shmf import halo_grid_from_model
from ..sham.smf import smf_in_bins
from ..sham.solver import mean_log_sm_from_solution, solve_sham
from ..shamnet import load_shamnet, shamnet_mean_log_sm

__all__ = ("run_demo",)


def run_demo(outdir="out/demo", params=DEFAULT_SHAM_PARAMS):
    """Compute and report the SMHM and the implied SMF; returns a dict of results."""
    os.makedirs(outdir, exist_ok=True)
    grid = halo_grid_from_model()
    net = load_shamnet()
    logmh = np.linspace(10.5, 15.5, 11)

    t0 = time.time()
    solution = solve_sham(params, grid)
    mu_solver_grid = np.asarray(solution.mean_log_sm)
    t_solver = time.time() - t0
    mu_net_grid = np.asarray(shamnet_mean_log_sm(net, params, grid.logmh))
    mu_alone_grid = np.asarray(shamnet_mean_log_sm(net, params, grid.logmh, refine=False))

    sm_edges = jnp.linspace(8.7, 11.7, 31)
    sigma = scatter_sigma(grid.logmh, params.s_lo, params.s_hi)
    target = np.asarray(smf_in_bins(TARGET_LOG_PHI, sm_edges, *target_smf_params(params)))
    smf_net = np.asarray(implied_smf(jnp.asarray(mu_net_grid), sigma, grid.dn, sm_edges))
    smf_solver = np.asarray(implied_smf(jnp.asarray(mu_solver_grid), sigma, grid.dn, sm_edges))
    smf_alone = np.asarray(implied_smf(jnp.asarray(mu_alone_grid), sigma, grid.dn, sm_edges))
    centres = 0.5 * (np.asarray(sm_edges[1:]) + np.asarray(sm_edges[:-1]))

    print(f"SHAM parameters: {dict(params._asdict())}")
    print("\n<log M*>: SHAMNet refined (the solver converged from the network's start), the")
    print("network alone, and the exact solver from zero-scatter matching")
    print("\n log Mpeak     refined   network alone      solver")
    mu_net = np.asarray(shamnet_mean_log_sm(net, params, logmh))
    mu_alone = np.asarray(shamnet_mean_log_sm(net, params, logmh, refine=False))
    mu_sol = np.asarray(mean_log_sm_from_solution(solution, jnp.asarray(logmh)))
    for m, a, c, b in zip(logmh, mu_net, mu_alone, mu_sol):
        print(f"  {m:7.2f}   {a:9.4f}   {c:13.4f}   {b:9.4f}")
    print("\n log M*   target phi    log10(implied/target): refined   network alone     solver")
    for x, t, a, c, b in zip(centres, target, smf_net, smf_alone, smf_solver):
        print(f"  {x:6.2f}   {t:.4e}   {np.log10(a / t):+31.4f}   {np.log10(c / t):+13.4f}   {np.log10(b / t):+8.4f}")
    print(f"\nexact solve took {t_solver:.2f} s (including compilation)")

    results = dict(
        params=dict(params._asdict()),
        logmh=logmh.tolist(),
        mean_log_sm_shamnet=mu_net.tolist(),
        mean_log_sm_network_alone=mu_alone.tolist(),
        mean_log_sm_solver=mu_sol.tolist(),
        logsm=centres.tolist(),
        smf_target=target.tolist(),
        smf_shamnet=smf_net.tolist(),
        smf_network_alone=smf_alone.tolist(),
        smf_solver=smf_solver.tolist(),
    )
    _write_json(results, os.path.join(outdir, "demo.json"))
    _plot(results, grid.logmh, mu_net_grid, mu_solver_grid, os.path.join(outdir, "demo.png"))
    print(f"wrote {outdir}/demo.json and {outdir}/demo.png")
    return results


def _write_json(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _plot(res, logmh_grid, mu_net, mu_solver, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    sel = (np.asarray(logmh_grid) > 10.5) & (np.asarray(logmh_grid) < 15.5)
    ax[0].plot(np.asarray(logmh_grid)[sel], mu_solver[sel], label="exact solver", lw=3, alpha=0.5)
    ax[0].plot(np.asarray(logmh_grid)[sel], mu_net[sel], "--", label="SHAMNet (refined)")
    ax[0].set_xlabel(r"$\log_{10} M_{\rm peak}\ [M_\odot/h]$")
    ax[0].set_ylabel(r"$\langle \log_{10} M_\star \rangle\ [M_\odot/h^2]$")
    ax[0].legend()
    x = np.asarray(res["logsm"])
    for key, label in (("smf_solver", "exact solver"), ("smf_shamnet", "SHAMNet (refined)"),
                       ("smf_network_alone", "network alone")):
        ax[1].plot(x, np.log10(np.asarray(res[key]) / np.asarray(res["smf_target"])), label=label)
    ax[1].axhline(0, color="k", lw=0.5)
    ax[1].set_xlabel(r"$\log_{10} M_\star\ [M_\odot/h^2]$")
    ax[1].set_ylabel(r"$\log_{10}(\phi_{\rm implied}/\phi_{\rm target})$")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=110)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)
