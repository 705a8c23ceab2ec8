"""Mandelbaum et al. 2016 (MNRAS 457, 3200): DeltaSigma(R) around SDSS locally brightest
galaxies (mostly centrals), in stellar-mass bins, red and blue apart.

Convention: R [Mpc/h, comoving] and DeltaSigma [h Msun/pc^2, comoving] are h = 1 already.
The stellar-mass bin edges are log10(M*/Msun) as in the paper. The loader takes
``mstar_h``, the h those masses assume, and converts the edges by + 2 log10(mstar_h)
(``mstar_h = 1`` leaves them as they are); there is no default, so every spec states it.

The SDSS specs use ``mstar_h = 0.7``: physical masses for h ~ 0.7. What decides it is
whether the masses are physical or in Msun/h^2 (0.31 dex apart); among physical
conventions (h = 0.67-0.73) the edges move by 0.03 dex at most, a tenth of the narrowest
bin. Evidence that they are physical: the abstract quotes the range as
10.3 < log[M*/Msun] < 11.6, in Msun with no h; and DESCQA's DeltaSigmaTest, the source of
our copy, cuts the cosmoDC2 catalog's physical stellar masses (h = 0.71) at these edges
unconverted. The paper's own statement of its cosmology was not in the stored pages: if
it turns out to give the masses in Msun/h^2, use ``mstar_h = 1``.

Red and blue lenses of one bin are combined at each R by inverse-variance weighting
(where a bin has only red lenses, those). The published errors are diagonal only, so
the covariance is diagonal: neighbouring R bins, which share sources, are treated as
independent, which overstates the information of the profile's shape.
"""
import os

import numpy as np

from .table import SurveyDataError, SurveyVector, choose_bins, default_data_dir, read_csv
from .units import log_mstar_to_h1

__all__ = ("load_mandelbaum2016_delta_sigma",)

_TABLE = "deltasigma_sdss_mandelbaum2016_lbg_mstar_bins.csv"
_COLUMNS = ("color", "logMstar_lo", "logMstar_hi", "R", "DeltaSigma", "DeltaSigma_err")


def load_mandelbaum2016_delta_sigma(data_dir=None, *, mstar_h, sm_bins=None, colors=("red", "blue")):
    """DeltaSigma of the chosen bins (paper's edges), red and blue combined.

    Parameters
    ----------
    data_dir : str, optional
    mstar_h : float
        The h the paper's stellar masses assume (see the module docstring).
    sm_bins : sequence of (lo, hi), optional
        In the paper's edges, before conversion (default: all).
    colors : tuple of str
        Which lens colours to combine.

    Returns
    -------
    SurveyVector
        rows (n, 4) of ``sm_lo sm_hi R DeltaSigma`` with edges in Msun/h^2; diagonal covariance.
    """
    if not (isinstance(mstar_h, (int, float)) and 0 < mstar_h <= 1.5):
        raise ValueError(f"Mandelbaum et al. 2016: mstar_h must be a number in (0, 1.5], got {mstar_h!r}")
    path = os.path.join(data_dir or default_data_dir(), _TABLE)
    t = read_csv(path, _COLUMNS)
    unknown = sorted(set(colors) - set(t["color"].tolist()))
    if unknown:
        raise SurveyDataError(f"{path}: no lenses of colour {unknown}; colours are {sorted(set(t['color']))}")
    edges = choose_bins(path, t["logMstar_lo"], t["logMstar_hi"], sm_bins)
    rows, var = [], []
    for lo, hi in edges:
        in_bin = np.isclose(t["logMstar_lo"], lo) & np.isclose(t["logMstar_hi"], hi) & np.isin(t["color"], colors)
        for r in np.unique(t["R"][in_bin]):
            sel = in_bin & np.isclose(t["R"], r)
            w = 1.0 / t["DeltaSigma_err"][sel] ** 2
            rows.append((lo, hi, r, float(np.sum(w * t["DeltaSigma"][sel]) / np.sum(w))))
            var.append(float(1.0 / np.sum(w)))
    rows = np.asarray(rows)
    rows[:, :2] = log_mstar_to_h1(rows[:, :2], mstar_h)
    return SurveyVector("delta_sigma", rows, np.diag(var),
                        source=f"Mandelbaum et al. 2016, MNRAS 457, 3200 ({_TABLE}), lenses {'+'.join(colors)}",
                        convention=f"R Mpc/h and DeltaSigma h Msun/pc^2 comoving as published; M* edges converted "
                                   f"with the stated mstar_h = {mstar_h:g} (+{2 * np.log10(mstar_h):.3f} dex); red and "
                                   "blue combined by inverse variance; diagonal errors")
