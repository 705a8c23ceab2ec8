"""Stellar-mass-bin weights w_ib: the probability that halo i's galaxy lies in bin b."""
from jax import jit
from jax import numpy as jnp

from ..sham.kernels import triweight_bin_weight

__all__ = ("bin_weights", "check_sm_edges")


@jit
def bin_weights(mu, sigma, sm_edges):
    """w_ib = F((hi_b - mu_i) / sigma_i) - F((lo_b - mu_i) / sigma_i), triweight CDF F.

    Parameters
    ----------
    mu : ndarray of shape (n_halos, )
        <log M*> of each halo [Msun/h^2].
    sigma : ndarray of shape (n_halos, )
        Scatter of each halo [dex].
    sm_edges : ndarray of shape (n_bins, 2)
        (lo, hi) of each stellar-mass bin; bins may overlap or leave gaps
        (threshold samples, survey bins).

    Returns
    -------
    w : ndarray of shape (n_halos, n_bins)
    """
    sm_edges = jnp.asarray(sm_edges)
    return triweight_bin_weight(sm_edges[None, :, 0], sm_edges[None, :, 1], mu[:, None], sigma[:, None])


def check_sm_edges(sm_edges, name="stellar-mass bins"):
    """(n_bins, 2) array of (lo, hi) with lo < hi, all finite; ValueError otherwise."""
    import numpy as np

    e = np.asarray(sm_edges, dtype=float)
    if e.ndim != 2 or e.shape[1] != 2 or e.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n_bins, 2) of (lo, hi), got {e.shape}")
    if not np.all(np.isfinite(e)) or np.any(e[:, 1] <= e[:, 0]):
        raise ValueError(f"{name} must be finite with lo < hi in every bin, got {e.tolist()}")
    return e
