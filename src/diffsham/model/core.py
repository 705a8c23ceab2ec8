"""The forward model's pure core: tables built once from a catalog, and a kernel
``kernel(theta, tables) -> (data vector, ModelInfo)`` that is jittable, differentiable
and vmappable (the BlackJAX pattern: a builder returns a pure kernel).

Both estimator paths reduce the bin weights to the same sums, and one assembly turns
sums into the SMF, wp and DeltaSigma:

* SMF: sum_i w_ib per bin;
* wp: sum_i w_ib, sum_i w_ib^2 and the weighted pair counts DD_b(rp);
* DeltaSigma: sum_i w_ib and sum_i w_ib DeltaSigma_i(R), over the lenses (every halo, or
  host halos only for central-galaxy lensing).

The tabulated path gets them by contracting tables over fine log Mpeak bins (weights at
each bin's centre and their first derivative in mass); the exact path from per-halo
weights and an exact pair counter.
"""
from typing import Any, NamedTuple

import jax
import numpy as np
from jax import numpy as jnp

from ..sham.params import as_params
from ..sham.scatter import scatter_sigma
from ..stats.pair_counts import weighted_pair_counts
from ..stats.smf import smf_from_weight_sums
from ..stats.tabulated import tabulated_delta_sigma_sums, tabulated_pair_counts, tabulated_sums
from ..stats.weights import bin_weights
from ..stats.wprp import wp_from_counts
from .domain import in_supported_domain

__all__ = ("ModelTables", "ModelStatics", "ModelInfo", "make_kernel", "bin_weights_and_slopes", "assemble",
           "weight_sums_from_tables")


class ModelTables(NamedTuple):
    """Arrays the kernel reads (a pytree; None where a statistic or path is absent).

    Attributes
    ----------
    halo_grid : HaloGrid
        The population SHAM is solved for.
    logm : array of shape (n_m, )
        Where weights are evaluated: tabulation bin centres, or every halo.
    sm_edges : array of shape (n_smf + n_wp + n_ds, 2)
        The stellar-mass bins of all statistics, in that order.
    n, s1, s2, p0, p1, p11, ds0, ds1 : arrays or None
        The tabulation (``diffsham.stats.tabulate``), tabulated path only.
    profiles : array of shape (n_halos, n_r) or None
        Per-halo DeltaSigma, exact path only.
    lens_n, lens_s1, lens_s2 : arrays of shape (n_m, ) or None
        Tabulated path: N, S1, S2 of the lens population when it is not every halo
        (then ds0, ds1 are its sums too); None: the lenses are every halo.
    lens_mask : array of shape (n_halos, ) or None
        Exact path: 1 for a halo that is a lens, 0 otherwise; None: every halo.
    own : array of shape (n_halos, ) or None
        Exact path on a share of the catalog (``diffsham.distributed``): 1 for the halos
        whose one-point sums are this share's, 0 for the ghosts it holds only as pair
        partners; None: every halo.
    """

    halo_grid: Any
    logm: Any
    sm_edges: Any
    n: Any = None
    s1: Any = None
    s2: Any = None
    p0: Any = None
    p1: Any = None
    p11: Any = None
    ds0: Any = None
    ds1: Any = None
    profiles: Any = None
    lens_n: Any = None
    lens_s1: Any = None
    lens_s2: Any = None
    lens_mask: Any = None
    own: Any = None


class ModelStatics(NamedTuple):
    """What the kernel needs that is not an array to trace."""

    path: str
    n_bins: tuple  # (n_smf, n_wp, n_ds)
    smf_bins: np.ndarray  # (n_smf, 2) or None
    volume: float
    lbox: float
    rp_edges: np.ndarray
    pi_max: float
    pair_cells: Any = None  # exact path with wp: the pair counter's cells


class ModelInfo(NamedTuple):
    """Diagnostics of one prediction.

    Attributes
    ----------
    n_iter, converged : from the SMHM solve (see ``SmhmInfo``)
    in_domain : bool
        Inside the supported parameter box.
    finite : bool
        Every element of the data vector is finite.
    """

    n_iter: jnp.ndarray
    converged: jnp.ndarray
    in_domain: jnp.ndarray
    finite: jnp.ndarray

    @property
    def ok(self):
        """Inside the model's support: in the domain, converged, finite."""
        return self.in_domain & self.converged & self.finite


def _split(x, n_bins):
    edges = np.cumsum((0,) + tuple(n_bins))
    return [x[..., edges[i]:edges[i + 1]] for i in range(3)]


