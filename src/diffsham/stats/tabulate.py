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
DeltaSigma_i and Delta_i DeltaSigma_i. The same N, S1, S2, D0, D1 over host halos alone
(upid = -1) serve lensing by central galaxies only. Pairs are enumerated once by a compiled (numba)
cell-list loop, in parallel over cells, and the tables are cached in HDF5 keyed by the
catalog and the binning: a changed catalog or binning is detected and rebuilt.
"""
import hashlib
import json
import os
import warnings
from typing import NamedTuple

import h5py
import numba
import numpy as np

from ..cache import atomic_tmp_path, remove_orphan_tmp_files, resolve_cache_dir
from .cells import sort_into_columns, sort_slab_into_columns
from .pair_counts import check_pair_count_args
from .pair_kernels import pair_tables_kernel, rp_slot_table

__all__ = ("Tabulation", "tabulate", "combine_tabulations", "load_or_tabulate", "tabulation_key", "pair_tables",
           "read_tabulation", "write_tabulation", "BadCacheFile", "MassBins", "tabulation_sums", "make_tabulation",
           "finish_tabulation_key", "SUMMED_FIELDS", "read_cached_tabulation",
           "tabulation_cache_path", "check_dlogm")

FORMAT_VERSION = 3  # 3: the host-only lensing sums


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
    n_total: int  # halos in the catalog; n.sum() < n_total for a shard (see ``tabulate``)
    # n, s1, s2, ds0, ds1 over host halos only (the lenses of central-galaxy lensing)
    host_n: np.ndarray | None = None  # (n_m, )
    host_s1: np.ndarray | None = None
    host_s2: np.ndarray | None = None
    host_ds0: np.ndarray | None = None  # (n_m, n_ds)
    host_ds1: np.ndarray | None = None

    @property
    def complete(self):
        """True when every halo of the catalog is a first member (not a partial shard)."""
        return int(round(float(self.n.sum()))) == self.n_total


def pair_tables(pos, mbin, dm, n_m, lbox, rp_edges, pi_max, subdivide=2, rows=None, slab=None):
    """P0, P1, P11 of shape (n_rp, n_m, n_m) (see the module docstring).

    Parameters
    ----------
    pos : ndarray of shape (n, 3), in [0, lbox)
    mbin : ndarray of shape (n, ), int, the mass bin of each point in [0, n_m)
    dm : ndarray of shape (n, ), the offset of each point from its bin centre
    rows : ndarray of int, optional
        Only ordered pairs whose first member is one of these rows (all by default).
    slab : (int, int), optional
        Only the pairs visited from the x-columns [first, stop) of the pair enumeration
        (``diffsham.distributed.SlabDecomposition``), each once and adding both orders:
        ``pos`` holds the slab's points and every point within ``subdivide`` columns
        above it in x. The tables of the slabs of a partition sum to the whole box's.
    """
    pos, edges = check_pair_count_args(pos, lbox, rp_edges, pi_max)
    if rows is not None and slab is not None:
        raise ValueError("give rows or slab, not both")
    if slab is not None:
        slab_cells = sort_slab_into_columns(pos, lbox, edges[-1], subdivide, slab)
        cells, half = slab_cells.columns, True
        sorted_rows = np.arange(slab_cells.first_row, slab_cells.stop_row)
    else:
        cells = sort_into_columns(pos, lbox, edges[-1], subdivide)
        half = cells.stencil_is_distinct and rows is None
        sorted_rows = np.arange(cells.order.size)
        if rows is not None:
            rank = np.empty_like(cells.order)
            rank[cells.order] = sorted_rows
            sorted_rows = np.sort(rank[rows])
    # each chunk of rows adds to its own copy of the tables: several per thread balance
    # the load, and one thread needs one copy only (of n_rp x n_m x n_m floats, ~15 MB
    # for the default binning)
    threads = numba.get_num_threads()
    n_chunks = 1 if threads == 1 else 4 * threads
    tables = pair_tables_kernel(cells.x, cells.y, cells.z, np.asarray(mbin, np.int64)[cells.order],
                                np.asarray(dm, float)[cells.order], sorted_rows, cells.column, cells.starts,
                                cells.counts, cells.neighbours, cells.shifts, cells.n_side, cells.subdivide, edges**2,
                                *rp_slot_table(edges**2), float(pi_max), float(lbox), int(n_m), n_chunks, half)
    return tables[0], tables[1], tables[2]


class MassBins(NamedTuple):
    """The tabulation's log Mpeak bins: ``n_m`` bins of width ``dlogm`` from ``lo``."""

    lo: float
    dlogm: float
    n_m: int

    @classmethod
    def covering(cls, logm_min, logm_max, dlogm):
        """The bins on the dlogm grid from the lightest to the heaviest halo."""
        lo = np.floor(logm_min / dlogm) * dlogm
        return cls(float(lo), float(dlogm), int(np.floor((logm_max - lo) / dlogm)) + 1)

    @property
    def centres(self):
        return self.lo + (np.arange(self.n_m) + 0.5) * self.dlogm

    def assign(self, logmpeak):
        """(bin index, offset from the bin centre) of each log Mpeak."""
        mbin = np.minimum(np.floor((logmpeak - self.lo) / self.dlogm).astype(np.int64), self.n_m - 1)
        return mbin, logmpeak - self.centres[mbin]


