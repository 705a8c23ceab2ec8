"""Bernardi et al. 2013 (MNRAS 436, 697): the SDSS DR7 stellar mass function from
Sersic+Exponential photometry.

Convention: h = 0.7 (H0 = 70, Om = 0.3), Chabrier IMF; bin centres of log M* [Msun] in
0.1-dex bins, log10 phi [Mpc^-3 dex^-1] with a symmetric error in dex. Converted on load
to h = 1: log M* + 2 log10(0.7) (-0.310 dex), phi / 0.7^3; the error becomes
phi ln(10) sigma_dex (linearised); the covariance is diagonal.
"""
import os

import numpy as np

from .table import SurveyDataError, SurveyVector, default_data_dir, read_csv
from .units import density_to_h1, log_mstar_to_h1

__all__ = ("load_bernardi2013_smf", "BERNARDI2013_H")

BERNARDI2013_H = 0.7
_TABLE = "smf_sdss_bernardi2013_serexp.csv"
_COLUMNS = ("logM_center", "log10_phi", "log10_phi_err")
_WIDTH = 0.1


def load_bernardi2013_smf(data_dir=None, *, sm_range=(-np.inf, np.inf)):
    """The SMF in h = 1 units, in the (converted) bins wholly inside ``sm_range``.

    Returns
    -------
    SurveyVector
        rows (n, 3) of ``sm_lo sm_hi phi`` [Msun/h^2, h^3 Mpc^-3 dex^-1].
    """
    path = os.path.join(data_dir or default_data_dir(), _TABLE)
    t = read_csv(path, _COLUMNS)
    centre = log_mstar_to_h1(t["logM_center"], BERNARDI2013_H)
    lo, hi = centre - _WIDTH / 2, centre + _WIDTH / 2
    keep = (lo >= sm_range[0] - 1e-9) & (hi <= sm_range[1] + 1e-9)
    if not np.any(keep):
        raise SurveyDataError(f"{path}: no bins inside {tuple(sm_range)} (in h = 1 units the table covers "
                              f"[{lo.min():.3f}, {hi.max():.3f}])")
    phi = density_to_h1(10.0 ** t["log10_phi"][keep], BERNARDI2013_H)
    err = phi * np.log(10.0) * t["log10_phi_err"][keep]
    return SurveyVector("smf", np.column_stack([lo[keep], hi[keep], phi]), np.diag(err**2),
                        source=f"Bernardi et al. 2013, MNRAS 436, 697, Sersic+Exp ({_TABLE})",
                        convention="published for h = 0.7 (M* Msun, phi Mpc^-3 dex^-1, Chabrier IMF); converted: "
                                   "log M* + 2 log10(0.7), phi / 0.7^3, error phi ln10 sigma_dex; diagonal")
