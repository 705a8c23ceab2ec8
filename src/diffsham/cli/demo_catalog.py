"""The default job, part two: predictions from the default synthetic catalog.

Makes (or reads from the cache folder) the synthetic catalog, tabulates it once, and
evaluates the forward model (SMF, wp and DeltaSigma in three stellar-mass bins) and its
Jacobian at the default parameters; writes ``catalog_predictions.json`` and a plot.
"""
import json
import os
import time

import numpy as np
from jax import numpy as jnp

from ..catalog import SyntheticConfig, load_synthetic_catalog
from ..model import make_forward_model
from ..sham.params import DEFAULT_SHAM_PARAMS

__all__ = ("run_catalog_demo", "DEMO_SM_BINS")

# complete for the default catalog (log Mpeak >= 11.5): galaxies above 10.2 come from heavier halos
DEMO_SM_BINS = np.array([[10.2, 10.6], [10.6, 11.0], [11.0, 11.4]])


def run_catalog_demo(outdir="out/demo", config=SyntheticConfig(logmpeak_min=11.5), params=DEFAULT_SHAM_PARAMS):
    """Predict the data vector from the synthetic catalog; returns a dict of results."""
    os.makedirs(outdir, exist_ok=True)
    t0 = time.time()
    cat = load_synthetic_catalog(config)
    t_catalog = time.time() - t0
    print(f"\ncatalog: {cat.n_halos} objects in a {cat.lbox:g} Mpc/h box ({t_catalog:.1f} s)")
    smf_bins = np.stack([np.linspace(10.2, 11.5, 14), np.linspace(10.3, 11.6, 14)], axis=1)
    t0 = time.time()
    model = make_forward_model(cat, smf_bins, DEMO_SM_BINS, DEMO_SM_BINS)
    theta = jnp.asarray(params)
    value, jac = model.jacobian(theta)
    t_model = time.time() - t0
    t0 = time.time()
    value, jac = model.jacobian(theta)
    value.block_until_ready()
    t_call = time.time() - t0
    print(f"forward model: set up and first call {t_model:.1f} s; data vector + Jacobian {1e3 * t_call:.1f} ms")
    results = dict(params=dict(params._asdict()), n_halos=int(cat.n_halos), lbox=cat.lbox,
                   sm_bins=DEMO_SM_BINS.tolist(), smf_bins=smf_bins.tolist(),
                   rp_edges=list(model.config.rp_edges), pi_max=model.config.pi_max,
                   ds_rp_edges=cat.delta_sigma_rp_edges.tolist(), seconds_per_jacobian=t_call)
    for kind in ("smf", "wp", "delta_sigma"):
        results[kind] = model.layout.stack(np.asarray(value), kind).tolist()
        results[f"d_{kind}_d_theta"] = np.moveaxis(model.layout.stack(np.asarray(jac).T, kind), 0, -1).tolist()
    wp = np.asarray(results["wp"])
    rp = model.layout.of_kind("wp")[0].centres
    print(" rp [Mpc/h]  " + "  ".join(f"wp(M* {lo:.1f}-{hi:.1f})" for lo, hi in DEMO_SM_BINS))
    for k in range(0, rp.size, 2):
        print(f"  {rp[k]:8.3f}  " + "  ".join(f"{wp[b, k]:17.2f}" for b in range(len(DEMO_SM_BINS))))
    tmp = os.path.join(outdir, "catalog_predictions.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f)
    os.replace(tmp, os.path.join(outdir, "catalog_predictions.json"))
    _plot(results, os.path.join(outdir, "catalog_predictions.png"))
    print(f"wrote {outdir}/catalog_predictions.json and {outdir}/catalog_predictions.png")
    return results


def _plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    smf_bins = np.asarray(res["smf_bins"])
    ax[0].semilogy(smf_bins.mean(axis=1), res["smf"], "o-")
    ax[0].set_xlabel(r"$\log_{10} M_\star\ [M_\odot/h^2]$")
    ax[0].set_ylabel(r"$\phi\ [h^3\,{\rm Mpc}^{-3}\,{\rm dex}^{-1}]$")
    rp_edges, ds_edges = np.asarray(res["rp_edges"]), np.asarray(res["ds_rp_edges"])
    rp, r_ds = np.sqrt(rp_edges[1:] * rp_edges[:-1]), np.sqrt(ds_edges[1:] * ds_edges[:-1])
    for b, (lo, hi) in enumerate(res["sm_bins"]):
        label = f"{lo:.1f} < log M* < {hi:.1f}"
        ax[1].loglog(rp, np.clip(res["wp"][b], 1e-3, None), "o-", label=label)
        ax[2].loglog(r_ds, np.clip(res["delta_sigma"][b], 1e-3, None), "o-", label=label)
    ax[1].set_xlabel(r"$r_p\ [h^{-1}{\rm Mpc}]$")
    ax[1].set_ylabel(r"$w_p\ [h^{-1}{\rm Mpc}]$")
    ax[2].set_xlabel(r"$R\ [h^{-1}{\rm Mpc}]$")
    ax[2].set_ylabel(r"$\Delta\Sigma\ [h\,M_\odot\,{\rm pc}^{-2}]$")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=110)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)
