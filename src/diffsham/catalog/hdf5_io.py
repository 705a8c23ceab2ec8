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

from ..cache import atomic_tmp_path
from .schema import ARRAY_COLUMNS, CatalogError, HaloCatalog, validate_catalog

__all__ = ("write_catalog", "read_catalog", "CATALOG_FORMAT")

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
    if not os.path.isfile(path):
        raise CatalogError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != CATALOG_FORMAT:
                raise CatalogError(f"{path}: not a diffsham catalog (attribute format="
                                   f"{f.attrs.get('format')!r}); for halotools caches use "
                                   "read_halotools_cache, for Rockstar ASCII read_hlist")
            if "halos" not in f:
                raise CatalogError(f"{path}: group 'halos' is missing")
            missing = [c for c in ARRAY_COLUMNS if c not in f["halos"]]
            if missing:
                raise CatalogError(f"{path}: missing columns {missing} in group 'halos'")
            arrays = {c: f["halos"][c][...] for c in ARRAY_COLUMNS}
            kwargs = dict(lbox=float(f.attrs["lbox"]), redshift=float(f.attrs["redshift"]),
                          source=str(f.attrs["source"]), cosmology=json.loads(f.attrs["cosmology"]))
            if "delta_sigma" in f:
                d = f["delta_sigma"]
                kwargs.update(delta_sigma=d["profiles"][...], delta_sigma_rp_edges=d["rp_edges"][...],
                              delta_sigma_method=str(d.attrs.get("method", "")))
    except CatalogError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CatalogError(f"{path}: unreadable or truncated HDF5 catalog ({exc})") from exc
    return validate_catalog(HaloCatalog(**arrays, **kwargs), origin=path)
