"""The halo abundance SHAM is solved for: the model SHMF, or the catalog's own.

The SMF predicted from a catalog equals the target SMF only if SHAM was solved for the
catalog's own abundance of (sub)halos (DESIGN.md). For a catalog drawn from the model
SHMF the two agree; for a real simulation they differ by ~0.1 dex or more, and with the
model SHMF the fitted "SMF parameters" would absorb the difference.
"""
import numpy as np

from ..sham.shmf import DEFAULT_HALO_GRID, DEFAULT_LOGMH_EDGES, halo_grid_from_catalog, log_ncum_bpl

__all__ = ("catalog_halo_grid", "resolve_abundance", "abundance_agrees_with_model", "halo_grid_for")

# log Mpeak range above the catalog's lightest object from which its abundance is
# extended below it (a power law in dn/dlogM fitted there)
_EXTEND_FIT_DEX = 0.5


def catalog_halo_grid(cat):
    """The catalog's (sub)halo mass function on the model's 0.01-dex cells.

    Below the catalog's lightest object the abundance is extended by a power law fitted
    to the catalog's own over the next 0.5 dex: the solver then sees a complete
    population (the SMF at low stellar mass, made by halos the catalog does not hold,
    does not distort the SMHM of the halos it does), and galaxies of the catalog come
    only from its own halos.

    Returns
    -------
    grid : HaloGrid (NumPy arrays)
    """
    grid = halo_grid_from_catalog(cat.logmpeak, cat.volume, DEFAULT_LOGMH_EDGES)
    dn = np.array(grid.dn, dtype=float)
    logmh = np.asarray(grid.logmh)
    half = 0.5 * (DEFAULT_LOGMH_EDGES[1] - DEFAULT_LOGMH_EDGES[0])
    cut = float(np.min(cat.logmpeak))
    first_full = logmh - half >= cut
    fit = first_full & (logmh - half < cut + _EXTEND_FIT_DEX) & (dn > 0)
    if np.sum(fit) < 5:
        raise ValueError(f"catalog ({cat.source}): too few halos within {_EXTEND_FIT_DEX} dex of its lightest "
                         f"(log Mpeak {cut:.2f}) to measure its abundance there")
    slope, icpt = np.polyfit(logmh[fit], np.log10(dn[fit]), 1)
    below = ~first_full
    dn[below] = 10.0 ** (icpt + slope * logmh[below])
    return grid._replace(dn=dn)


def abundance_agrees_with_model(cat, rtol=0.05):
    """Whether the catalog's n(>Mpeak) equals the model SHMF's, every 0.25 dex from its
    lightest object up to where 100 objects remain, within max(rtol, 3 Poisson sigma)."""
    logm = np.sort(cat.logmpeak)
    out = []
    for m in np.arange(logm[0] + 0.05, 16.5, 0.25):
        n_cat = logm.size - np.searchsorted(logm, m)
        n_model = 10.0 ** float(log_ncum_bpl(m, cat.redshift)) * cat.volume
        if n_model < 100:
            break
        out.append(abs(n_cat / n_model - 1.0) <= max(rtol, 3.0 / np.sqrt(n_model)))
    return bool(out) and all(out)


def resolve_abundance(cat, abundance):
    """"auto" -> "model" for a synthetic catalog drawn from the model SHMF whose
    abundance agrees with it (``abundance_agrees_with_model``), "catalog" otherwise."""
    if abundance != "auto":
        return abundance
    drawn_from_model = str(cat.source).startswith("diffsham synthetic")
    return "model" if drawn_from_model and abundance_agrees_with_model(cat) else "catalog"


def halo_grid_for(cat, abundance):
    """The HaloGrid of an abundance setting ("model" or "catalog")."""
    return DEFAULT_HALO_GRID if abundance == "model" else catalog_halo_grid(cat)
