"""Compiled (numba) pair loops over ``SortedColumns``: per-point neighbour sums and the fast-path tables.

Each loop takes the rows (sorted points) in turn. For a row it visits the neighbouring
columns, skipping those wholly beyond rp_max of the point, and in each only the window
of points with |pi| < pi_max (found by bisection in z, with the periodic images that can
reach). Squared separations of a window are computed in a loop that vectorises; each is
binned by a table lookup on its float64 bits (``rp_slot_table``), not by a search.

Two ways to cover the pairs:

- from both ends (``neighbour_sums_kernel``, and the tables for a shard): every row
  independent, so any subset of rows (a process's share) and parallel without locks;
- once (``half_neighbour_sums_kernel``, and the tables for the whole catalog): the upper
  half of the stencil, each pair adding to both of its points; half the work. Threads
  take strips of the box that cannot reach each other's points (see the kernel).
"""
import numba
import numpy as np

__all__ = ("rp_slot_table", "neighbour_sums_kernel", "half_neighbour_sums_kernel", "pair_tables_kernel")


@numba.njit(inline="always")
def _first_above(a, lo, hi, v):
    """First index in [lo, hi) with a[index] > v (a sorted), or hi."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(inline="always")
def _first_at_or_above(a, lo, hi, v):
    """First index in [lo, hi) with a[index] >= v (a sorted), or hi."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(inline="always")
def _window(z, starts, counts, neighbours, shifts, c, q, image, xi, yi, zi, pi_max, lbox):
    """The points of neighbour q of column c whose image (shifted by (image - 1) lbox in z)
    lies strictly within pi_max of zi: indices [a, b), and the offsets sx, sy that turn
    their x, y into separations from (xi, yi)."""
    nb = neighbours[c, q]
    shift = (image - 1) * lbox
    a = _first_above(z, starts[nb], starts[nb] + counts[nb], zi - pi_max - shift)
    b = _first_at_or_above(z, a, starts[nb] + counts[nb], zi + pi_max - shift)
    return a, b, shifts[c, q, 0] - xi, shifts[c, q, 1] - yi


def rp_slot_table(edges2):
    """A lookup table for the rp slot of a squared separation (see ``_slot``).

    The slot of r^2 is the number of edges at or below it (0: below the first edge,
    n_edges: beyond the last). The table is indexed by the top bits of r^2 as a float64
    (exponent and 8 mantissa bits: 256 cells per factor of 2), and holds the slot of each
    cell's lower end; a cell that contains an edge is finished by one comparison.

    Parameters
    ----------
    edges2 : ndarray of shape (n_edges, ), increasing, >= 0

    Returns
    -------
    table : ndarray of int64
    start : int
        Top bits of the table's first cell.
    below : int
        The slot of any r^2 below the table (1 when the first edge is 0, else 0).
    """
    edges2 = np.asarray(edges2, dtype=np.float64)
    positive = edges2[edges2 > 0]
    lowest = positive[0] if edges2[0] > 0 else positive[0] / 16.0
    start = int(np.float64(lowest).view(np.int64) >> _SLOT_SHIFT)
    stop = int(edges2[-1].view(np.int64) >> _SLOT_SHIFT) + 1
    cell_lo = (np.arange(start, stop, dtype=np.int64) << _SLOT_SHIFT).view(np.float64)
    table = np.searchsorted(edges2, cell_lo, side="right").astype(np.int64)
    return table, start, int(edges2[0] <= 0)


_SLOT_SHIFT = 44


@numba.njit(inline="always")
def _slot(r2, bits, table, start, below, edges2):
    """Number of edges at or below r2 (``bits``: r2 as int64), by ``rp_slot_table``."""
    u = (bits >> _SLOT_SHIFT) - start
    if u < 0:
        return below
    if u >= table.shape[0]:
        return edges2.shape[0]
    s = table[u]
    while s < edges2.shape[0] and r2 >= edges2[s]:
        s += 1
    return s


