"""Compiled (numba) pair loops over ``SortedCells``: per-point neighbour sums and the fast-path tables.

Both loop over a list of rows (sorted positions; a subset when the halos are split
across processes), visit every point of the neighbour cells, keep pairs with
|pi| < pi_max and rp in [edge_0, edge_n), and accumulate. Rows are independent, so the
loops run in parallel without locks.
"""
import numba
import numpy as np

__all__ = ("neighbour_sums_kernel", "pair_tables_kernel")


@numba.njit(inline="always")
def _min_image(d, lbox):
    if d > 0.5 * lbox:
        return d - lbox
    if d < -0.5 * lbox:
        return d + lbox
    return d


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
def neighbour_sums_kernel(pos, w, rows, cell, starts, counts, neighbours, edges2, pi_max, lbox):
    """S[r, k, b] = sum over j != rows[r] in rp bin k with |pi| < pi_max of w[j, b].

    ``pos``, ``w`` and ``rows`` are in sorted (cell) order; returns shape (n_rows, n_rp, n_w).
    """
    n_rp = edges2.shape[0] - 1
    n_w = w.shape[1]
    out = np.zeros((rows.shape[0], n_rp, n_w))
    for r in numba.prange(rows.shape[0]):
        i = rows[r]
        c = cell[i]
        xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
        for q in range(neighbours.shape[1]):
            nb = neighbours[c, q]
            for j in range(starts[nb], starts[nb] + counts[nb]):
                dz = _min_image(pos[j, 2] - zi, lbox)
                if dz >= pi_max or dz <= -pi_max or j == i:
                    continue
                dx = _min_image(pos[j, 0] - xi, lbox)
                dy = _min_image(pos[j, 1] - yi, lbox)
                k = _rp_bin(dx * dx + dy * dy, edges2)
                if k < 0:
                    continue
                for b in range(n_w):
                    out[r, k, b] += w[j, b]
    return out


@numba.njit(parallel=True, cache=True)
def pair_tables_kernel(pos, mbin, dm, rows, cell, starts, counts, neighbours, edges2, pi_max, lbox, n_m, n_chunks):
    """P0, P1, P11 [3, n_rp, n_m, n_m] over ordered pairs whose first member is in ``rows``
    (see ``diffsham.stats.tabulate``); ``pos``, ``mbin``, ``dm`` and ``rows`` in sorted order."""
    n_rp = edges2.shape[0] - 1
    out = np.zeros((n_chunks, 3, n_rp, n_m, n_m))
    size = -(-rows.shape[0] // n_chunks)
    for t in numba.prange(n_chunks):
        for r in range(t * size, min((t + 1) * size, rows.shape[0])):
            i = rows[r]
            c = cell[i]
            xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
            a = mbin[i]
            da = dm[i]
            for q in range(neighbours.shape[1]):
                nb = neighbours[c, q]
                for j in range(starts[nb], starts[nb] + counts[nb]):
                    dz = _min_image(pos[j, 2] - zi, lbox)
                    if dz >= pi_max or dz <= -pi_max or j == i:
                        continue
                    dx = _min_image(pos[j, 0] - xi, lbox)
                    dy = _min_image(pos[j, 1] - yi, lbox)
                    k = _rp_bin(dx * dx + dy * dy, edges2)
                    if k < 0:
                        continue
                    b = mbin[j]
                    out[t, 0, k, a, b] += 1.0
                    out[t, 1, k, a, b] += da
                    out[t, 2, k, a, b] += da * dm[j]
    return out.sum(axis=0)
