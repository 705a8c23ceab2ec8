"""The SMF implied by a stellar-to-halo mass relation with scatter.

phi_b = sum_i dn_i w_ib / width_b, with w_ib the triweight probability that halo
cell i puts its galaxy in stellar-mass bin b. This is the scatter-convolved SMF of
DESIGN.md, written as a sum over halo-mass cells so that a model SHMF and a catalog
histogram are treated identically.
"""
from jax import jit

from .kernels import triweight_cdf, triweight_pdf, triweight_pdf_slope

__all__ = ("implied_smf", "implied_smf_jacobians", "implied_smf_mu_curvature")


@jit
def implied_smf(mu, sigma, dn, sm_edges):
    """SMF in stellar-mass bins implied by <log M*>(Mpeak) and its scatter.

    Parameters
    ----------
    mu : ndarray of shape (n_cells, )
        Mean log10 M* [Msun/h^2] of the halos in each log Mpeak cell.
    sigma : ndarray of shape (n_cells, )
        Scatter [dex] in each cell.
    dn : ndarray of shape (n_cells, )
        Number density of halos in each cell [h^3 Mpc^-3].
    sm_edges : ndarray of shape (n_bins + 1, )
        Stellar-mass bin edges.

    Returns
    -------
    phi : ndarray of shape (n_bins, ) [h^3 Mpc^-3 dex^-1]
    """
    # The abundance above each edge once (bins share edges), then differences. Above,
    # not below: halos far under an edge then add exact zeros, and the difference of
    # two small sums keeps its precision in the exponential tail.
    n_above = triweight_cdf((mu[None, :] - sm_edges[:, None]) / sigma[None, :]) @ dn
    return (n_above[:-1] - n_above[1:]) / (sm_edges[1:] - sm_edges[:-1])


@jit
def implied_smf_jacobians(mu, sigma, dn, sm_edges):
    """d phi_b / d mu_i and d phi_b / d sigma_i in closed form.

    The kernel is the derivative of its CDF, so both follow from the standardised bin
    edges z = (edge - mu) / sigma: dw/dmu = [K(z_lo) - K(z_hi)] / sigma and
    dw/dsigma = [z_lo K(z_lo) - z_hi K(z_hi)] / sigma.

    Parameters
    ----------
    mu, sigma, dn : ndarray of shape (n_cells, )
    sm_edges : ndarray of shape (n_bins + 1, )

    Returns
    -------
    jac_mu, jac_sigma : ndarray of shape (n_bins, n_cells) each
    """
    # laid out (edges, cells) from the start: no transposes of the large arrays
    z = (sm_edges[:, None] - mu[None, :]) / sigma[None, :]
    k = triweight_pdf(z)
    zk = z * k
    scale = (dn / sigma)[None, :] / (sm_edges[1:] - sm_edges[:-1])[:, None]
    return (k[:-1] - k[1:]) * scale, (zk[:-1] - zk[1:]) * scale


@jit
def implied_smf_mu_curvature(mu, sigma, dn, sm_edges):
    """d^2 phi_b / d mu_i^2 in closed form (phi_b is a sum over cells, so its Hessian in
    mu is diagonal): [K'(z_hi) - K'(z_lo)] dn_i / (sigma_i^2 width_b), z = (edge - mu) / sigma.

    Returns
    -------
    curvature : ndarray of shape (n_bins, n_cells)
    """
    z = (sm_edges[:, None] - mu[None, :]) / sigma[None, :]
    kp = triweight_pdf_slope(z)
    scale = (dn / sigma**2)[None, :] / (sm_edges[1:] - sm_edges[:-1])[:, None]
    return (kp[1:] - kp[:-1]) * scale