@numba.njit(inline="always")
def _beyond_rp_max(xi, yi, c, q, n_side, m, cell, rp_max2):
    """True when neighbour q of column c lies wholly beyond rp_max of (xi, yi) in x, y.

    The neighbour's image next to column c is the square of side ``cell`` at grid
    position (gx + ox, gy + oy); it is widened by 1e-9 cell against rounding in the
    column assignment."""
    side = 2 * m + 1
    gx = c // n_side
    xlo = (gx + q // side - m) * cell
    ylo = (c - gx * n_side + q % side - m) * cell
    eps = 1e-9 * cell
    dx = max(0.0, xlo - eps - xi, xi - xlo - cell - eps)
    dy = max(0.0, ylo - eps - yi, yi - ylo - cell - eps)
    return dx * dx + dy * dy >= rp_max2


@numba.njit(inline="always")
def _image_reaches(image, zi, pi_max, lbox):
    """Whether the periodic image (shift (image - 1) lbox in z) can lie within pi_max of zi."""
    if image == 0:
        return zi < pi_max
    if image == 2:
        return zi > lbox - pi_max
    return True


@numba.njit(inline="always")
def _visit(half, i, q, image, x, y, z, column, starts, counts, neighbours, shifts, pi_max, lbox, n_side, m, rp_max2,
           r2):
    """The points of neighbour column q (periodic image ``image``) that sorted point i
    pairs with: (a, n) for the points a .. a + n - 1, their squared rp in r2[:n].

    n = 0 when the column lies beyond rp_max or the image beyond pi_max. With ``half``
    (each unordered pair from one end only) the stencil's lower half is skipped by the
    caller, and in i's own column only the later points and the image above are paired.
    """
    centre = (neighbours.shape[1] - 1) // 2
    c = column[i]
    xi, yi, zi = x[i], y[i], z[i]
    if q != centre and _beyond_rp_max(xi, yi, c, q, n_side, m, lbox / n_side, rp_max2):
        return 0, 0
    if not _image_reaches(image, zi, pi_max, lbox) or (half and q == centre and image == 0):
        return 0, 0
    a, b, sx, sy = _window(z, starts, counts, neighbours, shifts, c, q, image, xi, yi, zi, pi_max, lbox)
    if half and q == centre and image == 1:
        a = max(a, i + 1)
    n = max(b - a, 0)
    for t in range(n):
        dx = x[a + t] + sx
        dy = y[a + t] + sy
        r2[t] = dx * dx + dy * dy
    return a, n


def _make_row_sums(half):
    @numba.njit
    def row_sums(r, i, x, y, z, w, column, starts, counts, neighbours, shifts, pi_max, lbox, n_side, m, edges2, table,
                 start, below, acc, r2, sums):
        """Add the weights of the neighbours of sorted point i, by rp bin, to sums[r]; acc
        is a zeroed scratch array of shape (n_edges + 1, n_w).

        With ``half`` (a constant of the compiled function, so the loops carry no test),
        each unordered pair is visited from one end only (see ``_visit``); the other
        end's share, w_i, goes straight into ``sums[j, slot - 1]``."""
        n_w = w.shape[1]
        n_edges = edges2.shape[0]
        centre = (neighbours.shape[1] - 1) // 2
        for q in range(centre if half else 0, neighbours.shape[1]):
            for image in range(3):
                a, n = _visit(half, i, q, image, x, y, z, column, starts, counts, neighbours, shifts, pi_max, lbox,
                              n_side, m, edges2[n_edges - 1], r2)
                bits = r2[:n].view(np.int64)
                for t in range(n):
                    s = _slot(r2[t], bits[t], table, start, below, edges2)
                    # the branch beats a branch-free add into a spare slot: stores to the
                    # same bin in a row would wait on each other
                    if s == 0 or s == n_edges:
                        continue
                    j = a + t
                    for bb in range(n_w):
                        acc[s, bb] += w[j, bb]
                    if half:
                        for bb in range(n_w):
                            sums[j, s - 1, bb] += w[i, bb]
        for k in range(n_edges - 1):
            for bb in range(n_w):
                sums[r, k, bb] += acc[k + 1, bb]

    return row_sums


_row_sums_full = _make_row_sums(False)
_row_sums_half = _make_row_sums(True)


@numba.njit(parallel=True, fastmath=True, cache=True)
def neighbour_sums_kernel(x, y, z, w, rows, column, starts, counts, neighbours, shifts, n_side, m, edges2, table,
                          start, below, pi_max, lbox):
    """S[r, k, b] = sum over j != rows[r] in rp bin k with |pi| < pi_max of w[j, b].

    Coordinates, ``w`` and ``rows`` are in sorted order; returns shape (n_rows, n_rp, n_w).
    Every pair is visited from both ends, so ``rows`` may be any subset (a process's
    share); ``half_neighbour_sums_kernel`` visits each pair once. ``n_side`` and ``m``
    describe the columns (``SortedColumns``); ``table``, ``start``, ``below`` come from
    ``rp_slot_table(edges2)``.
    """
    n_edges = edges2.shape[0]
    cap = max(counts.max(), 1)
    out = np.zeros((rows.shape[0], n_edges - 1, w.shape[1]))
    for r in numba.prange(rows.shape[0]):
        # scratch allocated here, per row: the compiler then knows it aliases nothing
        acc = np.zeros((n_edges + 1, w.shape[1]))
        r2 = np.empty(cap)
        i = rows[r]
        _row_sums_full(r, i, x, y, z, w, column, starts, counts, neighbours, shifts, pi_max, lbox, n_side, m, edges2,
                       table, start, below, acc, r2, out)
        # with a first edge of 0 the point itself (r = 0) fell in bin 0
        if below == 1:
            for bb in range(w.shape[1]):
                out[r, 0, bb] -= w[i, bb]
    return out


@numba.njit(parallel=True, fastmath=True, cache=True)
def half_neighbour_sums_kernel(x, y, z, w, column, starts, counts, neighbours, shifts, n_side, m, edges2, table,
                               start, below, pi_max, lbox, row_lo, row_hi):
    """Each pair visited once (half the work) from the sorted rows [row_lo, row_hi):
    S[i, k, b] for every sorted point, over the pairs so visited.

    With every row, S is the full neighbour sum. With the rows of a block of whole
    x-columns (a slab: ``diffsham.distributed``), only the pairs whose first member in
    the stencil's order is in the slab count, each once, and every point (a ghost too)
    gets its share of them: over the slabs of a partition every pair counts once.

    Needs a stencil that does not wrap onto itself (n_side >= 2 m + 1). The box is cut
    into an even number of strips in x at least m columns wide; a strip's pairs reach
    only into the next strip, so the even strips run in parallel, then the odd ones,
    without two threads ever adding to the same point.
    """
    n = x.shape[0]
    n_edges = edges2.shape[0]
    cap = max(counts.max(), 1)
    out = np.zeros((n, n_edges - 1, w.shape[1]))
    n_strips = 2 * (n_side // (2 * m))
    width = n_side // n_strips
    bounds = np.empty(n_strips + 1, np.int64)
    for s in range(n_strips):
        bounds[s] = starts[s * width * n_side]
    bounds[n_strips] = n
    for phase in range(2):
        for t in numba.prange(n_strips // 2):
            s = 2 * t + phase
            r2 = np.empty(cap)
            for i in range(max(bounds[s], row_lo), min(bounds[s + 1], row_hi)):
                acc = np.zeros((n_edges + 1, w.shape[1]))
                _row_sums_half(i, i, x, y, z, w, column, starts, counts, neighbours, shifts, pi_max, lbox, n_side, m,
                               edges2, table, start, below, acc, r2, out)
    return out


def _make_table_rows(half):
    @numba.njit
    def table_rows(i, x, y, z, mbin, dm, column, starts, counts, neighbours, shifts, pi_max, lbox, n_side, m, edges2,
                   table, start, below, r2, out):
        """Add the pairs of sorted point i to the tables out[3, n_rp, n_m, n_m]; with
        ``half``, each unordered pair once, adding both orders."""
        n_edges = edges2.shape[0]
        centre = (neighbours.shape[1] - 1) // 2
        a_i, d_i = mbin[i], dm[i]
        for q in range(centre if half else 0, neighbours.shape[1]):
            for image in range(3):
                a, n = _visit(half, i, q, image, x, y, z, column, starts, counts, neighbours, shifts, pi_max, lbox,
                              n_side, m, edges2[n_edges - 1], r2)
                bits = r2[:n].view(np.int64)
                for t in range(n):
                    k = _slot(r2[t], bits[t], table, start, below, edges2) - 1
                    j = a + t
                    if k < 0 or k == n_edges - 1 or j == i:
                        continue
                    a_j, d_j = mbin[j], dm[j]
                    out[0, k, a_i, a_j] += 1.0
                    out[1, k, a_i, a_j] += d_i
                    out[2, k, a_i, a_j] += d_i * d_j
                    if half:
                        out[0, k, a_j, a_i] += 1.0
                        out[1, k, a_j, a_i] += d_j
                        out[2, k, a_j, a_i] += d_i * d_j

    return table_rows


_table_rows_full = _make_table_rows(False)
_table_rows_half = _make_table_rows(True)


@numba.njit(parallel=True, cache=True)
def pair_tables_kernel(x, y, z, mbin, dm, rows, column, starts, counts, neighbours, shifts, n_side, m, edges2, table,
                       start, below, pi_max, lbox, n_m, n_chunks, half):
    """P0, P1, P11 [3, n_rp, n_m, n_m] over ordered pairs whose first member is in ``rows``
    (see ``diffsham.stats.tabulate``); everything in sorted order, the column and slot
    arguments as for ``neighbour_sums_kernel``. With ``half`` (only for all rows, and a
    stencil that does not wrap onto itself) each pair is visited once. Each chunk of
    rows adds to its own copy of the (small) tables, summed at the end."""
    out = np.zeros((n_chunks, 3, edges2.shape[0] - 1, n_m, n_m))
    size = -(-rows.shape[0] // n_chunks)
    cap = max(counts.max(), 1)
    for t in numba.prange(n_chunks):
        r2 = np.empty(cap)
        for r in range(t * size, min((t + 1) * size, rows.shape[0])):
            if half:
                _table_rows_half(rows[r], x, y, z, mbin, dm, column, starts, counts, neighbours, shifts, pi_max, lbox,
                                 n_side, m, edges2, table, start, below, r2, out[t])
            else:
                _table_rows_full(rows[r], x, y, z, mbin, dm, column, starts, counts, neighbours, shifts, pi_max, lbox,
                                 n_side, m, edges2, table, start, below, r2, out[t])
    return out.sum(axis=0)