def assemble(statics, smf_sum, wp_sums, ds_sums):
    """The data vector from the weight sums of each statistic (None where absent)."""
    out = []
    if smf_sum is not None:
        out.append(smf_from_weight_sums(smf_sum, statics.volume, statics.smf_bins))
    if wp_sums is not None:
        w_sum, w2_sum, dd = wp_sums
        out.append(wp_from_counts(dd, w_sum, w2_sum, statics.rp_edges, statics.pi_max, statics.lbox).ravel())
    if ds_sums is not None:
        w_sum, ds_sum = ds_sums
        out.append((ds_sum / w_sum[:, None]).ravel())
    return jnp.concatenate(out)


def weight_sums_from_tables(statics, tables, w, dw):
    """The weight sums of every statistic from a tabulation (what ``assemble`` takes)."""
    n_smf, n_wp, n_ds = statics.n_bins
    (w_smf, w_wp, w_ds), (dw_smf, dw_wp, dw_ds) = _split(w, statics.n_bins), _split(dw, statics.n_bins)
    t = tables
    smf = tabulated_sums(t.n, t.s1, t.s2, w_smf, dw_smf)[0] if n_smf else None
    wp = None
    if n_wp:
        w_sum, w2_sum = tabulated_sums(t.n, t.s1, t.s2, w_wp, dw_wp)
        wp = (w_sum, w2_sum, tabulated_pair_counts(t.p0, t.p1, t.p11, w_wp, dw_wp))
    ds = None
    if n_ds:
        lens = (t.n, t.s1, t.s2) if t.lens_n is None else (t.lens_n, t.lens_s1, t.lens_s2)
        ds = (tabulated_sums(*lens, w_ds, dw_ds)[0], tabulated_delta_sigma_sums(t.ds0, t.ds1, w_ds, dw_ds))
    return smf, wp, ds


def _exact_sums(statics, tables, w):
    n_smf, n_wp, n_ds = statics.n_bins
    w_own = w if tables.own is None else w * tables.own[:, None]
    w_wp = _split(w, statics.n_bins)[1]  # pair partners: ghosts too
    own_smf, own_wp, own_ds = _split(w_own, statics.n_bins)
    smf = own_smf.sum(axis=0) if n_smf else None
    wp = None
    if n_wp:
        dd = weighted_pair_counts(w_wp, statics.pair_cells, statics.rp_edges, statics.pi_max)
        wp = (own_wp.sum(axis=0), (own_wp * w_wp).sum(axis=0), dd)
    ds = None
    if n_ds:
        w_lens = own_ds if tables.lens_mask is None else own_ds * tables.lens_mask[:, None]
        ds = (w_lens.sum(axis=0), w_lens.T @ tables.profiles)
    return smf, wp, ds


def _weights_at(smhm, theta, tables, logm):
    p = as_params(theta)
    mu, info = smhm(theta, logm, tables.halo_grid)
    return bin_weights(mu, scatter_sigma(logm, p.s_lo, p.s_hi), tables.sm_edges), info


def bin_weights_and_slopes(smhm, theta, tables):
    """Bin weights at the tabulation's bin centres and their derivative in log Mpeak
    (first order inside each bin: DESIGN.md idea 2): (w, dw, SmhmInfo), w and dw of
    shape (n_m, n_bins)."""
    return jax.jvp(lambda m: _weights_at(smhm, theta, tables, m), (tables.logm,), (jnp.ones_like(tables.logm),),
                   has_aux=True)


def make_kernel(statics, smhm, reduce_sums=None):
    """The pure forward model for fixed statics and an SMHM backend.

    Parameters
    ----------
    statics : ModelStatics
    smhm : callable
        From :func:`diffsham.model.smhm.make_smhm`.
    reduce_sums : callable, optional
        Applied to the weight sums (a tuple of arrays and None) before they are
        assembled: a share of the catalog sums them over all shares here
        (``diffsham.distributed``, a ``psum``).

    Returns
    -------
    kernel : callable
        ``kernel(theta, tables) -> (vector, ModelInfo)``; theta of shape (5, ).
    """

    def kernel(theta, tables):
        theta = jnp.asarray(theta)
        if statics.path == "tabulated":
            w, dw, info = bin_weights_and_slopes(smhm, theta, tables)
            sums = weight_sums_from_tables(statics, tables, w, dw)
        else:
            w, info = _weights_at(smhm, theta, tables, tables.logm)
            sums = _exact_sums(statics, tables, w)
        if reduce_sums is not None:
            sums = reduce_sums(sums)
        vector = assemble(statics, *sums)
        return vector, ModelInfo(info.n_iter, info.converged, in_supported_domain(theta),
                                 jnp.all(jnp.isfinite(vector)))

    return kernel

