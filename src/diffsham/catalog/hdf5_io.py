"""The native catalog file: HDF5 in the diffsham schema, written atomically.

Layout::

    /halos/<column>            one dataset per schema column (x, y, z, vx, ..., host_id)
    /delta_sigma/profiles      optional, (n_halos, n_rp) [h Msun/pc^2]
    /delta_sigma/rp_edges      optional, (n_rp + 1, ) [Mpc/h]
    attributes: format = "diffsham-catalog", format_version, lbox, redshift, source,
                cosmology (JSON), and delta_sigma_method on /delta_sigma
"""
import json
import os

import h5py
import numpy as np

from ..cache import atomic_tmp_path
from .schema import ARRAY_COLUMNS, CatalogError, HaloCatalog, validate_catalog

__all__ = ("write_catalog", "read_catalog", "read_catalog_rows", "iter_catalog_chunks", "catalog_header",
           "CATALOG_FORMAT")

CATALOG_FORMAT = "diffsham-catalog"
FORMAT_VERSION = 1


def write_catalog(path, cat):
    """Write a HaloCatalog to ``path``; the file appears only once complete.

    Parameters
    ----------
    path : str or path-like
    cat : HaloCatalog
    """
    cat = validate_catalog(cat)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = atomic_tmp_path(path)
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = CATALOG_FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["lbox"] = cat.lbox
        f.attrs["redshift"] = cat.redshift
        f.attrs["source"] = cat.source
        f.attrs["cosmology"] = json.dumps(cat.cosmology)
        g = f.create_group("halos")
        for name in ARRAY_COLUMNS:
            g.create_dataset(name, data=getattr(cat, name))
        if cat.delta_sigma is not None:
            d = f.create_group("delta_sigma")
            d.create_dataset("profiles", data=cat.delta_sigma)
            d.create_dataset("rp_edges", data=cat.delta_sigma_rp_edges)
            d.attrs["method"] = cat.delta_sigma_method
    os.replace(tmp, path)


def read_catalog(path):
    """Read a catalog written by ``write_catalog``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    cat : HaloCatalog

    Raises
    ------
    CatalogError
        If the file is missing, unreadable, not a diffsham catalog, lacks a column,
        or fails ``validate_catalog``.
    """
    path = os.fspath(path)
    with _open_catalog(path) as f:
        arrays = {c: f["halos"][c][...] for c in ARRAY_COLUMNS}
        kwargs = _metadata(f)
        if "delta_sigma" in f:
            kwargs.update(delta_sigma=f["delta_sigma"]["profiles"][...])
    return validate_catalog(HaloCatalog(**arrays, **kwargs), origin=path)


