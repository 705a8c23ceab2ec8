"""Yang et al. 2012 (ApJ 752, 41): SDSS DR7 wp(rp) in stellar-mass bins.

Convention: already h = 1 (log M* in Msun/h^2, rp and wp in Mpc/h); nothing is
converted. The covariance is given normalised: Cov_ij = wp_i wp_j M_ij. Bins of 0.5 dex
from 9.0 to 11.5, 14 rp points from 0.12 to 47.7 Mpc/h (0.2 dex apart), pi_max = 40
Mpc/h in the paper. Stellar-mass bins are independent samples: their covariance is
block diagonal.

Three sample definitions per bin are in the files: Volume1, Volume2, Mass-limit. The
default is Mass-limit: SHAM predicts every galaxy in a stellar-mass bin, and the
mass-limited sample is the one meant to be complete in stellar mass. Volume1 and
Volume2 are volume-limited samples (their labels follow the compilation the files came
from; see ../shared/data/README.md).

Measured on these files: the published normalised covariances (4 digits) are not all
positive definite. Smallest eigenvalue of the correlation matrix: Mass-limit -0.011
(10.0-10.5) and -0.0008 (10.5-11.0); Volume1 -0.0002 and -0.0006 in the same bins (both
positive once the 47.7 Mpc/h point is cut); every Volume2 bin positive (>= 0.004). A
spec using an indefinite one is refused with the eigenvalue; nothing here repairs it.
"""
import os

import numpy as np

from .table import SurveyDataError, SurveyVector, choose_bins, default_data_dir, read_csv, read_matrix

__all__ = ("load_yang2012_wp", "YANG2012_SAMPLES", "YANG2012_PI_MAX")

YANG2012_SAMPLES = ("Mass-limit", "Volume1", "Volume2")
YANG2012_PI_MAX = 40.0
_TABLE = "wp_sdss_yang2012_mstar_bins.csv"
_COLUMNS = ("sample", "logMstar_lo", "logMstar_hi", "rp", "wp", "wp_err")


def _covariance_file(sample, lo, hi):
    return f"wp_sdss_yang2012_{sample}_logM{lo:.1f}-{hi:.1f}_normcov.txt"


def load_yang2012_wp(data_dir=None, *, sample="Mass-limit", sm_bins=None):
    """wp(rp) of the chosen sample in the chosen stellar-mass bins.

    Parameters
    ----------
    data_dir : str, optional
        Folder of the published tables (default: ``default_data_dir()``).
    sample : {"Mass-limit", "Volume1", "Volume2"}
    sm_bins : sequence of (lo, hi), optional
        Bins to keep (default: all five).

    Returns
    -------
    SurveyVector
        rows (n_bins * 14, 4) of ``sm_lo sm_hi rp wp``; a block-diagonal covariance.
    """
    if sample not in YANG2012_SAMPLES:
        raise ValueError(f"Yang et al. 2012: unknown sample {sample!r}; choose from {YANG2012_SAMPLES}")
    folder = data_dir or default_data_dir()
    path = os.path.join(folder, _TABLE)
    t = read_csv(path, _COLUMNS)
    mine = t["sample"] == sample
    edges = choose_bins(path, t["logMstar_lo"][mine], t["logMstar_hi"][mine], sm_bins, f"{sample} bins")
    rows, blocks = [], []
    for lo, hi in edges:
        sel = mine & np.isclose(t["logMstar_lo"], lo) & np.isclose(t["logMstar_hi"], hi)
        rp, wp = t["rp"][sel], t["wp"][sel]
        norm = read_matrix(os.path.join(folder, _covariance_file(sample, lo, hi)), rp.size)
        cov = np.outer(wp, wp) * norm
        if not np.allclose(cov, cov.T, rtol=1e-6, atol=0):
            raise SurveyDataError(f"{_covariance_file(sample, lo, hi)}: the normalised covariance is not symmetric")
        rows.append(np.column_stack([np.full(rp.size, lo), np.full(rp.size, hi), rp, wp]))
        blocks.append(cov)
    n = sum(b.shape[0] for b in blocks)
    covariance, start = np.zeros((n, n)), 0
    for b in blocks:
        covariance[start:start + b.shape[0], start:start + b.shape[0]] = b
        start += b.shape[0]
    return SurveyVector("wp", np.concatenate(rows), covariance,
                        source=f"Yang et al. 2012, ApJ 752, 41, sample {sample} ({_TABLE} and its *_normcov.txt)",
                        convention=f"h = 1 as published (M* Msun/h^2, rp and wp Mpc/h), pi_max = "
                                   f"{YANG2012_PI_MAX:g} Mpc/h; Cov_ij = wp_i wp_j M_ij; nothing converted")
