"""The one halo-catalog data model every reader returns and every statistic consumes.

A catalog is a periodic box of side ``lbox`` [Mpc/h] holding hosts and subhalos:

=============  ================  =====================================================
column         dtype             meaning
=============  ================  =====================================================
x, y, z        float64           comoving position in [0, lbox) [Mpc/h]
vx, vy, vz     float64           peculiar velocity [km/s]
logmpeak       float64           log10 of the peak mass over the history [Msun/h]
halo_id        int64             unique id
upid           int64             -1 for hosts; the id of the top-level host for subhalos
host_id        int64             halo_id for hosts, upid for subhalos
=============  ================  =====================================================

Metadata: ``redshift``, ``cosmology`` (a dict of floats: Om0, Ob0, h, ns, sigma8 where
known), ``source`` (a free-text provenance string). Optionally, per-halo lensing
profiles: ``delta_sigma`` of shape (n_halos, n_rp) [h Msun/pc^2] in projected radial
bins ``delta_sigma_rp_edges`` of shape (n_rp + 1, ) [Mpc/h], with a ``delta_sigma_method``
string saying how they were computed.
"""
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ("CatalogError", "HaloCatalog", "validate_catalog", "catalog_from_columns", "apply_mass_cut", "POSITION_COLUMNS",
           "VELOCITY_COLUMNS", "ARRAY_COLUMNS")

POSITION_COLUMNS = ("x", "y", "z")
VELOCITY_COLUMNS = ("vx", "vy", "vz")
FLOAT_COLUMNS = POSITION_COLUMNS + VELOCITY_COLUMNS + ("logmpeak",)
INT_COLUMNS = ("halo_id", "upid", "host_id")
ARRAY_COLUMNS = FLOAT_COLUMNS + INT_COLUMNS
# log10 Mpeak [Msun/h] of any (sub)halo a simulation resolves and a galaxy lives in
LOGMPEAK_PLAUSIBLE = (6.0, 17.0)


class CatalogError(ValueError):
    """A halo catalog (or the file it came from) is not usable; the message says why."""