class _open_catalog:
    """``with _open_catalog(path) as f``: the open HDF5 file, checked to be a diffsham
    catalog; any read error inside the block becomes a CatalogError naming the file."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def __enter__(self):
        if not os.path.isfile(self.path):
            raise CatalogError(f"{self.path}: no such file")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise CatalogError(f"{self.path}: unreadable or truncated HDF5 catalog ({exc})") from exc
        f = self.file
        try:
            if f.attrs.get("format") != CATALOG_FORMAT:
                raise CatalogError(f"{self.path}: not a diffsham catalog (attribute format="
                                   f"{f.attrs.get('format')!r}); for halotools caches use "
                                   "read_halotools_cache, for Rockstar ASCII read_hlist")
            if "halos" not in f:
                raise CatalogError(f"{self.path}: group 'halos' is missing")
            missing = [c for c in ARRAY_COLUMNS if c not in f["halos"]]
            if missing:
                raise CatalogError(f"{self.path}: missing columns {missing} in group 'halos'")
            lengths = {f["halos"][c].shape for c in ARRAY_COLUMNS}
            if len(lengths) != 1:
                raise CatalogError(f"{self.path}: the columns of group 'halos' differ in length ({sorted(lengths)})")
        except BaseException:
            f.close()
            raise
        return f

    def __exit__(self, kind, exc, tb):
        self.file.close()
        if isinstance(exc, (OSError, KeyError, ValueError)) and not isinstance(exc, CatalogError):
            raise CatalogError(f"{self.path}: unreadable or truncated HDF5 catalog ({exc})") from exc
        return False


def _metadata(f):
    kwargs = dict(lbox=float(f.attrs["lbox"]), redshift=float(f.attrs["redshift"]), source=str(f.attrs["source"]),
                  cosmology=json.loads(f.attrs["cosmology"]))
    if "delta_sigma" in f:
        d = f["delta_sigma"]
        kwargs.update(delta_sigma_rp_edges=d["rp_edges"][...], delta_sigma_method=str(d.attrs.get("method", "")))
    return kwargs


def catalog_header(path):
    """A catalog file's metadata without its rows: the ``HaloCatalog`` keywords other
    than the columns (lbox, redshift, source, cosmology, and the DeltaSigma radii), plus
    ``n_halos``."""
    with _open_catalog(path) as f:
        return dict(_metadata(f), n_halos=int(f["halos"]["x"].shape[0]))


def iter_catalog_chunks(path, columns, chunk_rows=2**20, delta_sigma=False):
    """The rows of a catalog file in chunks, never the whole file at once.

    Parameters
    ----------
    path : str or path-like
    columns : sequence of str
        Schema columns to read.
    chunk_rows : int, optional
    delta_sigma : bool, optional
        Also the chunk's DeltaSigma profiles (key ``"delta_sigma"``; a CatalogError if
        the file has none).

    Yields
    ------
    start : int
        The chunk's first row.
    chunk : dict of ndarray
    """
    unknown = sorted(set(columns) - set(ARRAY_COLUMNS))
    if unknown:
        raise ValueError(f"unknown catalog columns {unknown}; the schema has {list(ARRAY_COLUMNS)}")
    with _open_catalog(path) as f:
        if delta_sigma and "delta_sigma" not in f:
            raise CatalogError(f"{os.fspath(path)}: the catalog carries no DeltaSigma profiles")
        n = f["halos"]["x"].shape[0]
        for start in range(0, n, int(chunk_rows)):
            stop = min(start + int(chunk_rows), n)
            chunk = {c: f["halos"][c][start:stop] for c in columns}
            if delta_sigma:
                chunk["delta_sigma"] = f["delta_sigma"]["profiles"][start:stop]
            yield start, chunk


def read_catalog_rows(path, select, chunk_rows=2**20):
    """The rows of a catalog file that ``select`` keeps, read chunk by chunk.

    Only the kept rows are ever held whole: this is how one process of many reads its
    share of a catalog larger than its memory.

    Parameters
    ----------
    path : str or path-like
    select : callable
        ``select(chunk) -> mask``: ``chunk`` a dict of the chunk's schema columns.
    chunk_rows : int, optional

    Returns
    -------
    cat : HaloCatalog
        The kept rows, validated, with the file's metadata (and their DeltaSigma
        profiles where the file has them).
    rows : ndarray of int64
        Their row numbers in the file.
    """
    path = os.fspath(path)
    meta = catalog_header(path)
    meta.pop("n_halos")
    with_ds = "delta_sigma_rp_edges" in meta
    parts, rows = {}, []
    for start, chunk in iter_catalog_chunks(path, ARRAY_COLUMNS, chunk_rows, delta_sigma=with_ds):
        keep = np.asarray(select(chunk), dtype=bool)
        for c, a in chunk.items():
            parts.setdefault(c, []).append(a[keep])
        rows.append(start + np.flatnonzero(keep))
    arrays = {}
    for c in list(parts):  # one column at a time, its parts freed as it is joined: a peak of one extra column
        arrays[c] = np.concatenate(parts.pop(c))
    if not arrays or arrays["x"].size == 0:
        raise CatalogError(f"{path}: no row of the catalog was selected")
    return validate_catalog(HaloCatalog(**arrays, **meta), origin=path), np.concatenate(rows)
