"""Tabulation for the fast path: pair counts, halo counts and lensing sums in fine log Mpeak bins.

In SHAM the weight of a halo depends on the halo only through log Mpeak (DESIGN.md, idea 2).
With halos grouped in bins a of width ``dlogm`` and Delta_i = log Mpeak_i - centre_a, a
first-order expansion w_ib = W_b(a) + W'_b(a) Delta_i inside each bin turns every
statistic into a contraction over bins, at a cost independent of the number of halos:

    sum_i w_ib           = N_a W + S1_a W'
    sum_i w_ib^2         = N_a W^2 + 2 S1_a W W' + S2_a W'^2
    DD_b(k)              = 1/2 [W^T P0_k W + 2 W'^T P1_k W + W'^T P11_k W]
    sum_i w_ib DS_i(R)   = D0_a(R) W + D1_a(R) W'

with P0[a, c, k] the ordered pairs of distinct halos (first in a, second in c, rp in bin
k, |pi| < pi_max), P1 the sum over those pairs of Delta_first, P11 of Delta_first *
Delta_second; N, S1, S2 the counts and sums of Delta, Delta^2 per bin; D0, D1 the sums of
DeltaSigma_i and Delta_i DeltaSigma_i. Pairs are enumerated once by a compiled (numba)
cell-list loop, in parallel over cells, and the tables are cached in HDF5 keyed by the
catalog and the binning: a changed catalog or binning is detected and rebuilt.
"""
import hashlib
import json
import os
from typing import NamedTuple

import h5py
import numba
import numpy as np

from .pair_counts import cell_grid, check_pair_count_args

__all__ = ("Tabulation", "tabulate", "load_or_tabulate", "tabulation_key", "pair_tables")

FORMAT_VERSION = 1


class Tabulation(NamedTuple):
    """Everything the fast path needs from a catalog (see the module docstring)."""

    logm_centres: np.ndarray  # (n_m, )
    n: np.ndarray  # (n_m, )
    s1: np.ndarray  # (n_m, )
    s2: np.ndarray  # (n_m, )
    p0: np.ndarray  # (n_rp, n_m, n_m)
    p1: np.ndarray  # (n_rp, n_m, n_m)
    p11: np.ndarray  # (n_rp, n_m, n_m)
    ds0: np.ndarray | None  # (n_m, n_ds)
    ds1: np.ndarray | None  # (n_m, n_ds)
    rp_edges: np.ndarray
    pi_max: float
    ds_rp_edges: np.ndarray | None
    lbox: float
    key: str


@numba.njit(inline="always")
def _min_image(d, lbox):
    if d > 0.5 * lbox:
        return d - lbox
    if d < -0.5 * lbox:
        return d + lbox
    return d


@numba.njit(parallel=True, cache=True)
def _pair_tables_kernel(pos, mbin, dm, order, starts, counts, neighbours, edges2, pi_max, lbox, n_m, n_chunks):
    n_cells = starts.shape[0]
    n_rp = edges2.shape[0] - 1
    out = np.zeros((n_chunks, 3, n_rp, n_m, n_m))
    for t in numba.prange(n_chunks):
        for c in range(t, n_cells, n_chunks):
            for ii in range(starts[c], starts[c] + counts[c]):
                i = order[ii]
                xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
                a = mbin[i]
                da = dm[i]
                for q in range(neighbours.shape[1]):
                    nb = neighbours[c, q]
                    for jj in range(starts[nb], starts[nb] + counts[nb]):
                        j = order[jj]
                        if j == i:
                            continue
                        dz = _min_image(pos[j, 2] - zi, lbox)
                        if dz >= pi_max or dz <= -pi_max:
                            continue
                        dx = _min_image(pos[j, 0] - xi, lbox)
                        dy = _min_image(pos[j, 1] - yi, lbox)
                        r2 = dx * dx + dy * dy
                        if r2 < edges2[0] or r2 >= edges2[n_rp]:
                            continue
                        k = 0
                        while r2 >= edges2[k + 1]:
                            k += 1
                        b = mbin[j]
                        out[t, 0, k, a, b] += 1.0
                        out[t, 1, k, a, b] += da
                        out[t, 2, k, a, b] += da * dm[j]
    return out.sum(axis=0)


def pair_tables(pos, mbin, dm, n_m, lbox, rp_edges, pi_max, subdivide=2):
    """P0, P1, P11 of shape (n_rp, n_m, n_m) (see the module docstring).

    Parameters
    ----------
    pos : ndarray of shape (n, 3), in [0, lbox)
    mbin : ndarray of shape (n, ), int, the mass bin of each point in [0, n_m)
    dm : ndarray of shape (n, ), the offset of each point from its bin centre
    """
    pos, edges = check_pair_count_args(pos, lbox, rp_edges, pi_max)
    cid, n_cells, neighbours = cell_grid(pos, lbox, edges[-1], pi_max, subdivide)
    order = np.argsort(cid, kind="stable")
    counts = np.bincount(cid, minlength=n_cells)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_chunks = max(numba.get_num_threads() * 4, 1)
    tables = _pair_tables_kernel(pos, np.asarray(mbin, np.int64), np.asarray(dm, float), order, starts, counts,
                                 neighbours, edges**2, float(pi_max), float(lbox), int(n_m), n_chunks)
    return tables[0], tables[1], tables[2]


