"""Scatter in log stellar mass at fixed halo mass, sigma(log Mpeak; s_lo, s_hi)."""
from jax import jit
from jax import numpy as jnp

__all__ = ("SCATTER_X0", "SCATTER_K", "scatter_sigma")

SCATTER_X0 = 12.0  # log10 Mpeak [Msun/h] of the transition
SCATTER_K = 1.0  # steepness of the transition, per dex


@jit
def scatter_sigma(logmh, s_lo, s_hi):
    """Scatter in dex, a sigmoid from s_lo at low mass to s_hi at high mass.

    Parameters
    ----------
    logmh : ndarray of shape (n, )
        log10 Mpeak in Msun/h.
    s_lo, s_hi : float
        Scatter in dex well below and well above log Mpeak = 12.

    Returns
    -------
    sigma : ndarray of shape (n, )
    """
    return s_lo + (s_hi - s_lo) / (1.0 + jnp.exp(-SCATTER_K * (logmh - SCATTER_X0)))
