"""Projected correlation function wp(rp) from weighted pair counts and analytic randoms."""
from jax import jit
from jax import numpy as jnp

from .pair_counts import check_pair_count_args, pair_cells, resolve_backend, weighted_pair_counts

__all__ = ("wp_from_counts", "WpSetup", "wp_setup", "wp_exact")


@jit
def wp_from_counts(dd, w_sum, w2_sum, rp_edges, pi_max, lbox, w_sum_second=None):
    """wp_b(rp_k) = 2 pi_max (DD_bk / RR_bk - 1) with analytic RR in a periodic box.

    RR_bk = 1/2 (W_b^2 - sum_i w_ib^2) pi (rp_hi^2 - rp_lo^2) 2 pi_max / L^3; with
    ``w_sum_second`` (the pairs' second members are another population, e.g. the whole
    box for a jackknife replicate's first members), W_b^2 becomes W_b W_second,b.

    Parameters
    ----------
    dd : ndarray of shape (n_rp, n_bins)
        Weighted counts of unordered pairs.
    w_sum, w2_sum : ndarray of shape (n_bins, )
        sum_i w_ib and sum_i w_ib^2.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max, lbox : float [Mpc/h]

    Returns
    -------
    wp : ndarray of shape (n_bins, n_rp) [Mpc/h]
    """
    rp_edges = jnp.asarray(rp_edges)
    shell = jnp.pi * (rp_edges[1:] ** 2 - rp_edges[:-1] ** 2) * 2.0 * pi_max / lbox**3
    second = w_sum if w_sum_second is None else w_sum_second
    rr = 0.5 * (w_sum * second - w2_sum)[None, :] * shell[:, None]
    return (2.0 * pi_max * (dd / rr - 1.0)).T


class WpSetup:
    """Positions binned once for the exact wp path (the cells and the binning).

    ``backend`` is that of ``diffsham.stats.pair_counts``: "numba" (CPU), "jax" (GPU) or
    "auto".
    """

    def __init__(self, pos, lbox, rp_edges, pi_max, subdivide=None, backend="auto"):
        pos, edges = check_pair_count_args(pos, lbox, rp_edges, pi_max)
        self.n_points = pos.shape[0]
        self.lbox = float(lbox)
        self.rp_edges = edges
        self.pi_max = float(pi_max)
        self.backend = resolve_backend(backend)
        self.cells = pair_cells(pos, lbox, edges, pi_max, self.backend, subdivide)


def wp_setup(pos, lbox, rp_edges, pi_max, subdivide=None, backend="auto"):
    """Check the inputs and bin the positions once; see ``WpSetup``."""
    return WpSetup(pos, lbox, rp_edges, pi_max, subdivide, backend)


def wp_exact(weights, setup):
    """wp for every weight column, by exact weighted pair counting (differentiable in weights).

    Parameters
    ----------
    weights : ndarray of shape (n_points, n_bins)
    setup : WpSetup

    Returns
    -------
    wp : ndarray of shape (n_bins, n_rp) [Mpc/h]
    """
    weights = jnp.asarray(weights)
    if weights.ndim != 2 or weights.shape[0] != setup.n_points:
        raise ValueError(f"weights must have shape (n_points={setup.n_points}, n_bins), got {weights.shape}")
    dd = weighted_pair_counts(weights, setup.cells, setup.rp_edges, setup.pi_max)
    return wp_from_counts(dd, weights.sum(axis=0), (weights**2).sum(axis=0), setup.rp_edges, setup.pi_max,
                          setup.lbox)
