"""Triweight kernel in log stellar mass and the stellar-mass-bin weight it implies.

The triweight kernel K(z) = 35/96 (1 - z^2/9)^3 on |z| < 3 has unit variance and
compact support, so every halo contributes to a finite range of stellar mass, and
its CDF is a polynomial: exact and cheap to differentiate.
"""
from jax import jit
from jax import numpy as jnp

__all__ = ("triweight_pdf", "triweight_pdf_slope", "triweight_cdf", "triweight_bin_weight")

_SUPPORT = 3.0


@jit
def triweight_pdf(z):
    """Unit-variance triweight kernel.

    Parameters
    ----------
    z : ndarray of any shape
        Standardised offset (x - mu) / sigma.

    Returns
    -------
    pdf : ndarray, same shape as z
    """
    u = jnp.clip(z / _SUPPORT, -1.0, 1.0)
    return 35.0 / 96.0 * (1.0 - u * u) ** 3


@jit
def triweight_pdf_slope(z):
    """dK/dz of the unit-variance triweight kernel, -35/48 u (1 - u^2)^2 with u = z/3."""
    u = jnp.clip(z / _SUPPORT, -1.0, 1.0)
    return -35.0 / 48.0 * u * (1.0 - u * u) ** 2


@jit
def triweight_cdf(z):
    """Cumulative distribution function of the unit-variance triweight kernel.

    Parameters
    ----------
    z : ndarray of any shape

    Returns
    -------
    cdf : ndarray, same shape as z, in [0, 1]
    """
    u = jnp.clip(z / _SUPPORT, -1.0, 1.0)
    u2 = u * u
    # Antiderivative of 35/32 (1 - u^2)^3, written in Horner form
    poly = u * (1.0 + u2 * (-1.0 + u2 * (3.0 / 5.0 - u2 / 7.0)))
    return 0.5 + 35.0 / 32.0 * poly


@jit
def triweight_bin_weight(lo, hi, mu, sigma):
    """Probability that a galaxy with log M* ~ K(mu, sigma) lies in [lo, hi).

    Parameters
    ----------
    lo, hi : ndarray
        Bin edges in log10 stellar mass; broadcast against mu and sigma.
    mu : ndarray
        Mean log10 stellar mass of each halo.
    sigma : ndarray
        Scatter in dex of each halo (> 0).

    Returns
    -------
    w : ndarray, the broadcast shape of the inputs
    """
    return triweight_cdf((hi - mu) / sigma) - triweight_cdf((lo - mu) / sigma)
