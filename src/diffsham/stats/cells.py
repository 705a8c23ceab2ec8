"""Periodic cell grids: which points can be closer than (rp_max, pi_max), found once in NumPy.

Positions never change during inference, so every pair enumerator here (the JAX counter,
the compiled per-point counter and the tabulation) starts from the same grid: cells of
side >= (rp_max, rp_max, pi_max) / subdivide, and for each cell the distinct cells
within ``subdivide`` cells of it in each direction.
"""
from typing import NamedTuple

import numpy as np

__all__ = ("cell_grid", "SortedCells", "sort_into_cells")


def cell_grid(pos, lbox, rp_max, pi_max, subdivide=2):
    """Assign points to cells of side >= (rp_max, rp_max, pi_max) / subdivide.

    Returns
    -------
    cell_id : ndarray of shape (n_points, )
    n_cells : int
    neighbours : ndarray of shape (n_cells, n_nbr)
        The distinct cells within ``subdivide`` cells in each direction (periodic),
        itself included: every pair closer than (rp_max, pi_max) lies in a cell and one
        of its neighbours.
    """
    m = int(subdivide)
    shape = np.array([max(int(lbox // (rp_max / m)), 1), max(int(lbox // (rp_max / m)), 1),
                      max(int(lbox // (pi_max / m)), 1)])
    ijk = np.minimum((np.asarray(pos) / lbox * shape).astype(np.int64), shape - 1)
    cell_id = np.ravel_multi_index(ijk.T, shape)
    n_cells = int(np.prod(shape))
    grid = np.stack(np.unravel_index(np.arange(n_cells), shape), axis=1)
    r = np.arange(-m, m + 1)
    offsets = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    nbr = np.ravel_multi_index(((grid[:, None, :] + offsets[None]) % shape).transpose(2, 0, 1), shape)
    # with few cells along an axis the stencil wraps onto itself: keep each cell once
    nbr = np.sort(nbr, axis=1)
    dup = np.concatenate([np.zeros((n_cells, 1), bool), nbr[:, 1:] == nbr[:, :-1]], axis=1)
    n_nbr = int((~dup).sum(axis=1).max())
    neighbours = np.stack([row[~d][:n_nbr] for row, d in zip(nbr, dup)])
    return cell_id, n_cells, neighbours


class SortedCells(NamedTuple):
    """Points sorted by cell, for the compiled (numba) pair loops.

    Attributes
    ----------
    pos : ndarray of shape (n_points, 3)
        Positions in cell order.
    order : ndarray of shape (n_points, )
        Row of each sorted point in the original arrays (``pos = original[order]``).
    cell : ndarray of shape (n_points, )
        Cell of each sorted point.
    starts, counts : ndarray of shape (n_cells, )
        The sorted points of cell c are ``starts[c] : starts[c] + counts[c]``.
    neighbours : ndarray of shape (n_cells, n_nbr)
    lbox : float
    """

    pos: np.ndarray
    order: np.ndarray
    cell: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    neighbours: np.ndarray
    lbox: float


def sort_into_cells(pos, lbox, rp_max, pi_max, subdivide=2):
    """Sort points into the cells of ``cell_grid``; see ``SortedCells``."""
    pos = np.asarray(pos, dtype=float)
    cid, n_cells, neighbours = cell_grid(pos, lbox, rp_max, pi_max, subdivide)
    order = np.argsort(cid, kind="stable")
    counts = np.bincount(cid, minlength=n_cells)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return SortedCells(np.ascontiguousarray(pos[order]), order, cid[order], starts, counts, neighbours,
                       float(lbox))
