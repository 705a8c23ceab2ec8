"""Rockstar / Consistent-Trees ``hlist`` ASCII catalogs.

The first header line names the columns, ``#scale(0) id(1) desc_scale(2) ... upid(6) ...
x(17) y(18) z(19) vx(20) vy(21) vz(22) ... Mpeak(60)``; other header lines may give
``#Omega_M = ...; Omega_L = ...; h0 = ...`` and ``#Full box size = 250.000000 Mpc/h``.
Data lines are whitespace-separated numbers. Only the columns the schema needs are read.
"""
import os
import re

import numpy as np

from .schema import CatalogError, catalog_from_columns

__all__ = ("read_hlist",)

# schema name -> hlist column name (compared case-insensitively)
HLIST_COLUMNS = {"halo_id": "id", "upid": "upid", "x": "x", "y": "y", "z": "z",
                 "vx": "vx", "vy": "vy", "vz": "vz", "scale": "scale"}
_NAME = re.compile(r"^([^()]+)(\(\d+\))?$")


def read_hlist(path, lbox=None, mass_column="Mpeak", wrap=False):
    """Read a Rockstar / Consistent-Trees hlist file.

    Parameters
    ----------
    path : str or path-like
    lbox : float, optional
        Box side [Mpc/h]; by default read from the ``#Full box size`` header line.
    mass_column : str, optional
        The column used as Mpeak [Msun/h] (``Mpeak`` by default; ``Mvir`` for a
        catalog without merger history, at your own risk).
    wrap : bool, optional
        Map positions into [0, lbox) first (see ``catalog_from_columns``).

    Returns
    -------
    cat : HaloCatalog

    Raises
    ------
    CatalogError
        Missing file, no column header, missing columns, rows with the wrong number
        of fields (a truncated file), or anything ``catalog_from_columns`` rejects.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CatalogError(f"{path}: no such file")
    names, meta = _read_header(path)
    wanted = dict(HLIST_COLUMNS, mpeak=mass_column)
    lower = [n.lower() for n in names]
    missing = [col for col in wanted.values() if col.lower() not in lower]
    if missing:
        raise CatalogError(f"{path}: missing columns {missing} in the header (found {names[:12]}...)")
    usecols = [lower.index(col.lower()) for col in wanted.values()]
    _check_field_counts(path, len(names))
    try:
        data = np.loadtxt(path, comments="#", usecols=usecols, ndmin=2, dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise CatalogError(f"{path}: malformed or truncated data ({exc})") from exc
    if data.shape[0] == 0:
        raise CatalogError(f"{path}: no data rows")
    if lbox is None:
        if "lbox" not in meta:
            raise CatalogError(f"{path}: no '#Full box size' header line; pass lbox=")
        lbox = meta["lbox"]
    columns = dict(zip(wanted.keys(), data.T))
    for key in ("halo_id", "upid"):
        if np.any(columns[key] != np.round(columns[key])):
            raise CatalogError(f"{path}: column {wanted[key]!r} has non-integer values")
        columns[key] = columns[key].astype(np.int64)
    scale = columns.pop("scale")
    redshift = float(1.0 / np.median(scale) - 1.0)
    cosmology = {k: meta[k] for k in ("Om0", "h") if k in meta}
    return catalog_from_columns(columns, lbox, origin=path, redshift=max(redshift, 0.0), cosmology=cosmology,
                                source=f"hlist:{os.path.basename(path)}", wrap=wrap)


def _read_header(path):
    names, meta = None, {}
    with open(path, "r") as f:
        for line in f:
            if not line.startswith("#"):
                break
            text = line[1:].strip()
            if names is None and "(" in text and "=" not in text:
                names = [_NAME.match(tok).group(1) if _NAME.match(tok) else tok for tok in text.split()]
            m = re.match(r"Full box size\s*=\s*([0-9.eE+-]+)", text)
            if m:
                meta["lbox"] = float(m.group(1))
            for key, name in (("Omega_M", "Om0"), ("h0", "h")):
                m = re.search(rf"{key}\s*=\s*([0-9.eE+-]+)", text)
                if m:
                    meta[name] = float(m.group(1))
    if names is None:
        raise CatalogError(f"{path}: no column header line ('#scale(0) id(1) ...') before the data")
    return names, meta


def _check_field_counts(path, n_fields):
    """Every data row must have as many fields as the header names (a row with more or
    fewer is a corrupt or truncated file; np.loadtxt would read some of them silently)."""
    with open(path, "r") as f:
        for lineno, line in enumerate(f, start=1):
            if line.startswith("#") or not line.strip():
                continue
            n = len(line.split())
            if n != n_fields:
                raise CatalogError(f"{path}: line {lineno} has {n} fields, the header names {n_fields}")
