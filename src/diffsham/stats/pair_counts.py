"""Weighted pair counts in (rp, |pi| < pi_max) for a periodic box, differentiable in the weights.

For weights w of shape (n_points, n_w) (one column per stellar-mass bin) this computes

    DD[k, b] = 1/2 sum over i != j with rp_ij in bin k and |pi_ij| < pi_max of w_ib w_jb

(unordered pairs, line of sight z) from the per-point neighbour sums

    S_i[k, b] = sum over j != i with rp_ij in bin k and |pi_ij| < pi_max of w_jb,

as DD = 1/2 sum_i w_i S_i. Because DD is quadratic and symmetric, dDD/dw_ib = S_i[k, b]:
the pass that gives the value gives every derivative too. The custom JVP rule is
linear in the weight tangents, JAX transposes it for reverse mode (cotangent of w_ib =
sum_k g[k, b] S_i[k, b]), and a gradient costs no second pass over the pairs whatever
the number of model parameters.

Two backends count the same pairs:

- ``"numba"``: a compiled loop over line-of-sight columns (``SortedColumns``,
  ``pair_kernels``) that visits each pair once, called from JAX through
  ``jax.pure_callback``. The fast choice on a CPU.
- ``"jax"``: dense blocks of cells in pure JAX (``pair_counts_jax``), which runs
  unchanged on a GPU.

``"auto"`` picks numba when JAX's default backend is the CPU. The neighbour sums are also
the unit of work to split across processes: ``neighbour_sums(..., rows=...)`` for the
rows a process owns gives its share of DD (1/2 sum over its rows of w_i S_i) and the
exact derivative of the total DD with respect to its own weights (S_i).
"""
from functools import partial

import jax
import numpy as np
from jax import numpy as jnp

from ..checks import check_positions, check_radial_edges
from .cells import SlabColumns, SortedColumns, sort_into_columns
from .pair_counts_jax import CellLists, build_cell_lists, weighted_pair_counts_jax
from .pair_kernels import half_neighbour_sums_kernel, neighbour_sums_kernel, rp_slot_table

__all__ = ("BACKENDS", "check_pair_count_args", "check_pair_binning", "resolve_backend", "pair_cells", "neighbour_sums",
           "weighted_pair_counts")

BACKENDS = ("auto", "numba", "jax")


def check_pair_binning(lbox, rp_edges, pi_max):
    """Validate the rp bins and pi_max for a box; return the edges as an array."""
    edges = check_radial_edges(rp_edges, lbox)
    if not (np.isfinite(pi_max) and 0 < pi_max < lbox / 2):
        raise ValueError(f"pi_max must lie in (0, lbox/2 = {lbox / 2:g}), got {pi_max!r}")
    return edges


def check_pair_count_args(pos, lbox, rp_edges, pi_max, weights=None):
    """Validate positions, box, bins and weights; raise ValueError naming the problem."""
    pos = check_positions(pos, lbox)
    edges = check_pair_binning(lbox, rp_edges, pi_max)
    if weights is not None:
        w = np.asarray(weights)
        if w.ndim not in (1, 2) or w.shape[0] != pos.shape[0]:
            raise ValueError(f"weights must have shape (n_points={pos.shape[0]}, ...) , got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights have {int(np.sum(~np.isfinite(w)))} NaN or infinite values")
    return pos, edges


