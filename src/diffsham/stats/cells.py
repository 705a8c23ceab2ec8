"""Periodic grids that say which points can be closer than (rp_max, pi_max), built once in NumPy.

Positions never change during inference, so the pair enumerators bin them once: the JAX
counter into 3-d cells (``cell_grid``), the compiled loops (per-point sums and the
tabulation) into line-of-sight columns sorted by z (``sort_into_columns``).
"""
from typing import NamedTuple

import numpy as np

__all__ = ("cell_grid", "SortedColumns", "SlabColumns", "sort_into_columns", "sort_slab_into_columns",
           "columns_per_side", "column_index")


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


class SortedColumns(NamedTuple):
    """Points in columns along the line of sight, sorted by (column, z), for the compiled loops.

    Columns are cells of side >= rp_max / subdivide in x and y, spanning the box in z.
    Every pair with rp < rp_max lies in a column and one of its ``neighbours`` (the
    (2 subdivide + 1)^2 columns around it, with the periodic shift of each), and since a
    column is sorted by z, the points within pi_max of a given z are found by bisection:
    only the line-of-sight window is visited.

    Attributes
    ----------
    x, y, z : ndarray of shape (n_points, )
        Coordinates in sorted order.
    order : ndarray of shape (n_points, )
        Row of each sorted point in the original arrays.
    column : ndarray of shape (n_points, )
        Column of each sorted point.
    starts, counts : ndarray of shape (n_columns, )
        The sorted points of column c are ``starts[c] : starts[c] + counts[c]``.
    neighbours : ndarray of shape (n_columns, n_nbr)
    shifts : ndarray of shape (n_columns, n_nbr, 2)
        What to add to the x, y of a neighbour's points to get their image nearest the
        column (0 or +-lbox).
    lbox : float
    n_side : int
        Columns per side of the box; column c covers the square (c // n_side,
        c % n_side) of side lbox / n_side.
    subdivide : int
        The stencil's reach m in columns: neighbour q is offset by
        (q // (2 m + 1) - m, q % (2 m + 1) - m).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    order: np.ndarray
    column: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    neighbours: np.ndarray
    shifts: np.ndarray
    lbox: float
    n_side: int
    subdivide: int

    @property
    def stencil_is_distinct(self):
        """Whether the (2 m + 1)^2 neighbours are distinct columns (the stencil does not
        wrap onto itself), as visiting each pair once from the stencil's upper half needs."""
        return self.n_side >= 2 * self.subdivide + 1


def columns_per_side(lbox, rp_max, subdivide):
    """Columns per side of the box: as many as fit with a side of at least rp_max / subdivide."""
    return max(int(lbox // (rp_max / int(subdivide))), 1)


def column_index(coord, lbox, n_side):
    """The column index (0 .. n_side - 1) of coordinates in [0, lbox) along one axis."""
    return np.minimum((np.asarray(coord) / lbox * n_side).astype(np.int64), n_side - 1)


def sort_into_columns(pos, lbox, rp_max, subdivide=3):
    """Sort points into line-of-sight columns; see ``SortedColumns``.

    The stencil may reach the same column more than once in a small box, each time with a
    different periodic shift: every image is visited once, and with rp_max < lbox / 2 at
    most one image of a point lies within rp_max.
    """
    pos = np.asarray(pos, dtype=float)
    m = int(subdivide)
    n_side = columns_per_side(lbox, rp_max, m)
    ij = column_index(pos[:, :2], lbox, n_side)
    col = ij[:, 0] * n_side + ij[:, 1]
    order = np.lexsort((pos[:, 2], col))
    counts = np.bincount(col, minlength=n_side * n_side)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    grid = np.stack(np.unravel_index(np.arange(n_side * n_side), (n_side, n_side)), axis=1)
    r = np.arange(-m, m + 1)
    offsets = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    raw = grid[:, None, :] + offsets[None]
    neighbours = (raw[..., 0] % n_side) * n_side + raw[..., 1] % n_side
    shifts = np.floor_divide(raw, n_side).astype(float) * lbox
    x, y, z = (np.ascontiguousarray(pos[order, d]) for d in range(3))
    return SortedColumns(x, y, z, order, col[order], starts, counts, neighbours, shifts, float(lbox), n_side, m)


class SlabColumns(NamedTuple):
    """The columns of a slab's points and its ghosts, for pair sums over the slab's pairs.

    Attributes
    ----------
    columns : SortedColumns
    first_row, stop_row : int
        The slab's points are the sorted rows [first_row, stop_row): whole x-columns.
        The pairs visited from them through the stencil's upper half are the slab's,
        each once; over the slabs of a partition every pair is some slab's.
    """

    columns: SortedColumns
    first_row: int
    stop_row: int


def sort_slab_into_columns(pos, lbox, rp_max, subdivide, slab):
    """``SlabColumns`` of a slab: ``pos`` holds the points of the x-columns [first, stop)
    of the box's column grid (``columns_per_side``) and every point within
    ``subdivide`` columns above them (the ghosts; periodic).

    Raises
    ------
    ValueError
        A box too small for the stencil to have distinct columns.
    """
    cells = sort_into_columns(pos, lbox, rp_max, subdivide)
    if not cells.stencil_is_distinct:
        raise ValueError(f"a box of {cells.n_side} columns per side is too small to split into slabs "
                         f"(at least {2 * cells.subdivide + 1} needed)")
    first, stop = (int(c) * cells.n_side for c in slab)
    n = cells.order.size
    bounds = np.append(cells.starts, n)
    return SlabColumns(cells, int(bounds[first]), int(bounds[stop]))
