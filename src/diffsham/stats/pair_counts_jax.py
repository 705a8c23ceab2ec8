"""Weighted pair counts in pure JAX (the backend for GPUs), with a gradient at the cost of one pass.

For weights w of shape (n_points, n_w) (one column per stellar-mass bin) this computes

    DD[k, b] = sum over unordered pairs i != j with rp_ij in bin k and |pi_ij| < pi_max of w_ib w_jb

with the line of sight along z. Points are binned once into a grid of cells of side
(rp_max, rp_max, pi_max) / subdivide, padded to the largest occupancy (``CellLists``,
built in NumPy: positions never change during inference). Each cell is paired with all
its neighbour cells in one dense block, and the pair binning is done with cumulative
masks M_e = [rp^2 < e_e^2, |pi| < pi_max] contracted with the weights by products that
run at BLAS speed on a CPU and unchanged on a GPU.

Derivatives have a custom rule, linear in the weight tangents: the tangent of DD is
sum_i wdot_ib G_i[k, b] with G_i[k, b] = sum_j w_jb [k(i, j) = k], computed in the same
pass as the value. JAX transposes it for reverse mode: the cotangent of w_ib is
sum_k g[k, b] G_i[k, b], a contraction with the per-cell G kept from that pass, whatever
the number of model parameters. The same rule gives forward mode (a Jacobian in a few
parameters in one batched pass). The kept G cost n_cells x cap x n_edges x n_w floats.
"""
from functools import partial
from typing import NamedTuple

import numpy as np
from jax import custom_jvp, jit, lax
from jax import numpy as jnp

from .cells import cell_grid

__all__ = ("CellLists", "build_cell_lists", "weighted_pair_counts_jax", "weights_to_cells")


class CellLists(NamedTuple):
    """Points grouped by cell, padded to a common capacity.

    Attributes
    ----------
    pos : ndarray of shape (n_cells + 1, cap, 3)
        Positions; padding slots hold copies of a real point but get zero weight. The
        last cell is empty (padding for the neighbour groups).
    index : ndarray of shape (n_cells + 1, cap)
        Row of each slot in the original arrays; -1 for padding.
    neighbours : ndarray of shape (n_cells, n_groups, group)
        The distinct cells within ``subdivide`` cells in each direction (periodic),
        itself included, in groups; the empty cell pads the last group.
    lbox : float
    """

    pos: np.ndarray
    index: np.ndarray
    neighbours: np.ndarray
    lbox: float


