"""Stacked lensing DeltaSigma_b(R): the weighted mean of per-halo profiles."""
from jax import jit
from jax import numpy as jnp

__all__ = ("delta_sigma_from_weights",)


@jit
def delta_sigma_from_weights(weights, profiles):
    """DeltaSigma_b(R) = sum_i w_ib DeltaSigma_i(R) / sum_i w_ib.

    Parameters
    ----------
    weights : ndarray of shape (n_halos, n_bins)
    profiles : ndarray of shape (n_halos, n_r) [h Msun/pc^2]

    Returns
    -------
    delta_sigma : ndarray of shape (n_bins, n_r) [h Msun/pc^2]
    """
    return (weights.T @ profiles) / jnp.sum(weights, axis=0)[:, None]
