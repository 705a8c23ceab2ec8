"""The halo abundance SHAM is solved for: the model SHMF, or the catalog's own.

The SMF predicted from a catalog equals the target SMF only if SHAM was solved for the
catalog's own abundance of (sub)halos (DESIGN.md). For a catalog drawn from the model
SHMF the two agree; for a real simulation they differ by ~0.1 dex or more, and with the
model SHMF the fitted "SMF parameters" would absorb the difference.
"""
from typing import NamedTuple

import numpy as np

from ..sham.shmf import DEFAULT_HALO_GRID, DEFAULT_LOGMH_EDGES, HaloGrid, log_ncum_bpl

__all__ = ("MassSummary", "mass_summary", "catalog_halo_grid", "resolve_abundance", "abundance_agrees_with_model",
           "halo_grid_for")

# log Mpeak range above the catalog's lightest object from which its abundance is
# extended below it (a power law in dn/dlogM fitted there)
_EXTEND_FIT_DEX = 0.5


class MassSummary(NamedTuple):
    """All that the abundance rules read of a catalog: its log Mpeak distribution.

    A catalog too large for one process is summarised chunk by chunk
    (``diffsham.distributed.stream_mass_summary``); ``mass_summary`` does it in memory.

    Attributes
    ----------
    logm_min, logm_max : float
        The lightest and heaviest (sub)halo [log Msun/h].
    counts : ndarray of shape (n_cells, )
        Halos in each cell of ``DEFAULT_LOGMH_EDGES``.
    n_above : ndarray
        Halos with log Mpeak >= each of ``check_masses(logm_min)``.
    n_halos : int
    volume, redshift : float
    source : str
    """

    logm_min: float
    logm_max: float
    counts: np.ndarray
    n_above: np.ndarray
    n_halos: int
    volume: float
    redshift: float
    source: str


def check_masses(logm_min):
    """The log Mpeak at which ``abundance_agrees_with_model`` compares n(>Mpeak)."""
    return np.arange(logm_min + 0.05, 16.5, 0.25)


def mass_summary(cat):
    """The MassSummary of a HaloCatalog."""
    logm = np.sort(cat.logmpeak)
    return MassSummary(float(logm[0]), float(logm[-1]), np.histogram(logm, bins=DEFAULT_LOGMH_EDGES)[0],
                       logm.size - np.searchsorted(logm, check_masses(logm[0])), int(logm.size), float(cat.volume),
                       float(cat.redshift), str(cat.source))


def _summary(cat):
    return cat if isinstance(cat, MassSummary) else mass_summary(cat)


def catalog_halo_grid(cat):
    """The catalog's (sub)halo mass function on the model's 0.01-dex cells.

    Below the catalog's lightest object the abundance is extended by a power law fitted
    to the catalog's own over the next 0.5 dex: the solver then sees a complete
    population (the SMF at low stellar mass, made by halos the catalog does not hold,
    does not distort the SMHM of the halos it does), and galaxies of the catalog come
    only from its own halos.

    Parameters
    ----------
    cat : HaloCatalog or MassSummary

    Returns
    -------
    grid : HaloGrid (NumPy arrays)
    """
    m = _summary(cat)
    logmh = 0.5 * (DEFAULT_LOGMH_EDGES[1:] + DEFAULT_LOGMH_EDGES[:-1])
    dn = m.counts / m.volume
    half = 0.5 * (DEFAULT_LOGMH_EDGES[1] - DEFAULT_LOGMH_EDGES[0])
    first_full = logmh - half >= m.logm_min
    fit = first_full & (logmh - half < m.logm_min + _EXTEND_FIT_DEX) & (dn > 0)
    if np.sum(fit) < 5:
        raise ValueError(f"catalog ({m.source}): too few halos within {_EXTEND_FIT_DEX} dex of its lightest "
                         f"(log Mpeak {m.logm_min:.2f}) to measure its abundance there")
    slope, icpt = np.polyfit(logmh[fit], np.log10(dn[fit]), 1)
    below = ~first_full
    dn[below] = 10.0 ** (icpt + slope * logmh[below])
    return HaloGrid(logmh, dn)


def abundance_agrees_with_model(cat, rtol=0.05):
    """Whether the catalog's n(>Mpeak) equals the model SHMF's, every 0.25 dex from its
    lightest object up to where 100 objects remain, within max(rtol, 3 Poisson sigma)."""
    m = _summary(cat)
    out = []
    for mass, n_cat in zip(check_masses(m.logm_min), m.n_above):
        n_model = 10.0 ** float(log_ncum_bpl(mass, m.redshift)) * m.volume
        if n_model < 100:
            break
        out.append(abs(n_cat / n_model - 1.0) <= max(rtol, 3.0 / np.sqrt(n_model)))
    return bool(out) and all(out)


def resolve_abundance(cat, abundance):
    """"auto" -> "model" for a synthetic catalog drawn from the model SHMF whose
    abundance agrees with it (``abundance_agrees_with_model``), "catalog" otherwise.
    ``cat``: a HaloCatalog or its MassSummary."""
    if abundance != "auto":
        return abundance
    m = _summary(cat)
    drawn_from_model = m.source.startswith("diffsham synthetic")
    return "model" if drawn_from_model and abundance_agrees_with_model(m) else "catalog"


def halo_grid_for(cat, abundance):
    """The HaloGrid of an abundance setting ("model" or "catalog")."""
    return DEFAULT_HALO_GRID if abundance == "model" else catalog_halo_grid(cat)