def build_cell_lists(pos, lbox, rp_max, pi_max, subdivide=2, n_edges=16, block_bytes=2**26):
    """Group points into padded cells for the JAX pair counter (see ``cell_grid``).

    Parameters
    ----------
    pos : ndarray of shape (n_points, 3), in [0, lbox)
    lbox, rp_max, pi_max : float
    subdivide : int, optional
        Cells per search length. Smaller cells waste fewer distance evaluations.
    n_edges, block_bytes : int, optional
        Neighbour cells are processed in groups so that one block of masks
        (n_edges x cap x group cap, float64) stays below ``block_bytes``.

    Returns
    -------
    cells : CellLists
    """
    pos = np.asarray(pos, dtype=float)
    cid, n_cells, neighbours = cell_grid(pos, lbox, rp_max, pi_max, subdivide)
    order = np.argsort(cid, kind="stable")
    counts = np.bincount(cid, minlength=n_cells)
    cap = max(int(counts.max()), 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(pos.shape[0]) - start[cid[order]]
    index = np.full((n_cells, cap), -1, dtype=np.int64)
    index[cid[order], slot] = order
    # one extra, empty cell pads the neighbour groups
    index = np.concatenate([index, np.full((1, cap), -1, dtype=np.int64)])
    cell_pos = np.broadcast_to(pos[:1] if pos.shape[0] else np.zeros((1, 3)), (n_cells + 1, cap, 3)).copy()
    cell_pos[cid[order], slot] = pos[order]
    # neighbour cells go through a block in groups small enough for block_bytes
    group = int(np.clip(block_bytes // (8 * n_edges * cap * cap), 1, neighbours.shape[1]))
    n_groups = -(-neighbours.shape[1] // group)
    padded = np.full((n_cells, n_groups * group), n_cells, dtype=np.int64)
    padded[:, :neighbours.shape[1]] = neighbours
    return CellLists(cell_pos, index, padded.reshape(n_cells, n_groups, group), float(lbox))


def weights_to_cells(weights, index):
    """Scatter per-point weights (n_points, n_w) into the cell layout (n_cells, cap, n_w), 0 in padding."""
    w = jnp.take(weights, jnp.maximum(index, 0), axis=0)
    return jnp.where((index >= 0)[..., None], w, 0.0)


def _cumulative_masks(xi, xj, idx_i, idx_j, edges2, pi_max, lbox):
    """(n_edges, ci, cj) masks [rp^2 < e^2 and |pi| < pi_max and i != j], as floats."""
    d = xj[None, :, :] - xi[:, None, :]
    d = d - lbox * jnp.round(d / lbox)
    rp2 = d[..., 0] ** 2 + d[..., 1] ** 2
    ok = (jnp.abs(d[..., 2]) < pi_max) & (idx_i[:, None] != idx_j[None, :])
    return ((rp2[None] < edges2[:, None, None]) & ok[None]).astype(xi.dtype)


def _cell_products(c, pos, index, neighbours, w_cells, edges2, pi_max, lbox):
    """G[e, i, b] = sum_j M_e[i, j] w_jb for the points i of cell c and all j in its neighbours."""
    def body(acc, nbr):
        masks = _cumulative_masks(pos[c], pos[nbr].reshape(-1, 3), index[c], index[nbr].reshape(-1), edges2,
                                  pi_max, lbox)
        return acc + jnp.einsum("eij,jb->eib", masks, w_cells[nbr].reshape(-1, w_cells.shape[-1])), None

    init = jnp.zeros((edges2.shape[0], pos.shape[1], w_cells.shape[-1]), w_cells.dtype)
    g, _ = lax.scan(body, init, neighbours[c])
    return g


def _forward(w_cells, pos, index, neighbours, edges2, pi_max, lbox):
    def body(acc, c):
        g = _cell_products(c, pos, index, neighbours, w_cells, edges2, pi_max, lbox)
        return acc + jnp.einsum("ib,eib->eb", w_cells[c], g), None

    init = jnp.zeros((edges2.shape[0], w_cells.shape[-1]), dtype=w_cells.dtype)
    cum, _ = lax.scan(body, init, jnp.arange(neighbours.shape[0]))
    # cumulative ordered-pair sums -> per-bin unordered sums
    return 0.5 * (cum[1:] - cum[:-1])


def _forward_and_tangent(w_cells, w_dot, pos, index, neighbours, edges2, pi_max, lbox):
    # d/dw of 1/2 sum_{i != j} w_i w_j M_ij is sum_j w_j M_ij = G_i: the tangent is sum_i w_dot_i G_i.
    # One pass gives both; under reverse mode JAX keeps the per-cell G as scan residuals, so the
    # transpose is a contraction, not a second pass over the pairs.
    def body(acc, c):
        g = _cell_products(c, pos, index, neighbours, w_cells, edges2, pi_max, lbox)
        return (acc[0] + jnp.einsum("ib,eib->eb", w_cells[c], g), acc[1] + jnp.einsum("ib,eib->eb", w_dot[c], g)), None

    zeros = jnp.zeros((edges2.shape[0], w_cells.shape[-1]), dtype=w_cells.dtype)
    (cum, cum_dot), _ = lax.scan(body, (zeros, zeros), jnp.arange(neighbours.shape[0]))
    return 0.5 * (cum[1:] - cum[:-1]), cum_dot[1:] - cum_dot[:-1]


@partial(custom_jvp, nondiff_argnums=(4, 5))
def _pair_counts(w_cells, pos, index, neighbours, pi_max, lbox, edges2):
    return _forward(w_cells, pos, index, neighbours, edges2, pi_max, lbox)


@_pair_counts.defjvp
def _pair_counts_jvp(pi_max, lbox, primals, tangents):
    w_cells, pos, index, neighbours, edges2 = primals
    return _forward_and_tangent(w_cells, tangents[0], pos, index, neighbours, edges2, pi_max, lbox)


@partial(jit, static_argnums=(3, 4))
def _weighted_pair_counts(weights, cells_pos, cells_index, pi_max, lbox, neighbours, edges2):
    w_cells = weights_to_cells(weights, cells_index)
    return _pair_counts(w_cells, cells_pos, cells_index, neighbours, pi_max, lbox, edges2)


def weighted_pair_counts_jax(weights, cells, rp_edges, pi_max):
    """DD[k, b]: weighted counts of unordered pairs in rp bins with |pi| < pi_max.

    Parameters
    ----------
    weights : ndarray of shape (n_points, n_w)
        One column per weighting (for example per stellar-mass bin); differentiable.
    cells : CellLists
        From ``build_cell_lists`` with rp_max >= rp_edges[-1] and the same pi_max.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]

    Returns
    -------
    dd : ndarray of shape (n_rp, n_w)
    """
    return _weighted_pair_counts(weights, jnp.asarray(cells.pos), jnp.asarray(cells.index), float(pi_max),
                                 float(cells.lbox), jnp.asarray(cells.neighbours),
                                 jnp.asarray(np.asarray(rp_edges, dtype=float) ** 2))
