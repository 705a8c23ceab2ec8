"""The stellar mass function in bins, from bin weights."""
from jax import jit
from jax import numpy as jnp

__all__ = ("smf_from_weight_sums",)


@jit
def smf_from_weight_sums(weight_sums, volume, sm_edges):
    """SMF_b = sum_i w_ib / (V width_b) [h^3 Mpc^-3 dex^-1].

    Parameters
    ----------
    weight_sums : ndarray of shape (n_bins, )
        sum_i w_ib (exact path) or its tabulated equivalent.
    volume : float [(Mpc/h)^3]
    sm_edges : ndarray of shape (n_bins, 2)
    """
    sm_edges = jnp.asarray(sm_edges)
    return weight_sums / (volume * (sm_edges[:, 1] - sm_edges[:, 0]))