def tabulation_sums(pos, logmpeak, is_host, profiles, bins, lbox, rp_edges, pi_max, own, subdivide=2, rows=None,
                    slab=None):
    """The summed tables (``SUMMED_FIELDS``) of one share of a catalog.

    ``own`` selects the halos whose one-point sums (N, S1, S2, lensing) this share
    holds; ``rows`` or ``slab`` the pairs (see ``pair_tables``). Shares that partition
    the halos and the pairs sum to the whole catalog's tables.

    Parameters
    ----------
    pos : ndarray of shape (n, 3)
    logmpeak : ndarray of shape (n, )
    is_host : ndarray of bool of shape (n, )
    profiles : ndarray of shape (n, n_ds) or None
    bins : MassBins
    own : ndarray of int

    Returns
    -------
    sums : dict of ndarray
    """
    mbin, dm = bins.assign(logmpeak)
    n_m = bins.n_m
    out = dict(zip(("n", "s1", "s2"), _moments(mbin[own], dm[own], n_m)))
    host = own[is_host[own]]
    out.update(zip(("host_n", "host_s1", "host_s2"), _moments(mbin[host], dm[host], n_m)))
    out.update(zip(("p0", "p1", "p11"), pair_tables(pos, mbin, dm, n_m, lbox, rp_edges, pi_max, subdivide, rows,
                                                     slab)))
    for prefix, members in (("", own), ("host_", host)):
        ds = (None, None) if profiles is None else _lensing_sums(profiles[members], mbin[members], dm[members], n_m)
        out.update({f"{prefix}ds0": ds[0], f"{prefix}ds1": ds[1]})
    return out


def tabulation_key(cat, rp_edges, pi_max, dlogm):
    """A digest of the catalog arrays and the binning: any change gives a new key."""
    h = hashlib.sha256()
    for a in (cat.x, cat.y, cat.z, cat.logmpeak):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    if cat.delta_sigma is not None:
        h.update(np.ascontiguousarray(cat.delta_sigma).tobytes())
        h.update(np.ascontiguousarray(cat.delta_sigma_rp_edges).tobytes())
    return finish_tabulation_key(h, cat.lbox, rp_edges, pi_max, dlogm)


def finish_tabulation_key(h, lbox, rp_edges, pi_max, dlogm):
    """The key from a sha256 that has digested the catalog arrays (see ``tabulation_key``)."""
    h.update(json.dumps(dict(lbox=lbox, rp_edges=[float(e) for e in rp_edges], pi_max=float(pi_max),
                             dlogm=float(dlogm), version=FORMAT_VERSION)).encode())
    return h.hexdigest()[:24]