def _mass_bins(logmpeak, dlogm):
    lo = np.floor(logmpeak.min() / dlogm) * dlogm
    n_m = int(np.floor((logmpeak.max() - lo) / dlogm)) + 1
    mbin = np.minimum(np.floor((logmpeak - lo) / dlogm).astype(np.int64), n_m - 1)
    centres = lo + (np.arange(n_m) + 0.5) * dlogm
    return mbin, centres, logmpeak - centres[mbin]


def tabulation_key(cat, rp_edges, pi_max, dlogm):
    """A digest of the catalog arrays and the binning: any change gives a new key."""
    h = hashlib.sha256()
    for a in (cat.x, cat.y, cat.z, cat.logmpeak):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    if cat.delta_sigma is not None:
        h.update(np.ascontiguousarray(cat.delta_sigma).tobytes())
        h.update(np.ascontiguousarray(cat.delta_sigma_rp_edges).tobytes())
    h.update(json.dumps(dict(lbox=cat.lbox, rp_edges=[float(e) for e in rp_edges], pi_max=float(pi_max),
                             dlogm=float(dlogm), version=FORMAT_VERSION)).encode())
    return h.hexdigest()[:24]


def tabulate(cat, rp_edges, pi_max, dlogm=0.02, subdivide=2, progress=True):
    """Tabulate a catalog for the fast path.

    Parameters
    ----------
    cat : HaloCatalog
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]
    dlogm : float, optional
        Width of the log Mpeak bins [dex].
    subdivide : int, optional
        Cells per search length of the pair enumeration.
    progress : bool, optional

    Returns
    -------
    tab : Tabulation
    """
    from tqdm.auto import tqdm

    steps = tqdm(total=3, desc="tabulate", disable=not progress)
    pos, edges = check_pair_count_args(cat.positions, cat.lbox, rp_edges, pi_max)
    if not (0 < dlogm <= 0.1):
        raise ValueError(f"dlogm must lie in (0, 0.1] dex, got {dlogm!r}")
    mbin, centres, dm = _mass_bins(cat.logmpeak, dlogm)
    n_m = centres.size
    n = np.bincount(mbin, minlength=n_m).astype(float)
    s1 = np.bincount(mbin, weights=dm, minlength=n_m)
    s2 = np.bincount(mbin, weights=dm**2, minlength=n_m)
    steps.update()
    p0, p1, p11 = pair_tables(pos, mbin, dm, n_m, cat.lbox, edges, pi_max, subdivide)
    steps.update()
    ds0 = ds1 = ds_edges = None
    if cat.delta_sigma is not None:
        ds0 = np.stack([np.bincount(mbin, weights=col, minlength=n_m) for col in cat.delta_sigma.T], axis=1)
        ds1 = np.stack([np.bincount(mbin, weights=col * dm, minlength=n_m) for col in cat.delta_sigma.T], axis=1)
        ds_edges = cat.delta_sigma_rp_edges
    steps.update()
    steps.close()
    return Tabulation(centres, n, s1, s2, p0, p1, p11, ds0, ds1, edges, float(pi_max), ds_edges, float(cat.lbox),
                      tabulation_key(cat, edges, pi_max, dlogm))


def load_or_tabulate(cat, rp_edges, pi_max, dlogm=0.02, cache_dir=None, progress=True):
    """The tabulation from the HDF5 cache if its key matches, otherwise built and cached.

    The cache file is named by the key (catalog digest + binning), and the key is checked
    again inside the file, so a stale table is never reused.
    """
    cache_dir = cache_dir or os.environ.get("DIFFSHAM_CACHE", os.path.join("data", "cache"))
    key = tabulation_key(cat, rp_edges, pi_max, dlogm)
    path = os.path.join(cache_dir, f"tabulation_{key}.h5")
    if os.path.isfile(path):
        try:
            tab = read_tabulation(path)
            if tab.key == key:
                return tab
        except (OSError, KeyError, ValueError):
            pass  # unreadable or partial: rebuild below
    tab = tabulate(cat, rp_edges, pi_max, dlogm, progress=progress)
    write_tabulation(path, tab)
    return tab


def write_tabulation(path, tab):
    """Write a Tabulation to HDF5 atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        for name, value in tab._asdict().items():
            if value is None:
                continue
            if name in ("pi_max", "lbox", "key"):
                f.attrs[name] = value
            else:
                f.create_dataset(name, data=value)
    os.replace(tmp, path)


def read_tabulation(path):
    """Read a Tabulation written by ``write_tabulation``."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: tabulation format {f.attrs.get('format_version')} != {FORMAT_VERSION}")
        fields = {}
        for name in Tabulation._fields:
            if name in ("pi_max", "lbox"):
                fields[name] = float(f.attrs[name])
            elif name == "key":
                fields[name] = str(f.attrs[name])
            else:
                fields[name] = f[name][...] if name in f else None
    return Tabulation(**fields)
