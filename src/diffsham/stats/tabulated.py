"""The fast path: statistics from a Tabulation and the weights at its mass-bin centres.

See ``tabulate`` for the expansion. Every function here costs O(n_m^2 n_rp n_bins),
independent of the number of halos.
"""
from jax import jit
from jax import numpy as jnp

__all__ = ("tabulated_sums", "tabulated_pair_counts", "tabulated_delta_sigma_sums")


@jit
def tabulated_sums(n, s1, s2, w, dw):
    """(sum_i w_ib, sum_i w_ib^2), each of shape (n_bins, ), for w, dw of shape (n_m, n_bins)."""
    w_sum = n @ w + s1 @ dw
    w2_sum = n @ w**2 + 2.0 * s1 @ (w * dw) + s2 @ dw**2
    return w_sum, w2_sum


@jit
def tabulated_pair_counts(p0, p1, p11, w, dw):
    """DD of shape (n_rp, n_bins): 1/2 [W^T P0 W + 2 W'^T P1 W + W'^T P11 W] per rp bin."""
    quad = jnp.einsum("kac,ab,cb->kb", p0, w, w)
    cross = jnp.einsum("kac,ab,cb->kb", p1, dw, w)
    second = jnp.einsum("kac,ab,cb->kb", p11, dw, dw)
    return 0.5 * (quad + 2.0 * cross + second)


@jit
def tabulated_delta_sigma_sums(ds0, ds1, w, dw):
    """sum_i w_ib DeltaSigma_i(R), shape (n_bins, n_r)."""
    return w.T @ ds0 + dw.T @ ds1