def tabulate(cat, rp_edges, pi_max, dlogm=0.02, subdivide=2, progress=True, rows=None):
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
    rows : ndarray of int, optional
        Tabulate only these halos as first members (every halo stays a neighbour), to
        split the work (the jackknife's cubes): with rows that partition the catalog,
        ``combine_tabulations`` of the shards equals the full tabulation. Across
        processes, ``diffsham.distributed.tabulate_distributed`` splits the box into
        slabs instead, so that no process holds the whole catalog.

    Returns
    -------
    tab : Tabulation
    """
    pos, edges = check_pair_count_args(cat.positions, cat.lbox, rp_edges, pi_max)
    check_dlogm(dlogm)
    n_total = pos.shape[0]
    if rows is not None:
        rows = np.asarray(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer) or (
                rows.size and (rows.min() < 0 or rows.max() >= n_total)) or np.unique(rows).size != rows.size:
            raise ValueError(f"rows must be distinct integer indices in [0, {n_total})")
    bins = MassBins.covering(cat.logmpeak.min(), cat.logmpeak.max(), dlogm)
    own = np.arange(n_total) if rows is None else rows
    from tqdm.auto import tqdm

    with tqdm(total=1, desc=f"tabulate {own.size} halos", disable=not progress) as bar:
        sums = tabulation_sums(pos, cat.logmpeak, cat.is_host, cat.delta_sigma, bins, cat.lbox, edges, pi_max, own,
                               subdivide, rows)
        bar.update()
    return make_tabulation(sums, bins, edges, pi_max, cat.delta_sigma_rp_edges, cat.lbox,
                           tabulation_key(cat, edges, pi_max, dlogm), n_total)


def make_tabulation(sums, bins, rp_edges, pi_max, ds_rp_edges, lbox, key, n_total):
    """A Tabulation from its summed tables (``tabulation_sums``) and its binning."""
    return Tabulation(bins.centres, rp_edges=np.asarray(rp_edges, float), pi_max=float(pi_max),
                      ds_rp_edges=None if sums["ds0"] is None else np.asarray(ds_rp_edges, float), lbox=float(lbox),
                      key=key, n_total=int(n_total), **sums)


def check_dlogm(dlogm):
    if not (0 < dlogm <= 0.1):
        raise ValueError(f"dlogm must lie in (0, 0.1] dex, got {dlogm!r}")


def _moments(mbin, dm, n_m):
    """N, S1, S2 per mass bin."""
    return (np.bincount(mbin, minlength=n_m).astype(float), np.bincount(mbin, weights=dm, minlength=n_m),
            np.bincount(mbin, weights=dm**2, minlength=n_m))


def _lensing_sums(profiles, mbin, dm, n_m):
    """D0, D1 per mass bin, shape (n_m, n_ds) each."""
    d0 = np.stack([np.bincount(mbin, weights=col, minlength=n_m) for col in profiles.T], axis=1)
    d1 = np.stack([np.bincount(mbin, weights=col * dm, minlength=n_m) for col in profiles.T], axis=1)
    return d0, d1


SUMMED_FIELDS = ("n", "s1", "s2", "p0", "p1", "p11", "ds0", "ds1", "host_n", "host_s1", "host_s2", "host_ds0",
                 "host_ds1")
_ARRAY_FIELDS = ("logm_centres", "rp_edges", "ds_rp_edges") + SUMMED_FIELDS


def combine_tabulations(shards):
    """Sum tabulations of disjoint row sets of one catalog and binning (see ``tabulate``).

    Raises ValueError if the shards come from different catalogs or binnings, or hold
    more halos than the catalog (overlapping rows).
    """
    shards = list(shards)
    if not shards:
        raise ValueError("no tabulations to combine")
    first = shards[0]
    for t in shards[1:]:
        if t.key != first.key or t.n_total != first.n_total:
            raise ValueError("tabulations of different catalogs or binnings cannot be combined "
                             f"(keys {first.key} and {t.key})")
    summed = {name: None if getattr(first, name) is None else sum(getattr(t, name) for t in shards)
              for name in SUMMED_FIELDS}
    if summed["n"].sum() > first.n_total + 0.5:
        raise ValueError(f"the shards hold {int(summed['n'].sum())} halos, more than the catalog's "
                         f"{first.n_total}: their rows overlap")
    return first._replace(**summed)


_SCALAR_FIELDS = ("pi_max", "lbox", "key", "n_total")


class BadCacheFile(ValueError):
    """A cache file that is unreadable, incomplete or altered."""


def load_or_tabulate(cat, rp_edges, pi_max, dlogm=0.02, cache_dir=None, progress=True):
    """The tabulation from the HDF5 cache if its key matches, otherwise built and cached.

    The cache file is named by the key (catalog digest + binning), and the key is checked
    again inside the file, so a stale table is never reused. Every dataset is checked on
    load (present, of the expected shape, finite, and equal to the checksum stored when
    it was written); a bad file is rebuilt with a warning. Temporary files that killed
    builds left behind are removed.

    Parameters
    ----------
    cache_dir : str, optional
        See ``diffsham.cache.resolve_cache_dir``.
    """
    key = tabulation_key(cat, rp_edges, pi_max, dlogm)
    path = tabulation_cache_path(cache_dir, key)
    tab = read_cached_tabulation(path, key)
    if tab is None:
        tab = tabulate(cat, rp_edges, pi_max, dlogm, progress=progress)
        write_tabulation(path, tab)
    return tab


def tabulation_cache_path(cache_dir, key):
    """Where the tabulation of ``key`` is cached (orphaned temporary files are removed)."""
    cache_dir = resolve_cache_dir(cache_dir)
    remove_orphan_tmp_files(cache_dir)
    return os.path.join(cache_dir, f"tabulation_{key}.h5")


def read_cached_tabulation(path, key):
    """The complete tabulation of ``key`` cached at ``path``, or None (absent, or bad:
    then with a warning that it will be rebuilt)."""
    if not os.path.isfile(path):
        return None
    try:
        tab = read_tabulation(path)
        if tab.key != key or not tab.complete:
            raise BadCacheFile(f"{path}: key {tab.key} or halo count does not match the catalog")
        return tab
    except BadCacheFile as exc:
        warnings.warn(f"rebuilding the tabulation cache: {exc}", stacklevel=3)
        return None


def _checksum(array):
    a = np.ascontiguousarray(array)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def write_tabulation(path, tab):
    """Write a Tabulation to HDF5 atomically, with a checksum of every dataset."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = atomic_tmp_path(path)
    with h5py.File(tmp, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        for name, value in tab._asdict().items():
            if value is None:
                continue
            if name in _SCALAR_FIELDS:
                f.attrs[name] = value
            else:
                f.create_dataset(name, data=value).attrs["sha256"] = _checksum(value)
    os.replace(tmp, path)


def read_tabulation(path):
    """Read and check a Tabulation written by ``write_tabulation``.

    Raises
    ------
    BadCacheFile
        Unreadable, another format version, a dataset missing, of the wrong shape,
        not finite or not matching its checksum.
    """
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION:
                raise BadCacheFile(f"{path}: tabulation format {f.attrs.get('format_version')} != {FORMAT_VERSION}")
            fields = {}
            for name in _SCALAR_FIELDS:
                if name not in f.attrs:
                    raise BadCacheFile(f"{path}: attribute {name!r} is missing")
            fields = dict(pi_max=float(f.attrs["pi_max"]), lbox=float(f.attrs["lbox"]), key=str(f.attrs["key"]),
                          n_total=int(f.attrs["n_total"]))
            for name in _ARRAY_FIELDS:
                if name not in f:
                    fields[name] = None
                    continue
                value = f[name][...]
                if f[name].attrs.get("sha256") != _checksum(value):
                    raise BadCacheFile(f"{path}: dataset {name!r} does not match its checksum (altered or truncated)")
                if not np.all(np.isfinite(value)):
                    raise BadCacheFile(f"{path}: dataset {name!r} holds NaN or infinite values")
                fields[name] = value
    except BadCacheFile:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise BadCacheFile(f"{path}: unreadable ({exc})") from exc
    for name in ("logm_centres", "n", "s1", "s2", "p0", "p1", "p11", "rp_edges", "host_n", "host_s1", "host_s2"):
        if fields[name] is None:
            raise BadCacheFile(f"{path}: dataset {name!r} is missing")
    n_m, n_rp = fields["logm_centres"].shape[0], fields["rp_edges"].shape[0] - 1
    expected = dict(n=(n_m,), s1=(n_m,), s2=(n_m,), p0=(n_rp, n_m, n_m), p1=(n_rp, n_m, n_m), p11=(n_rp, n_m, n_m),
                    host_n=(n_m,), host_s1=(n_m,), host_s2=(n_m,))
    lensing = ("ds0", "ds1", "ds_rp_edges", "host_ds0", "host_ds1")
    if len({fields[name] is None for name in lensing}) > 1:
        raise BadCacheFile(f"{path}: the lensing datasets {', '.join(lensing)} must be present together")
    if fields["ds0"] is not None:
        n_ds = fields["ds_rp_edges"].shape[0] - 1
        expected.update(ds0=(n_m, n_ds), ds1=(n_m, n_ds), host_ds0=(n_m, n_ds), host_ds1=(n_m, n_ds))
    for name, shape in expected.items():
        if fields[name].shape != shape:
            raise BadCacheFile(f"{path}: dataset {name!r} has shape {fields[name].shape}, expected {shape}")
    return Tabulation(**fields)