@dataclass(frozen=True, eq=False)
class HaloCatalog:
    """Hosts and subhalos in a periodic box (see the module docstring for the schema).

    Build one with the readers (``read_catalog``, ``read_halotools_cache``,
    ``read_hlist``), ``make_synthetic_catalog``, or directly from arrays followed by
    ``validate_catalog``.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    logmpeak: np.ndarray
    halo_id: np.ndarray
    upid: np.ndarray
    host_id: np.ndarray
    lbox: float
    redshift: float = 0.0
    cosmology: dict = field(default_factory=dict)
    source: str = ""
    delta_sigma: np.ndarray | None = None
    delta_sigma_rp_edges: np.ndarray | None = None
    delta_sigma_method: str = ""

    @property
    def n_halos(self):
        return self.logmpeak.shape[0]

    @property
    def volume(self):
        """Comoving volume of the box [(Mpc/h)^3]."""
        return self.lbox**3

    @property
    def positions(self):
        """ndarray of shape (n_halos, 3) [Mpc/h]."""
        return np.stack([self.x, self.y, self.z], axis=1)

    @property
    def velocities(self):
        """ndarray of shape (n_halos, 3) [km/s]."""
        return np.stack([self.vx, self.vy, self.vz], axis=1)

    @property
    def is_host(self):
        return self.upid == -1

    def with_delta_sigma(self, delta_sigma, rp_edges, method):
        """A copy carrying per-halo DeltaSigma profiles (validated)."""
        return validate_catalog(replace(self, delta_sigma=np.asarray(delta_sigma, dtype=float),
                                        delta_sigma_rp_edges=np.asarray(rp_edges, dtype=float),
                                        delta_sigma_method=str(method)))

    def summary(self):
        """A dict of the numbers a user checks first."""
        n_host = int(np.sum(self.is_host))
        return dict(
            source=self.source, lbox=float(self.lbox), redshift=float(self.redshift),
            n_halos=int(self.n_halos), n_hosts=n_host, n_subhalos=int(self.n_halos - n_host),
            subhalo_fraction=float(1.0 - n_host / max(self.n_halos, 1)),
            logmpeak_min=float(np.min(self.logmpeak)) if self.n_halos else float("nan"),
            logmpeak_max=float(np.max(self.logmpeak)) if self.n_halos else float("nan"),
            number_density=float(self.n_halos / self.volume),
            has_delta_sigma=self.delta_sigma is not None,
            cosmology=dict(self.cosmology),
        )


def validate_catalog(cat, origin=None):
    """Check a HaloCatalog against the schema; return it with canonical dtypes.

    Parameters
    ----------
    cat : HaloCatalog
    origin : str, optional
        Where the data came from (a file name), quoted in the error messages.

    Returns
    -------
    cat : HaloCatalog
        float64 and int64 arrays, ``host_id`` consistent with ``upid``.

    Raises
    ------
    CatalogError
        Naming the column and the problem: no halos, lengths that differ, NaN or
        infinite values, log Mpeak outside [6, 17] (linear masses?), positions outside
        [0, lbox), duplicate halo ids, a bad box size, inconsistent host ids,
        malformed DeltaSigma profiles.
    """
    where = f"{origin}: " if origin else ""
    if not (np.isscalar(cat.lbox) and np.isfinite(cat.lbox) and cat.lbox > 0):
        raise CatalogError(f"{where}box size lbox must be a positive number, got {cat.lbox!r}")
    if not np.isfinite(cat.redshift) or cat.redshift < 0:
        raise CatalogError(f"{where}redshift must be a finite number >= 0, got {cat.redshift!r}")
    arrays = {}
    n = None
    for name in ARRAY_COLUMNS:
        a = np.asarray(getattr(cat, name))
        if a.ndim != 1:
            raise CatalogError(f"{where}column {name!r} must be 1-d, got shape {a.shape}")
        if n is None:
            n = a.shape[0]
        elif a.shape[0] != n:
            raise CatalogError(f"{where}column {name!r} has {a.shape[0]} rows, column 'x' has {n}")
        if name in FLOAT_COLUMNS:
            a = a.astype(np.float64, copy=False)
            bad = ~np.isfinite(a)
            if np.any(bad):
                raise CatalogError(f"{where}column {name!r} has {int(bad.sum())} NaN or infinite values "
                                   f"(first at row {int(np.argmax(bad))})")
        else:
            if not np.issubdtype(a.dtype, np.integer):
                if np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                    a = a.astype(np.int64)
                else:
                    raise CatalogError(f"{where}column {name!r} must hold integers, got dtype {a.dtype}")
            a = a.astype(np.int64, copy=False)
        arrays[name] = a
    if n == 0:
        raise CatalogError(f"{where}the catalog holds no halos")
    lm = arrays["logmpeak"]
    implausible = (lm < LOGMPEAK_PLAUSIBLE[0]) | (lm > LOGMPEAK_PLAUSIBLE[1])
    if np.any(implausible):
        raise CatalogError(f"{where}column 'logmpeak' has {int(implausible.sum())} values outside the plausible range "
                           f"[{LOGMPEAK_PLAUSIBLE[0]:g}, {LOGMPEAK_PLAUSIBLE[1]:g}] (min {lm.min():.4g}, max "
                           f"{lm.max():.4g}): it must hold log10 Mpeak in Msun/h. Values like 1e12 are linear "
                           "masses (take log10 first); values near 0-5 suggest masses in units of 1e10 Msun/h or "
                           "a log column passed through log10 twice")
    for name in POSITION_COLUMNS:
        a = arrays[name]
        outside = (a < 0) | (a >= cat.lbox)
        if np.any(outside):
            i = int(np.argmax(outside))
            raise CatalogError(f"{where}{int(outside.sum())} positions in column {name!r} lie outside "
                               f"[0, lbox={cat.lbox:g}) (first: row {i}, value {a[i]:g}); wrap them "
                               f"with `% lbox` if the box is periodic, or check the box size")
    ids = arrays["halo_id"]
    if np.unique(ids).size != ids.size:
        uniq, counts = np.unique(ids, return_counts=True)
        raise CatalogError(f"{where}column 'halo_id' has duplicate ids, e.g. {int(uniq[np.argmax(counts)])}"
                           f" ({int(np.sum(counts > 1))} ids repeated)")
    expected_host = np.where(arrays["upid"] == -1, ids, arrays["upid"])
    if np.any(arrays["host_id"] != expected_host):
        i = int(np.argmax(arrays["host_id"] != expected_host))
        raise CatalogError(f"{where}column 'host_id' disagrees with 'upid' at row {i}: host_id must be "
                           "halo_id for hosts (upid = -1) and upid for subhalos")
    ds, edges = cat.delta_sigma, cat.delta_sigma_rp_edges
    if (ds is None) != (edges is None):
        raise CatalogError(f"{where}delta_sigma and delta_sigma_rp_edges must be given together")
    if ds is not None:
        ds = np.asarray(ds, dtype=np.float64)
        edges = np.asarray(edges, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(edges <= 0) or np.any(np.diff(edges) <= 0):
            raise CatalogError(f"{where}delta_sigma_rp_edges must be positive and strictly increasing")
        if ds.shape != (n, edges.size - 1):
            raise CatalogError(f"{where}delta_sigma has shape {ds.shape}, expected (n_halos={n}, "
                               f"n_rp={edges.size - 1})")
        if not np.all(np.isfinite(ds)):
            raise CatalogError(f"{where}delta_sigma has {int(np.sum(~np.isfinite(ds)))} NaN or infinite values")
    cosmology = {str(k): float(v) for k, v in dict(cat.cosmology).items()}
    return replace(cat, **arrays, lbox=float(cat.lbox), redshift=float(cat.redshift), cosmology=cosmology,
                   source=str(cat.source), delta_sigma=ds, delta_sigma_rp_edges=edges)


def catalog_from_columns(columns, lbox, origin, redshift=0.0, cosmology=None, source=None, wrap=False):
    """Build a validated HaloCatalog from raw columns as simulation files hold them.

    Parameters
    ----------
    columns : dict of ndarray
        ``x, y, z, vx, vy, vz, halo_id, upid`` and ``mpeak`` [Msun/h] (linear).
    lbox : float
        Box side [Mpc/h].
    origin : str
        The file name, quoted in error messages.
    wrap : bool, optional
        Map positions into [0, lbox) with a modulo first (some finders write x = lbox).
        Off by default: a position outside the box usually means a wrong box size.

    Raises
    ------
    CatalogError
        Missing columns, non-positive or non-finite masses, or anything
        ``validate_catalog`` rejects.
    """
    needed = POSITION_COLUMNS + VELOCITY_COLUMNS + ("halo_id", "upid", "mpeak")
    missing = [c for c in needed if c not in columns]
    if missing:
        raise CatalogError(f"{origin}: missing columns {missing}")
    mpeak = np.asarray(columns["mpeak"], dtype=np.float64)
    bad = ~(np.isfinite(mpeak) & (mpeak > 0))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise CatalogError(f"{origin}: {int(bad.sum())} masses in column 'mpeak' are not positive and finite "
                           f"(first: row {i}, value {mpeak[i]!r}); cut them explicitly before building a catalog")
    pos = {c: np.asarray(columns[c], dtype=np.float64) for c in POSITION_COLUMNS}
    if wrap:
        pos = {c: np.mod(a, lbox) for c, a in pos.items()}
    upid = np.asarray(columns["upid"])
    halo_id = np.asarray(columns["halo_id"])
    cat = HaloCatalog(**pos, **{c: columns[c] for c in VELOCITY_COLUMNS}, logmpeak=np.log10(mpeak),
                      halo_id=halo_id, upid=upid, host_id=np.where(upid == -1, halo_id, upid),
                      lbox=lbox, redshift=redshift, cosmology=cosmology or {}, source=source or origin)
    return validate_catalog(cat, origin=origin)


def apply_mass_cut(cat, logmpeak_min):
    """Keep the halos with log Mpeak >= ``logmpeak_min`` (the only way rows are dropped)."""
    keep = cat.logmpeak >= logmpeak_min
    if not np.any(keep):
        raise CatalogError(f"{cat.source}: no halo has log Mpeak >= {logmpeak_min:g} (max {cat.logmpeak.max():.3f})")
    arrays = {name: getattr(cat, name)[keep] for name in ARRAY_COLUMNS}
    ds = None if cat.delta_sigma is None else cat.delta_sigma[keep]
    note = f"{cat.source} [log Mpeak >= {logmpeak_min:g}]"
    return replace(cat, **arrays, delta_sigma=ds, source=note)
