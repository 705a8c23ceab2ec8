"""Li & White 2009 (MNRAS 398, 2177): the SDSS DR4 stellar mass function at z ~ 0.07.

Convention: already h = 1 (log M* in Msun/h^2, Chabrier IMF; phi in h^3 Mpc^-3 dex^-1),
0.1-dex bins from 8.0 to 11.9; errors are 1 sigma and uncorrelated as published (the
covariance is diagonal). Nothing is converted. Restrict to the range a catalog is
complete for with ``sm_range``.
"""
import os

import numpy as np

from .table import SurveyDataError, SurveyVector, default_data_dir, read_csv

__all__ = ("load_liwhite2009_smf",)

_TABLE = "smf_sdss_liwhite2009.csv"
_COLUMNS = ("logM_lo", "logM_hi", "logM_median", "phi", "phi_err")


def load_liwhite2009_smf(data_dir=None, *, sm_range=(-np.inf, np.inf)):
    """The SMF in the bins lying wholly inside ``sm_range`` = (lo, hi) [log Msun/h^2].

    Returns
    -------
    SurveyVector
        rows (n, 3) of ``sm_lo sm_hi phi``; covariance diag(phi_err^2).
    """
    path = os.path.join(data_dir or default_data_dir(), _TABLE)
    t = read_csv(path, _COLUMNS)
    keep = (t["logM_lo"] >= sm_range[0] - 1e-9) & (t["logM_hi"] <= sm_range[1] + 1e-9)
    if not np.any(keep):
        raise SurveyDataError(f"{path}: no bins inside {tuple(sm_range)}; the table covers "
                              f"[{t['logM_lo'].min():g}, {t['logM_hi'].max():g}]")
    rows = np.column_stack([t["logM_lo"][keep], t["logM_hi"][keep], t["phi"][keep]])
    return SurveyVector("smf", rows, np.diag(t["phi_err"][keep] ** 2),
                        source=f"Li & White 2009, MNRAS 398, 2177 ({_TABLE})",
                        convention="h = 1 as published (M* Msun/h^2, Chabrier IMF; phi h^3 Mpc^-3 dex^-1); "
                                   "diagonal errors; nothing converted")
