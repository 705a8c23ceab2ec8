"""Compiled (numba) pair loops over ``SortedColumns``: per-point neighbour sums and the fast-path tables.

Both loop over a list of rows (sorted positions; a subset when the halos are split
across processes). For each row they visit the neighbouring columns and, in each, only
the window of points with |pi| < pi_max (found by bisection in z, with its periodic
images), and accumulate the pairs with rp in [edge_0, edge_n). Rows are independent, so
the loops run in parallel without locks.
"""
import numba
import numpy as np

__all__ = ("neighbour_sums_kernel", "pair_tables_kernel")


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


@numba.njit(parallel=True, fastmath=True, cache=True)
def neighbour_sums_kernel(x, y, z, w, rows, column, starts, counts, neighbours, shifts, edges2, pi_max, lbox):
    """S[r, k, b] = sum over j != rows[r] in rp bin k with |pi| < pi_max of w[j, b].

    Coordinates, ``w`` and ``rows`` are in sorted order; returns shape (n_rows, n_rp, n_w).
    The inner loops are written to vectorise: squared distances of a whole window first,
    then the bin of each as the number of edges at or below it (slot 0: below the first
    edge, slot n_rp + 1: beyond the last), then one scatter-add per pair.
    """
    n_w = w.shape[1]
    n_edges = edges2.shape[0]
    n_rp = n_edges - 1
    cap = max(counts.max(), 1)
    # r = 0 (the point itself) falls in bin 0 when the first edge is 0: subtract it there
    self_in_bin0 = edges2[0] <= 0.0
    out = np.zeros((rows.shape[0], n_rp, n_w))
    for r in numba.prange(rows.shape[0]):
        acc = np.zeros((n_edges + 1, n_w))
        r2 = np.empty(cap)
        slot = np.empty(cap, np.int64)
        i = rows[r]
        c = column[i]
        xi, yi, zi = x[i], y[i], z[i]
        for q in range(neighbours.shape[1]):
            for image in range(3):
                a, b, sx, sy = _window(z, starts, counts, neighbours, shifts, c, q, image, xi, yi, zi, pi_max, lbox)
                n = b - a
                for t in range(n):
                    dx = x[a + t] + sx
                    dy = y[a + t] + sy
                    r2[t] = dx * dx + dy * dy
                    slot[t] = 0
                for e in range(n_edges):
                    edge = edges2[e]
                    for t in range(n):
                        slot[t] += r2[t] >= edge
                for t in range(n):
                    k = slot[t]
                    for bb in range(n_w):
                        acc[k, bb] += w[a + t, bb]
        for k in range(n_rp):
            for bb in range(n_w):
                out[r, k, bb] = acc[k + 1, bb]
        if self_in_bin0:
            for bb in range(n_w):
                out[r, 0, bb] -= w[i, bb]
    return out


@numba.njit(inline="always")
def _rp_bin(r2, edges2):
    """Index k with edges2[k] <= r2 < edges2[k + 1], or -1 outside the bins (bisection)."""
    n = edges2.shape[0] - 1
    if r2 < edges2[0] or r2 >= edges2[n]:
        return -1
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if r2 >= edges2[mid]:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(parallel=True, cache=True)
def pair_tables_kernel(x, y, z, mbin, dm, rows, column, starts, counts, neighbours, shifts, edges2, pi_max, lbox,
                       n_m, n_chunks):
    """P0, P1, P11 [3, n_rp, n_m, n_m] over ordered pairs whose first member is in ``rows``
    (see ``diffsham.stats.tabulate``); everything in sorted order."""
    n_rp = edges2.shape[0] - 1
    out = np.zeros((n_chunks, 3, n_rp, n_m, n_m))
    size = -(-rows.shape[0] // n_chunks)
    for t in numba.prange(n_chunks):
        for r in range(t * size, min((t + 1) * size, rows.shape[0])):
            i = rows[r]
            c = column[i]
            xi, yi, zi = x[i], y[i], z[i]
            a_i = mbin[i]
            d_i = dm[i]
            for q in range(neighbours.shape[1]):
                for image in range(3):
                    a, b, sx, sy = _window(z, starts, counts, neighbours, shifts, c, q, image, xi, yi, zi, pi_max,
                                           lbox)
                    for j in range(a, b):
                        dx = x[j] + sx
                        dy = y[j] + sy
                        k = _rp_bin(dx * dx + dy * dy, edges2)
                        if k < 0 or j == i:
                            continue
                        a_j = mbin[j]
                        out[t, 0, k, a_i, a_j] += 1.0
                        out[t, 1, k, a_i, a_j] += d_i
                        out[t, 2, k, a_i, a_j] += d_i * dm[j]
    return out.sum(axis=0)
