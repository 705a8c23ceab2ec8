"""The fast path's tabulation of a catalog file split over processes.

Each process streams the file once per column for the cache key and the mass summary
(never holding a whole column), reads its slab and ghost shell (``SlabDecomposition``),
tabulates the pairs visited from its slab and the one-point sums of the halos it owns,
and the shares are summed by an all-reduce. The sum equals the single-process
tabulation (``stats.tabulate``): the same pairs, each once; integer counts exactly,
float sums to rounding. Process 0 alone writes the cache file.
"""
import hashlib
import os
import resource
import time
from typing import NamedTuple

import jax
import numpy as np

from ..cache import remove_orphan_tmp_files, resolve_cache_dir
from ..catalog.hdf5_io import catalog_header, iter_catalog_chunks
from ..catalog.redshift_space import redshift_space_coordinate
from ..model.abundance import MassSummary, check_masses
from ..model.config import SPACES
from ..sham.shmf import DEFAULT_LOGMH_EDGES
from ..stats.pair_counts import check_pair_binning
from ..stats.tabulate import (SUMMED_FIELDS, MassBins, check_dlogm, finish_tabulation_key, make_tabulation,
                              read_cached_tabulation, tabulation_sums, write_tabulation)
from .runtime import process_sum
from .slabs import SlabDecomposition, read_slab

__all__ = ("tabulate_distributed", "TabulationReport", "stream_catalog_summary", "peak_rss_bytes")

DEFAULT_CHUNK_ROWS = 2**20


class TabulationReport(NamedTuple):
    """What one process did in ``tabulate_distributed``.

    Attributes
    ----------
    process, n_processes : int
    n_halos : int
        In the catalog.
    n_owned, n_ghost : int
        Halos this process owned, and held as pair partners only (0 when cached).
    cached : bool
        Read from the cache (then nothing was tabulated).
    seconds : dict
        ``scan`` (key and masses), ``read`` (slab), ``tables`` (pairs and sums),
        ``reduce`` (the all-reduce), ``total``.
    bytes_reduced : int
        Bytes this process contributed to the all-reduce.
    peak_rss_bytes : int
        Peak resident memory of this process so far.
    ghost_width : float
        Of the shell [Mpc/h].
    """

    process: int
    n_processes: int
    n_halos: int
    n_owned: int
    n_ghost: int
    cached: bool
    seconds: dict
    bytes_reduced: int
    peak_rss_bytes: int
    ghost_width: float


