"""How much of a stellar-mass bin a catalog's mass cut leaves out.

A catalog holds (sub)halos above log Mpeak_min only; galaxies of a low stellar-mass bin
also live in lighter halos. For each bin, the fraction of its expected galaxies that
come from halos below the cut is

    f_b = sum_{m < cut} dn(m) w_b(m) / sum_m dn(m) w_b(m),

with dn the model SHMF (``halo_grid_from_model``) on log Mpeak [10, 16.5], and w_b(m)
the probability that a halo of mass m hosts a galaxy in bin b (the SMHM's mean and the
scatter, the triweight kernel of the estimators). It depends on the parameters: the
worst case over a box of them is what a fit must be safe against.
"""
import numpy as np
from jax import numpy as jnp

from ..sham.scatter import scatter_sigma
from ..sham.shmf import halo_grid_from_model
from ..stats.weights import bin_weights
from .domain import box_corners

__all__ = ("fraction_below_cut", "worst_fraction_below_cut")


def fraction_below_cut(smhm, theta, sm_bins, logmpeak_min, halo_grid=None):
    """f_b of the module docstring at one parameter point: ndarray of shape (n_bins, ).

    ``smhm``: a function of ``make_smhm``; ``theta``: (5, ); ``sm_bins``: (n_bins, 2).
    """
    grid = halo_grid or halo_grid_from_model()
    logm, dn = jnp.asarray(grid.logmh), jnp.asarray(grid.dn)
    theta = jnp.asarray(theta, dtype=float)
    mu = smhm(theta, logm, grid)[0]
    w = bin_weights(mu, scatter_sigma(logm, theta[3], theta[4]), jnp.asarray(sm_bins, dtype=float))
    n = dn[:, None] * w
    below = (logm < logmpeak_min)[:, None]
    return np.asarray(jnp.sum(jnp.where(below, n, 0.0), axis=0) / jnp.sum(n, axis=0))


def worst_fraction_below_cut(smhm, sm_bins, logmpeak_min, lo, hi):
    """The largest f_b over the corners and the centre of the box [lo, hi] of theta."""
    points = np.concatenate([box_corners(lo, hi), 0.5 * (np.asarray(lo) + np.asarray(hi))[None]])
    grid = halo_grid_from_model()
    return np.max([fraction_below_cut(smhm, t, sm_bins, logmpeak_min, grid) for t in points], axis=0)
