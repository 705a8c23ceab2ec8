"""Published stellar-to-halo mass relations to compare a fit with, in the project's units.

Each returns the median log M* [Msun/h^2] at log halo mass [Msun/h], converted from the
paper's units (masses in Msun for the paper's h) by log M_h += log10 h and
log M* += 2 log10 h. Both papers use a Chabrier (2003) IMF, as Li & White 2009 do, so no
IMF conversion is needed. Their halo masses are not Mpeak: Behroozi et al. use the
virial mass (Bryan & Norman 1998) of the halo, or of a subhalo at its peak; Moster et
al. M200c (200 times the critical density) of the host, or of a subhalo at infall. For
central galaxies these are within ~0.1 dex of Mpeak at z ~ 0.1 (M200c lies below Mvir
by ~0.1 dex at 10^12 Msun/h): read the comparison at that level.

* Behroozi, Wechsler & Conroy 2013 (ApJ 770, 57), eq. 3-4 with the best fit of their
  section 5: h = 0.7, WMAP-like cosmology (Omega_m = 0.27).
* Moster, Naab & White 2013 (MNRAS 428, 3121), eq. 2 and 11-14 with Table 1: h = 0.704
  (WMAP7).
"""
import numpy as np

__all__ = ("behroozi2013_log_mstar", "moster2013_log_mstar", "PUBLISHED_SMHM")

BEHROOZI2013_H = 0.7
MOSTER2013_H = 0.704


def _behroozi_f(x, alpha, delta, gamma):
    # log10(1 + e^x) and 1 / (1 + exp(10^-x)) written to stay finite far below M_1
    log1p_ex = np.logaddexp(0.0, x) / np.log(10.0)
    return -np.log10(10.0 ** (alpha * x) + 1.0) + delta * log1p_ex**gamma * np.exp(-np.logaddexp(0.0, 10.0**-x))


def behroozi2013_log_mstar(logmh, z=0.1):
    """Behroozi et al. 2013 median log M* [Msun/h^2] at log M_vir ``logmh`` [Msun/h].

    Parameters
    ----------
    logmh : array_like
    z : float

    Returns
    -------
    log_mstar : ndarray of the shape of ``logmh``
    """
    a = 1.0 / (1.0 + z)
    nu = np.exp(-4.0 * a * a)
    log_eps = -1.777 + (-0.006 * (a - 1.0)) * nu - 0.119 * (a - 1.0)
    log_m1 = 11.514 + (-1.793 * (a - 1.0) - 0.251 * z) * nu
    alpha = -1.412 + 0.731 * (a - 1.0) * nu
    delta = 3.508 + (2.608 * (a - 1.0) - 0.043 * z) * nu
    gamma = 0.316 + (1.319 * (a - 1.0) + 0.279 * z) * nu
    h = BEHROOZI2013_H
    x = np.asarray(logmh, dtype=float) - np.log10(h) - log_m1  # log (M_h [Msun] / M_1)
    log_mstar = log_eps + log_m1 + _behroozi_f(x, alpha, delta, gamma) - _behroozi_f(0.0, alpha, delta, gamma)
    return log_mstar + 2.0 * np.log10(h)


def moster2013_log_mstar(logmh, z=0.1):
    """Moster et al. 2013 mean log M* [Msun/h^2] at log M200c ``logmh`` [Msun/h]; the
    arguments and result as ``behroozi2013_log_mstar``'s."""
    zz = z / (1.0 + z)
    log_m1 = 11.590 + 1.195 * zz
    norm = 0.0351 - 0.0247 * zz
    beta = 1.376 - 0.826 * zz
    gamma = 0.608 + 0.329 * zz
    h = MOSTER2013_H
    logm = np.asarray(logmh, dtype=float) - np.log10(h)  # [Msun]
    ratio = 10.0 ** (logm - log_m1)
    log_mstar = logm + np.log10(2.0 * norm) - np.log10(ratio**-beta + ratio**gamma)
    return log_mstar + 2.0 * np.log10(h)


# name -> (function, label for plots)
PUBLISHED_SMHM = {
    "behroozi2013": (behroozi2013_log_mstar, "Behroozi et al. 2013 (M_vir, h=0.7 converted)"),
    "moster2013": (moster2013_log_mstar, "Moster et al. 2013 (M_200c, h=0.704 converted)"),
}