def peak_rss_bytes():
    """Peak resident memory of this process [bytes].

    Linux's ``VmHWM``, which starts afresh with the program; ``getrusage``'s maxrss keeps
    the peak of the process that forked it (a launcher's), so it is the fallback only."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _check_space(space):
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def stream_catalog_summary(path, rp_edges=None, pi_max=None, dlogm=None, *, space="real",
                           chunk_rows=DEFAULT_CHUNK_ROWS):
    """The tabulation key and the MassSummary of a catalog file, read chunk by chunk.

    The key equals ``stats.tabulate.tabulation_key`` of the catalog read whole (in
    ``space``) for the binning (rp_edges, pi_max, dlogm), so a cache built by either is
    found by the other; without ``rp_edges`` only the masses are read.

    Returns
    -------
    key : str or None
    masses : MassSummary
    """
    _check_space(space)
    header = catalog_header(path)
    with_key = rp_edges is not None
    h = hashlib.sha256()
    for axis in ("x", "y") if with_key else ():
        for _, chunk in iter_catalog_chunks(path, [axis], chunk_rows):
            h.update(np.ascontiguousarray(chunk[axis], dtype=np.float64).tobytes())
    for _, chunk in iter_catalog_chunks(path, ["z", "vz"], chunk_rows) if with_key else ():
        z = np.asarray(chunk["z"], dtype=np.float64)
        if space == "redshift":
            z = redshift_space_coordinate(z, np.asarray(chunk["vz"], np.float64), header["redshift"],
                                          _om0(header, path), header["lbox"])
        h.update(np.ascontiguousarray(z).tobytes())
    lo, hi, counts = np.inf, -np.inf, np.zeros(DEFAULT_LOGMH_EDGES.size - 1, np.int64)
    for _, chunk in iter_catalog_chunks(path, ["logmpeak"], chunk_rows):
        logm = np.ascontiguousarray(chunk["logmpeak"], dtype=np.float64)
        h.update(logm.tobytes())
        lo, hi = min(lo, logm.min()), max(hi, logm.max())
        counts += np.histogram(logm, bins=DEFAULT_LOGMH_EDGES)[0]
    masses_at = check_masses(lo)
    n_above = np.zeros(masses_at.size, np.int64)
    for _, chunk in iter_catalog_chunks(path, ["logmpeak"], chunk_rows):
        n_above += np.sum(np.asarray(chunk["logmpeak"], np.float64)[None, :] >= masses_at[:, None], axis=1)
    if "delta_sigma_rp_edges" in header and with_key:
        for _, chunk in iter_catalog_chunks(path, [], chunk_rows, delta_sigma=True):
            h.update(np.ascontiguousarray(chunk["delta_sigma"], dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(header["delta_sigma_rp_edges"], dtype=np.float64).tobytes())
    key = finish_tabulation_key(h, header["lbox"], rp_edges, pi_max, dlogm) if with_key else None
    source = header["source"] + (" [redshift space along z]" if space == "redshift" else "")
    return key, MassSummary(float(lo), float(hi), counts, n_above, int(header["n_halos"]), header["lbox"] ** 3,
                            header["redshift"], source)


def _om0(header, path):
    if "Om0" not in header["cosmology"]:
        from ..catalog.schema import CatalogError

        raise CatalogError(f"{path}: redshift space needs the cosmology's Om0; the catalog's cosmology gives "
                           f"{sorted(header['cosmology'])}")
    return header["cosmology"]["Om0"]


def tabulate_distributed(path, rp_edges, pi_max, dlogm=0.02, *, space="real", subdivide=2, cache_dir=None,
                         chunk_rows=DEFAULT_CHUNK_ROWS, progress=True, summary=None):
    """Tabulate a catalog file for the fast path, split over the processes of ``jax.distributed``.

    Call it on every process (after ``initialize``); with one process it is the plain
    tabulation of the file. No process holds more than its slab and ghost shell.

    Parameters
    ----------
    path : str
        A diffsham HDF5 catalog (``catalog.write_catalog``).
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    pi_max : float [Mpc/h]
    dlogm : float, optional [dex]
    space : {"real", "redshift"}, optional
        Positions moved along z by their velocities first (``ModelConfig.space``).
    subdivide : int, optional
        Columns per search length (as ``stats.tabulate.tabulate``).
    cache_dir : str, optional
        Read from, and written to by process 0 (``cache.resolve_cache_dir``).
    chunk_rows : int, optional
        Rows read at a time.
    progress : bool, optional
        Process 0 says what it does.
    summary : (str, MassSummary), optional
        ``stream_catalog_summary`` of the file for this binning and space, when the
        caller has it already (not read again).

    Returns
    -------
    tab : Tabulation
        The whole catalog's, on every process.
    report : TabulationReport
    """
    rank, size = jax.process_index(), jax.process_count()
    t0 = time.perf_counter()
    header = catalog_header(path)
    lbox = header["lbox"]
    edges = check_pair_binning(lbox, rp_edges, pi_max)
    check_dlogm(dlogm)
    say = print if progress and rank == 0 else (lambda *a, **k: None)
    key, masses = summary or stream_catalog_summary(path, edges, pi_max, dlogm, space=space, chunk_rows=chunk_rows)
    bins = MassBins.covering(masses.logm_min, masses.logm_max, dlogm)
    decomposition = SlabDecomposition.for_binning(lbox, edges[-1], size, subdivide)
    cache_path = os.path.join(resolve_cache_dir(cache_dir), f"tabulation_{key}.h5")
    seconds = dict(scan=time.perf_counter() - t0)

    cached = read_cached_tabulation(cache_path, key) if rank == 0 else None
    hit = process_sum({"hit": np.array(float(cached is not None))})["hit"] > 0
    n_owned = n_ghost = 0
    if hit:
        say(f"tabulation {key} found in the cache")
        shapes = _shapes(bins, edges, header)
        mine = {k: None if shape is None else np.asarray(getattr(cached, k)) if rank == 0 else np.zeros(shape)
                for k, shape in shapes.items()}
        sums = process_sum(mine)
        seconds.update(read=0.0, tables=0.0)
    else:
        say(f"tabulating {masses.n_halos} halos over {size} process(es), slabs of "
            f"{decomposition.n_side // size}+ columns and a {decomposition.ghost_width:.3g} Mpc/h ghost shell")
        t1 = time.perf_counter()
        local, owned = read_slab(path, decomposition, rank, space=space, chunk_rows=chunk_rows)
        n_owned, n_ghost = int(owned.sum()), int((~owned).sum())
        t2 = time.perf_counter()
        mine = tabulation_sums(local.positions, local.logmpeak, local.is_host, local.delta_sigma, bins, lbox, edges,
                               pi_max, np.flatnonzero(owned), subdivide, slab=decomposition.columns(rank))
        del local
        t3 = time.perf_counter()
        sums = process_sum(mine)
        seconds.update(read=t2 - t1, tables=t3 - t2)
    t4 = time.perf_counter()
    seconds["reduce"] = t4 - t0 - sum(seconds.values())
    tab = make_tabulation(sums, bins, edges, pi_max, header.get("delta_sigma_rp_edges"), lbox, key, masses.n_halos)
    if not tab.complete:
        raise RuntimeError(f"the slabs hold {int(round(tab.n.sum()))} of {masses.n_halos} halos: the decomposition "
                           "lost or doubled some (a bug)")
    if not hit and rank == 0:
        remove_orphan_tmp_files(os.path.dirname(cache_path))
        write_tabulation(cache_path, tab)
    if size > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("diffsham tabulation written")
    seconds["total"] = time.perf_counter() - t0
    bytes_reduced = int(sum(np.asarray(v).nbytes for k, v in mine.items() if v is not None))
    report = TabulationReport(rank, size, masses.n_halos, n_owned, n_ghost, bool(hit), seconds, bytes_reduced,
                              peak_rss_bytes(), decomposition.ghost_width)
    return tab, report


def _shapes(bins, edges, header):
    n_m, n_rp = bins.n_m, edges.size - 1
    shapes = dict(n=(n_m,), s1=(n_m,), s2=(n_m,), host_n=(n_m,), host_s1=(n_m,), host_s2=(n_m,),
                  p0=(n_rp, n_m, n_m), p1=(n_rp, n_m, n_m), p11=(n_rp, n_m, n_m))
    ds_edges = header.get("delta_sigma_rp_edges")
    for name in ("ds0", "ds1", "host_ds0", "host_ds1"):
        shapes[name] = None if ds_edges is None else (n_m, ds_edges.size - 1)
    assert set(shapes) == set(SUMMED_FIELDS)
    return shapes
