"""Subhalo mass functions: the Bolshoi-Planck fit and one measured from a catalog.

The SHAM solver and SHAMNet both see a halo population as a ``HaloGrid``: the number
density of (sub)halos in fine cells of log Mpeak. A model SHMF and a catalog's own
histogram give the same object, so the SMF implied by an SMHM is the same sum either way.
"""
from typing import NamedTuple

import numpy as np
from jax import jit
from jax import numpy as jnp

__all__ = (
    "HaloGrid",
    "log_ncum_bpl",
    "halo_grid_from_model",
    "halo_grid_from_catalog",
    "DEFAULT_LOGMH_EDGES",
    "DEFAULT_HALO_GRID",
)

# Cells of 0.01 dex over the range where halos host galaxies of log M* > ~7
DEFAULT_LOGMH_EDGES = np.round(np.arange(10.0, 16.5 + 1e-9, 0.01), 6)


class HaloGrid(NamedTuple):
    """A (sub)halo population binned in log Mpeak.

    Attributes
    ----------
    logmh : ndarray of shape (n_cells, )
        Cell centres in log10 Mpeak [Msun/h].
    dn : ndarray of shape (n_cells, )
        Number density of (sub)halos in each cell [h^3 Mpc^-3].
    """

    logmh: jnp.ndarray
    dn: jnp.ndarray


def _sigmoid(x, x0, k, lo, hi, xp=jnp):
    return lo + (hi - lo) / (1.0 + xp.exp(-k * (x - x0)))


def _log_ncum_bpl(logmh, redshift, xp):
    y_c = _sigmoid(redshift, 0.5, 1.35, -8.1, -5.9, xp)
    x_c = _sigmoid(redshift, 0.75, 1.0, 16.175, 12.925, xp)
    gamma = _sigmoid(logmh, x_c, 0.9, -1.4, -5.25, xp)
    return y_c + gamma * (logmh - x_c)


@jit
def log_ncum_bpl(logmh, redshift=0.0):
    """Cumulative (host + sub)halo abundance of the Bolshoi-Planck fit (h=1).

    log10 n(>Mpeak) = y_c + gamma(log Mpeak) (log Mpeak - x_c), with gamma a sigmoid
    in log Mpeak from -1.4 to -5.25 centred on x_c, and y_c, x_c sigmoids in redshift.

    Parameters
    ----------
    logmh : ndarray of shape (n, )
        log10 Mpeak [Msun/h].
    redshift : float, optional

    Returns
    -------
    log_ncum : ndarray of shape (n, )
        log10 n(>Mpeak) [h^3 Mpc^-3].
    """
    return _log_ncum_bpl(logmh, redshift, jnp)


def halo_grid_from_model(logmh_edges=DEFAULT_LOGMH_EDGES, redshift=0.0):
    """Bin the Bolshoi-Planck SHMF into cells of log Mpeak.

    Parameters
    ----------
    logmh_edges : ndarray of shape (n_cells + 1, ), increasing
    redshift : float, optional

    Returns
    -------
    grid : HaloGrid
        Of float64 NumPy arrays (JAX functions take them as constants).
    """
    edges = _check_edges(logmh_edges)
    ncum = 10.0 ** _log_ncum_bpl(edges, float(redshift), np)
    return HaloGrid(0.5 * (edges[1:] + edges[:-1]), ncum[:-1] - ncum[1:])


def halo_grid_from_catalog(logmpeak, volume, logmh_edges=DEFAULT_LOGMH_EDGES):
    """The SHMF of a catalog, binned into cells of log Mpeak.

    Parameters
    ----------
    logmpeak : ndarray of shape (n_halos, )
        log10 Mpeak [Msun/h] of every host and subhalo.
    volume : float
        Comoving volume of the catalog [(Mpc/h)^3].
    logmh_edges : ndarray of shape (n_cells + 1, ), increasing

    Returns
    -------
    grid : HaloGrid
        Halos outside the edges are not counted; the caller decides the range.
    """
    edges = _check_edges(logmh_edges)
    logmpeak = np.asarray(logmpeak, dtype=float)
    if logmpeak.ndim != 1 or logmpeak.size == 0:
        raise ValueError(f"logmpeak must be a non-empty 1-d array, got shape {logmpeak.shape}")
    if not np.all(np.isfinite(logmpeak)):
        raise ValueError(f"logmpeak has {np.sum(~np.isfinite(logmpeak))} NaN or infinite values")
    if not (np.isfinite(volume) and volume > 0):
        raise ValueError(f"volume must be a positive number, got {volume}")
    counts, _ = np.histogram(logmpeak, bins=edges)
    return HaloGrid(0.5 * (edges[1:] + edges[:-1]), counts / float(volume))


def _check_edges(edges):
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("log Mpeak edges must be a 1-d, strictly increasing array of length >= 2")
    return edges


# The Bolshoi-Planck SHMF at z = 0 on the default cells: float64 NumPy, so that it is a
# constant (never a value traced inside some caller's jit) and importing sets no precision
DEFAULT_HALO_GRID = halo_grid_from_model()
