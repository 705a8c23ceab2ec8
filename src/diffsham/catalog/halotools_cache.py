"""halotools cached-catalog HDF5 files.

halotools stores a catalog as an astropy table at path ``data`` (an HDF5 compound
dataset with columns ``halo_x``, ``halo_id``, ``halo_upid``, ``halo_mpeak`` ...) and the
metadata as file attributes (``Lbox``, ``redshift``, ``particle_mass``, ``simname``, ...).
It is read here with h5py alone; astropy is not needed.
"""
import os

import h5py
import numpy as np

from .schema import CatalogError, catalog_from_columns

__all__ = ("read_halotools_cache",)

HALOTOOLS_COLUMNS = {"halo_id": "halo_id", "upid": "halo_upid", "x": "halo_x", "y": "halo_y", "z": "halo_z",
                     "vx": "halo_vx", "vy": "halo_vy", "vz": "halo_vz"}


def read_halotools_cache(path, mass_column="halo_mpeak", wrap=False):
    """Read a halotools cached halo catalog.

    Parameters
    ----------
    path : str or path-like
    mass_column : str, optional
        The column used as Mpeak [Msun/h].
    wrap : bool, optional
        Map positions into [0, Lbox) first (see ``catalog_from_columns``).

    Returns
    -------
    cat : HaloCatalog

    Raises
    ------
    CatalogError
        Missing or unreadable file, no ``data`` table, missing columns or ``Lbox``,
        or anything ``catalog_from_columns`` rejects.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CatalogError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise CatalogError(f"{path}: no table at path 'data'; not a halotools cache")
            table = f["data"][...]
            attrs = dict(f.attrs)
    except CatalogError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CatalogError(f"{path}: unreadable or truncated HDF5 file ({exc})") from exc
    if table.dtype.names is None:
        raise CatalogError(f"{path}: 'data' is not a table with named columns")
    wanted = dict(HALOTOOLS_COLUMNS, mpeak=mass_column)
    missing = [col for col in wanted.values() if col not in table.dtype.names]
    if missing:
        raise CatalogError(f"{path}: missing columns {missing} in table 'data'")
    if "Lbox" not in attrs:
        raise CatalogError(f"{path}: file attribute 'Lbox' is missing")
    lbox = np.atleast_1d(np.asarray(attrs["Lbox"], dtype=float))
    if not np.allclose(lbox, lbox[0]):
        raise CatalogError(f"{path}: only cubic boxes are supported, Lbox = {lbox}")
    columns = {key: table[col] for key, col in wanted.items()}
    redshift = float(attrs.get("redshift", 0.0))
    simname = attrs.get("simname", b"")
    simname = simname.decode() if isinstance(simname, bytes) else str(simname)
    return catalog_from_columns(columns, float(lbox[0]), origin=path, redshift=redshift,
                                source=f"halotools:{simname or os.path.basename(path)}", wrap=wrap)