def resolve_backend(backend):
    """``"numba"`` or ``"jax"``; ``"auto"`` is numba on a CPU and JAX elsewhere."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown pair-count backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        return "numba" if jax.default_backend() == "cpu" else "jax"
    return backend


def pair_cells(pos, lbox, rp_edges, pi_max, backend="auto", subdivide=None):
    """Check the inputs and bin the points once for ``weighted_pair_counts``.

    Parameters
    ----------
    pos : ndarray of shape (n_points, 3), in [0, lbox) [Mpc/h]
    lbox : float [Mpc/h]
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]
    backend : {"auto", "numba", "jax"}
    subdivide : int, optional
        Cells per search length (default 2 for both: for numba, finer columns cost more
        window searches than the pairs they save; for JAX, more padding).

    Returns
    -------
    cells : SortedColumns (numba) or CellLists (jax)
    """
    pos, edges = check_pair_count_args(pos, lbox, rp_edges, pi_max)
    if resolve_backend(backend) == "numba":
        return sort_into_columns(pos, lbox, edges[-1], subdivide or 2)
    return build_cell_lists(pos, lbox, edges[-1], pi_max, subdivide or 2, n_edges=edges.size)


def neighbour_sums(weights, cells, rp_edges, pi_max, rows=None):
    """S_i[k, b] for the points ``rows`` (all by default), in NumPy (numba backend).

    Parameters
    ----------
    weights : ndarray of shape (n_points, n_w)
    cells : SortedColumns
        From ``pair_cells(..., backend="numba")`` with the same rp_edges and pi_max.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]
    rows : ndarray of int, optional
        Rows (in the original order) whose sums are wanted, for example the halos one
        process owns. Every point stays a neighbour.

    Returns
    -------
    sums : ndarray of shape (n_rows, n_rp, n_w)
    """
    if not isinstance(cells, SortedColumns):
        raise TypeError("neighbour_sums needs the numba cells: pair_cells(..., backend='numba')")
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != cells.order.size:
        raise ValueError(f"weights must have shape (n_points={cells.order.size}, n_w), got {w.shape}")
    rank = np.empty_like(cells.order)
    rank[cells.order] = np.arange(cells.order.size)
    if rows is None:
        return _sorted_neighbour_sums(w[cells.order], cells, rp_edges, pi_max)[rank]
    rows = np.asarray(rows)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= cells.order.size)):
        raise ValueError(f"rows must be a 1-d array of indices in [0, {cells.order.size})")
    return _sorted_neighbour_sums(w[cells.order], cells, rp_edges, pi_max, rank[rows])


def _sorted_neighbour_sums(w_sorted, cells, rp_edges, pi_max, sorted_rows=None):
    """S in the sorted order of ``cells`` for sorted weights (for ``sorted_rows`` if
    given); for ``SlabColumns``, every point's sum over the slab's pairs."""
    edges2 = np.asarray(rp_edges, dtype=float) ** 2
    if isinstance(cells, SlabColumns):
        slab, cells = cells, cells.columns
        return half_neighbour_sums_kernel(cells.x, cells.y, cells.z, np.ascontiguousarray(w_sorted, dtype=float),
                                          cells.column, cells.starts, cells.counts, cells.neighbours, cells.shifts,
                                          cells.n_side, cells.subdivide, edges2, *rp_slot_table(edges2),
                                          float(pi_max), cells.lbox, slab.first_row, slab.stop_row)
    geometry = (cells.x, cells.y, cells.z, np.ascontiguousarray(w_sorted, dtype=float))
    columns = (cells.column, cells.starts, cells.counts, cells.neighbours, cells.shifts, cells.n_side,
               cells.subdivide, edges2, *rp_slot_table(edges2), float(pi_max), cells.lbox)
    if sorted_rows is not None:
        return neighbour_sums_kernel(*geometry, sorted_rows, *columns)
    if cells.stencil_is_distinct:
        return half_neighbour_sums_kernel(*geometry, *columns, 0, cells.order.size)
    # a box so small that the stencil wraps onto itself: a pair may be reached twice
    return neighbour_sums_kernel(*geometry, np.arange(cells.order.size), *columns)


class _NumbaPairs:
    """The static inputs of the numba callback; hashed by identity for ``custom_jvp``.

    Everything passed to and from the callback is in the sorted order of the columns:
    JAX permutes the weights (n_points x n_w) rather than the sums (n_rp times larger).
    """

    def __init__(self, cells, rp_edges, pi_max):
        self.cells, self.rp_edges, self.pi_max = cells, np.asarray(rp_edges, dtype=float), float(pi_max)
        # NumPy, not a JAX array: made into a constant of whichever trace indexes with it
        self.order = cells.columns.order if isinstance(cells, SlabColumns) else cells.order

    def sorted_sums(self, w_sorted):
        shape = jax.ShapeDtypeStruct((w_sorted.shape[0], self.rp_edges.size - 1, w_sorted.shape[1]), w_sorted.dtype)

        def host(w_np):
            sums = _sorted_neighbour_sums(w_np, self.cells, self.rp_edges, self.pi_max)
            return np.asarray(sums, dtype=w_np.dtype)

        return jax.pure_callback(host, shape, w_sorted, vmap_method="sequential")


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _counts_numba(weights, pairs):
    w = weights[pairs.order]
    return 0.5 * jnp.einsum("ib,ikb->kb", w, pairs.sorted_sums(w))


@_counts_numba.defjvp
def _counts_numba_jvp(pairs, primals, tangents):
    (w,), (w_dot,) = primals, tangents
    w, w_dot = w[pairs.order], w_dot[pairs.order]
    s = pairs.sorted_sums(w)
    return 0.5 * jnp.einsum("ib,ikb->kb", w, s), jnp.einsum("ib,ikb->kb", w_dot, s)


def weighted_pair_counts(weights, cells, rp_edges, pi_max):
    """DD[k, b]: weighted counts of unordered pairs in rp bins with |pi| < pi_max.

    Parameters
    ----------
    weights : ndarray of shape (n_points, n_w)
        One column per weighting (for example per stellar-mass bin); differentiable.
    cells : SortedColumns, SlabColumns or CellLists
        From ``pair_cells`` with the same rp_edges and pi_max; the type picks the backend.
        ``SlabColumns`` (``sort_slab_into_columns``): the pairs of a slab only, with
        their derivative with respect to every point it holds, ghosts included; summed
        over the slabs of a partition, the whole box's counts.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]

    Returns
    -------
    dd : ndarray of shape (n_rp, n_w)
    """
    if isinstance(cells, CellLists):
        return weighted_pair_counts_jax(weights, cells, rp_edges, pi_max)
    if not isinstance(cells, (SortedColumns, SlabColumns)):
        raise TypeError(f"cells must come from pair_cells, got {type(cells).__name__}")
    return _counts_numba(jnp.asarray(weights), _NumbaPairs(cells, rp_edges, pi_max))
