"""The forward model: theta -> predicted data vector (SMF, wp, DeltaSigma in stellar-mass bins).

One jitted function of the five SHAM parameters (logphi, alpha, logmc, s_lo, s_hi),
choosing

* the SMHM backend: ``"shamnet"`` (the shipped network, evaluated on its grid and
  interpolated) or ``"solver"`` (the exact solver, with implicit gradients), and
* the estimator path: ``"tabulated"`` (contractions over fine log Mpeak bins; the path
  for inference) or ``"exact"`` (per-halo weights and exact weighted pair counts; the
  reference).

The data vector is the concatenation, in this order, of the SMF in ``smf_bins``, wp in
each of ``wp_bins`` (each over the rp bins) and DeltaSigma in each of ``ds_bins`` (each
over the catalog's lensing bins); ``ForwardModel.layout`` names the slices.
"""
from typing import Callable, NamedTuple

import jax
import numpy as np
from jax import numpy as jnp

from .sham.scatter import scatter_sigma
from .sham.shmf import DEFAULT_HALO_GRID
from .sham.smf import schechter_log_phi
from .sham.solver import DEFAULT_SOLVER_CONFIG, solve_smhm
from .stats.delta_sigma import delta_sigma_from_weights
from .stats.smf import smf_from_weight_sums
from .stats.tabulate import load_or_tabulate, tabulation_key
from .stats.tabulated import tabulated_delta_sigma_sums, tabulated_pair_counts, tabulated_sums
from .stats.weights import bin_weights, check_sm_edges
from .stats.wprp import wp_exact, wp_from_counts, wp_setup

__all__ = ("ForwardModel", "make_forward_model", "smhm_function", "DEFAULT_RP_EDGES", "DEFAULT_PI_MAX")

DEFAULT_RP_EDGES = np.logspace(-1, np.log10(30.0), 16)
DEFAULT_PI_MAX = 40.0


class ForwardModel(NamedTuple):
    """A prediction function and what its output holds.

    Attributes
    ----------
    predict : callable
        theta of shape (5, ) -> data vector of shape (n_data, ); jitted, differentiable.
    jacobian : callable
        theta -> (data vector, d data / d theta of shape (n_data, 5)), forward mode.
    layout : tuple of (name, slice, shape)
        Where each statistic sits in the data vector.
    """

    predict: Callable
    jacobian: Callable
    layout: tuple


def smhm_function(backend, net=None, refine=True):
    """mu(theta, logm) for a backend: "shamnet" or "solver".

    ``refine`` (SHAMNet only): converge the exact solver from the network's prediction
    (default), or use the network alone.
    """
    if backend == "shamnet":
        from .shamnet.io import load_shamnet
        from .shamnet.network import _bounds, direct_mean_log_sm, interp_mean_log_sm

        net = net or load_shamnet()
        bounds = _bounds(net)

        def mu(theta, logm):
            # Refined: the solver's spline at every mass (on the exact path, interpolating
            # the grid instead puts ~1% into d wp/d theta from the steep low-mass end).
            # The network alone: through its grid per halo; directly for a few hundred
            # bin centres.
            if refine or logm.shape[0] < DEFAULT_HALO_GRID.logmh.shape[0]:
                return direct_mean_log_sm(net.weights, bounds, theta, logm, refine)
            return interp_mean_log_sm(net.weights, bounds, theta, logm, refine)

        return mu
    if backend == "solver":
        grid = DEFAULT_HALO_GRID

        def mu(theta, logm):
            sigma = scatter_sigma(grid.logmh, theta[3], theta[4])
            sol = solve_smhm(schechter_log_phi, tuple(theta[:3]), sigma, DEFAULT_SOLVER_CONFIG, grid)
            return jnp.interp(logm, sol.logmh, sol.mean_log_sm)

        return mu
    raise ValueError(f"unknown SMHM backend {backend!r}; choose 'shamnet' or 'solver'")


