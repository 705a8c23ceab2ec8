"""The fast path: statistics from a Tabulation and the weights at its mass-bin centres.

See ``tabulate`` for the expansion. Every function here costs O(n_m^2 n_rp n_bins),
independent of the number of halos.
"""
import jax
from jax import jit
from jax import numpy as jnp
from jax.custom_derivatives import SymbolicZero

__all__ = ("tabulated_sums", "tabulated_pair_counts", "tabulated_delta_sigma_sums")


@jit
def tabulated_sums(n, s1, s2, w, dw):
    """(sum_i w_ib, sum_i w_ib^2), each of shape (n_bins, ), for w, dw of shape (n_m, n_bins)."""
    w_sum = n @ w + s1 @ dw
    w2_sum = n @ w**2 + 2.0 * s1 @ (w * dw) + s2 @ dw**2
    return w_sum, w2_sum


def _quadratic_form(p, u, v):
    return jnp.einsum("kac,ab,cb->kb", p, u, v)


@jax.custom_jvp
def _pair_counts(p0, p1, p11, w, dw):
    return 0.5 * (_quadratic_form(p0, w, w) + 2.0 * _quadratic_form(p1, dw, w) + _quadratic_form(p11, dw, dw))


def _pair_counts_jvp(primals, tangents):
    """The derivative from four table-vector products of the primal pass.

    P0 and P11 are symmetric in their mass bins (ordered pairs), so with
    A = P0 W, B = P1 W, B' = P1^T W', C = P11 W' (each of shape (n_rp, n_m, n_bins)),
    d DD = sum_a [dW (A + B') + dW' (B + C)]. Every tangent (five for a Jacobian, one
    cotangent for a gradient) then costs element-wise products: the tables, tens of
    MB for a large catalog, are read once, not once more per derivative."""
    p0, p1, p11, w, dw = primals
    a = jnp.einsum("kac,cb->kab", p0, w)
    b = jnp.einsum("kac,cb->kab", p1, w)
    b_t = jnp.einsum("kac,ab->kcb", p1, dw)
    c = jnp.einsum("kac,cb->kab", p11, dw)
    value = 0.5 * (jnp.einsum("kab,ab->kb", a, w) + jnp.einsum("kab,ab->kb", 2.0 * b + c, dw))
    t_p0, t_p1, t_p11, t_w, t_dw = tangents
    tangent = jnp.zeros_like(value)
    if not isinstance(t_w, SymbolicZero):
        tangent = tangent + jnp.einsum("kab,ab->kb", a + b_t, t_w)
    if not isinstance(t_dw, SymbolicZero):
        tangent = tangent + jnp.einsum("kab,ab->kb", b + c, t_dw)
    # derivatives in the tables themselves (not needed by the model): the plain form
    for t_p, u, v, f in ((t_p0, w, w, 0.5), (t_p1, dw, w, 1.0), (t_p11, dw, dw, 0.5)):
        if not isinstance(t_p, SymbolicZero):
            tangent = tangent + f * _quadratic_form(t_p, u, v)
    return value, tangent


_pair_counts.defjvp(_pair_counts_jvp, symbolic_zeros=True)


@jit
def tabulated_pair_counts(p0, p1, p11, w, dw):
    """DD of shape (n_rp, n_bins): 1/2 [W^T P0 W + 2 W'^T P1 W + W'^T P11 W] per rp bin.

    Parameters
    ----------
    p0, p1, p11 : ndarray of shape (n_rp, n_m, n_m)
        The pair tables of a ``Tabulation``; p0 and p11 symmetric.
    w, dw : ndarray of shape (n_m, n_bins)
        Bin weights at the mass-bin centres and their derivatives in log Mpeak.
    """
    return _pair_counts(p0, p1, p11, w, dw)


@jit
def tabulated_delta_sigma_sums(ds0, ds1, w, dw):
    """sum_i w_ib DeltaSigma_i(R), shape (n_bins, n_r)."""
    return w.T @ ds0 + dw.T @ ds1
