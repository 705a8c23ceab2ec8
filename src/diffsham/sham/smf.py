"""Stellar mass functions (h=1: log M* in Msun/h^2, phi in h^3 Mpc^-3 dex^-1).

All functions return log10 of the differential SMF per dex; bin averages and
cumulative abundances use Gauss-Legendre quadrature, so they are smooth and exact
to double precision for these integrands and differentiable in every parameter.
"""
from functools import partial

import numpy as np
from jax import jit
from jax import numpy as jnp

__all__ = (
    "schechter_log_phi",
    "double_schechter_log_phi",
    "smf_in_bins",
    "cumulative_number_density",
)

_LN10 = np.log(10.0)
_GL_RULES = {n: np.polynomial.legendre.leggauss(n) for n in (3, 12)}


@jit
def schechter_log_phi(logsm, logphi, alpha, logmc):
    """log10 of a Schechter function per dex of stellar mass.

    phi(log M) = ln(10) phi* x^(1 + alpha) exp(-x),  x = 10^(log M - log Mc)

    Parameters
    ----------
    logsm : ndarray of shape (n, )
        log10 stellar mass in Msun/h^2.
    logphi, alpha, logmc : float
        log10 phi* [h^3 Mpc^-3], faint-end slope, log10 characteristic mass.

    Returns
    -------
    log_phi : ndarray of shape (n, )
    """
    dx = logsm - logmc
    return jnp.log10(_LN10) + logphi + (1.0 + alpha) * dx - 10.0**dx / _LN10


@jit
def double_schechter_log_phi(logsm, logphi1, alpha1, logphi2, alpha2, logmc):
    """log10 of a double Schechter function with a shared characteristic mass.

    Parameters
    ----------
    logsm : ndarray of shape (n, )
    logphi1, alpha1 : float
        Normalisation and slope of the first component.
    logphi2, alpha2 : float
        Normalisation and slope of the second component.
    logmc : float

    Returns
    -------
    log_phi : ndarray of shape (n, )
    """
    dx = logsm - logmc
    log_x = dx * _LN10
    terms = jnp.stack(
        [logphi1 * _LN10 + (1.0 + alpha1) * log_x, logphi2 * _LN10 + (1.0 + alpha2) * log_x]
    )
    ln_phi = jnp.log(_LN10) + jnp.logaddexp(terms[0], terms[1]) - 10.0**dx
    return ln_phi / _LN10


@partial(jit, static_argnums=(0,))
def smf_in_bins(log_phi_fn, sm_edges, *smf_params):
    """Mean SMF in each stellar-mass bin, the quantity a survey measures.

    Parameters
    ----------
    log_phi_fn : callable
        log_phi_fn(logsm, *smf_params) -> log10 phi per dex (static).
    sm_edges : ndarray of shape (n_bins + 1, )
        Increasing bin edges in log10 M*.
    *smf_params : float
        Parameters passed to ``log_phi_fn``.

    Returns
    -------
    phi : ndarray of shape (n_bins, )
        Mean of phi over each bin [h^3 Mpc^-3 dex^-1].
    """
    return bin_means(log_phi_fn, sm_edges, smf_params)


def bin_means(log_phi_fn, sm_edges, smf_params, n_nodes=12):
    """``smf_in_bins`` by ``n_nodes``-point Gauss-Legendre per bin (12 or 3; 3 agree with
    12 to ~1e-10 on bins of 0.01 dex or less); not jitted, so n_nodes stays static."""
    lo, hi = sm_edges[:-1], sm_edges[1:]
    half = 0.5 * (hi - lo)
    nodes, weights = _GL_RULES[n_nodes]
    x = 0.5 * (hi + lo)[:, None] + half[:, None] * nodes[None, :]
    phi = 10.0 ** log_phi_fn(x.ravel(), *smf_params).reshape(x.shape)
    return 0.5 * jnp.sum(phi * weights, axis=1)


@partial(jit, static_argnums=(0,))
def cumulative_number_density(log_phi_fn, logsm, *smf_params, logsm_max=13.5):
    """Number density of galaxies above each stellar mass, n(>M*).

    Parameters
    ----------
    log_phi_fn : callable
        log_phi_fn(logsm, *smf_params) -> log10 phi per dex (static).
    logsm : ndarray of shape (n, ), increasing
        log10 M* at which to evaluate n(>M*).
    *smf_params : float
    logsm_max : float, optional
        Upper limit of the integral; the SMFs here are negligible beyond it.

    Returns
    -------
    ncum : ndarray of shape (n, ) [h^3 Mpc^-3]
    """
    return integrate_cumulative(log_phi_fn, logsm, smf_params, logsm_max)


def integrate_cumulative(log_phi_fn, logsm, smf_params, logsm_max=13.5, n_nodes=12):
    """The integral of ``cumulative_number_density``, not jitted, with a choice of
    ``n_nodes`` Gauss-Legendre nodes per interval (3 suffice on a fine grid)."""
    edges = jnp.append(logsm, logsm_max)
    widths = edges[1:] - edges[:-1]
    per_bin = bin_means(log_phi_fn, edges, smf_params, n_nodes) * widths
    return jnp.cumsum(per_bin[::-1])[::-1]