def make_forward_model(cat, smf_bins=None, wp_bins=None, ds_bins=None, rp_edges=DEFAULT_RP_EDGES,
                       pi_max=DEFAULT_PI_MAX, smhm="shamnet", path="tabulated", dlogm=0.02, net=None,
                       tabulation=None, progress=True, pair_backend="auto", refine=True):
    """Build the forward model for a catalog and a choice of statistics.

    Parameters
    ----------
    cat : HaloCatalog
    smf_bins, wp_bins, ds_bins : ndarray of shape (n, 2), optional
        (lo, hi) log M* [Msun/h^2] bins of each statistic; None leaves it out.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]
    smhm : {"shamnet", "solver"}
    path : {"tabulated", "exact"}
    dlogm : float
        Mass-bin width of the tabulation [dex].
    net : ShamNet, optional
    tabulation : Tabulation, optional
        Reuse one (complete: combine shards first); by default loaded from the cache or built.
    progress : bool
    pair_backend : {"auto", "numba", "jax"}
        Pair counter of the exact path (``diffsham.stats.pair_counts``).
    refine : bool
        SHAMNet backend: converge the exact solver from the network's prediction
        (default; exact SHAM), or use the network alone (faster, ~0.007 dex in the SMF).

    Returns
    -------
    model : ForwardModel
    """
    if smf_bins is None and wp_bins is None and ds_bins is None:
        raise ValueError("ask for at least one statistic: smf_bins, wp_bins or ds_bins")
    if path not in ("tabulated", "exact"):
        raise ValueError(f"unknown estimator path {path!r}; choose 'tabulated' or 'exact'")
    smf_bins = None if smf_bins is None else check_sm_edges(smf_bins, "smf_bins")
    wp_bins = None if wp_bins is None else check_sm_edges(wp_bins, "wp_bins")
    ds_bins = None if ds_bins is None else check_sm_edges(ds_bins, "ds_bins")
    if ds_bins is not None and cat.delta_sigma is None:
        raise ValueError("ds_bins asked for, but the catalog carries no DeltaSigma profiles")
    mu_fn = smhm_function(smhm, net, refine)
    rp_edges = np.asarray(rp_edges, dtype=float)
    n_rp = rp_edges.size - 1
    layout, start = [], 0
    for name, bins, width in (("smf", smf_bins, 1), ("wp", wp_bins, n_rp),
                              ("delta_sigma", ds_bins, None if cat.delta_sigma is None
                               else cat.delta_sigma.shape[1])):
        if bins is not None:
            shape = (bins.shape[0],) if name == "smf" else (bins.shape[0], width)
            size = int(np.prod(shape))
            layout.append((name, slice(start, start + size), shape))
            start += size
    all_bins = [b for b in (smf_bins, wp_bins, ds_bins) if b is not None]
    edges_all = jnp.asarray(np.concatenate(all_bins))
    offsets = np.cumsum([0] + [b.shape[0] for b in all_bins])
    volume, lbox = cat.volume, cat.lbox

    def split(x):
        parts = [x[..., offsets[i]:offsets[i + 1]] for i in range(len(all_bins))]
        it = iter(parts)
        return [next(it) if b is not None else None for b in (smf_bins, wp_bins, ds_bins)]

    if path == "tabulated":
        tab = tabulation or load_or_tabulate(cat, rp_edges, pi_max, dlogm, progress=progress)
        if not tab.complete:
            raise ValueError(f"the tabulation covers {int(tab.n.sum())} of {tab.n_total} halos: a shard; "
                             "combine all shards with combine_tabulations first")
        if tabulation is not None and tab.key != tabulation_key(cat, rp_edges, pi_max, dlogm):
            raise ValueError("the tabulation was built from another catalog or binning (its key does not match)")
        centres = jnp.asarray(tab.logm_centres)
        n, s1, s2 = (jnp.asarray(a) for a in (tab.n, tab.s1, tab.s2))
        p0, p1, p11 = (jnp.asarray(a) for a in (tab.p0, tab.p1, tab.p11))
        ds0 = None if tab.ds0 is None else jnp.asarray(tab.ds0)
        ds1 = None if tab.ds1 is None else jnp.asarray(tab.ds1)

        def predict(theta):
            def w_of_m(logm):
                return bin_weights(mu_fn(theta, logm), scatter_sigma(logm, theta[3], theta[4]), edges_all)

            w, dw = jax.jvp(w_of_m, (centres,), (jnp.ones_like(centres),))
            w_smf, w_wp, w_ds = split(w)
            dw_smf, dw_wp, dw_ds = split(dw)
            out = []
            if smf_bins is not None:
                out.append(smf_from_weight_sums(tabulated_sums(n, s1, s2, w_smf, dw_smf)[0], volume, smf_bins))
            if wp_bins is not None:
                w_sum, w2_sum = tabulated_sums(n, s1, s2, w_wp, dw_wp)
                dd = tabulated_pair_counts(p0, p1, p11, w_wp, dw_wp)
                out.append(wp_from_counts(dd, w_sum, w2_sum, rp_edges, pi_max, lbox).ravel())
            if ds_bins is not None:
                w_sum = tabulated_sums(n, s1, s2, w_ds, dw_ds)[0]
                out.append((tabulated_delta_sigma_sums(ds0, ds1, w_ds, dw_ds) / w_sum[:, None]).ravel())
            return jnp.concatenate(out)
    else:
        logm = jnp.asarray(cat.logmpeak)
        setup = wp_setup(cat.positions, lbox, rp_edges, pi_max, backend=pair_backend) if wp_bins is not None else None
        profiles = None if ds_bins is None else jnp.asarray(cat.delta_sigma)

        def predict(theta):
            w = bin_weights(mu_fn(theta, logm), scatter_sigma(logm, theta[3], theta[4]), edges_all)
            w_smf, w_wp, w_ds = split(w)
            out = []
            if smf_bins is not None:
                out.append(smf_from_weight_sums(w_smf.sum(axis=0), volume, smf_bins))
            if wp_bins is not None:
                out.append(wp_exact(w_wp, setup).ravel())
            if ds_bins is not None:
                out.append(delta_sigma_from_weights(w_ds, profiles).ravel())
            return jnp.concatenate(out)

    predict = jax.jit(predict)

    @jax.jit
    def jacobian(theta):
        # forward mode in the five parameters: on the exact path one batched pass over the
        # pairs (the custom JVP of the pair counts), whatever the length of the data vector
        # (has_aux: the value comes from the same forward pass as the derivatives)
        jac, value = jax.jacfwd(lambda t: (predict(t),) * 2, has_aux=True)(theta)
        return value, jac

    return ForwardModel(predict, jacobian, tuple(layout))
