"""The nonlinear halo clustering the synthetic catalog is built to reproduce.

The target for host halos of large-scale biases b_i, b_j (Tinker et al. 2010) is

    xi_ij(r) = b_i b_j zeta(r) xi_mm^NL(r),

* ``xi_mm^NL``: the nonlinear matter correlation function, the Hankel transform of the
  HMcode-2020 power spectrum (Mead et al. 2021, MNRAS 502, 1401) computed by CAMB
  (Lewis, Challinor & Lasenby 2000), normalised to the cosmology's sigma8;
* ``zeta``: the scale-dependent bias of Tinker et al. (2005, ApJ 631, 41, eq. B7),
  zeta = (1 + 1.17 xi)^1.49 / (1 + 0.69 xi)^2.09 with xi = xi_mm^NL;
* halo exclusion (hosts do not overlap) is not part of this target: the catalog imposes
  it on positions, so below r = R_i + R_j the catalog's xi is -1.

The target is bilinear in the biases at every r, which is what lets the catalog realise
it for a continuum of masses with a few interpolated fields (``diffsham.catalog.lognormal``).
"""
import functools

import numpy as np

from .cosmology import BOLSHOI_PLANCK

__all__ = ("power_nonlinear", "power_linear_camb", "xi_from_power", "xi_nonlinear", "tinker05_zeta",
           "xi_halo_halo", "power_halo_target", "K_MIN", "K_MAX")

K_MIN, K_MAX = 1e-5, 1e3  # [h/Mpc] the range of the tabulated spectra (power laws beyond CAMB's kmax)
_CAMB_KMAX = 60.0  # [h/Mpc] computed by CAMB; extrapolated as a power law above


def _key(cosmology, redshift):
    return tuple(float(cosmology[k]) for k in ("h", "Om0", "Ob0", "sigma8", "ns")) + (float(redshift),)


@functools.lru_cache(maxsize=8)
def _camb_tables(key):
    """(log k, log P_lin, log P_NL) on a log-k grid from CAMB, sigma8 matched to the cosmology."""
    import camb

    h, om0, ob0, sigma8, ns, redshift = key
    ombh2, omch2 = ob0 * h**2, (om0 - ob0) * h**2
    a_s = 2.1e-9
    for attempt in range(2):  # sigma8 scales as sqrt(A_s): one rescaling is exact, the second run checks it
        pars = camb.set_params(H0=100.0 * h, ombh2=ombh2, omch2=omch2, mnu=0.0, omk=0.0, ns=ns, As=a_s,
                               WantTransfer=True, NonLinear=camb.model.NonLinear_pk, halofit_version="mead2020",
                               redshifts=sorted({0.0, redshift, redshift + 0.1}, reverse=True), kmax=_CAMB_KMAX,
                               verbose=False)
        results = camb.get_results(pars)
        s8 = results.get_sigma8_0()
        if attempt == 0:
            a_s *= (sigma8 / s8) ** 2
    if abs(s8 / sigma8 - 1.0) > 1e-4:
        raise RuntimeError(f"CAMB's sigma8 {s8:.5f} does not match the cosmology's {sigma8}")
    logk = np.linspace(np.log(K_MIN), np.log(K_MAX), 4096)
    out = []
    for nonlinear in (False, True):
        interp = results.get_matter_power_interpolator(nonlinear=nonlinear, hubble_units=True, k_hunit=True,
                                                       extrap_kmax=K_MAX * 1.01)
        out.append(np.log(interp.P(redshift, np.exp(logk))))
    return logk, out[0], out[1]


def power_nonlinear(k, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Nonlinear matter power spectrum [(Mpc/h)^3], HMcode-2020 (Mead et al. 2021) via CAMB.

    Parameters
    ----------
    k : ndarray of shape (n, ) [h/Mpc], within [K_MIN, K_MAX]
    redshift : float
    cosmology : dict with Om0, Ob0, h, ns, sigma8 (flat LCDM, massless neutrinos)
    """
    logk, _, lognl = _camb_tables(_key(cosmology, redshift))
    return np.exp(np.interp(np.log(np.asarray(k, dtype=float)), logk, lognl))


def power_linear_camb(k, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Linear matter power spectrum [(Mpc/h)^3] from CAMB (the same run as ``power_nonlinear``).

    Parameters
    ----------
    k : ndarray [h/Mpc], within [K_MIN, K_MAX] (the end values are returned beyond)
    redshift : float
    cosmology : dict with Om0, Ob0, h, ns, sigma8

    Returns
    -------
    pk : ndarray, the shape of k
    """
    logk, loglin, _ = _camb_tables(_key(cosmology, redshift))
    return np.exp(np.interp(np.log(np.asarray(k, dtype=float)), logk, loglin))


def xi_from_power(r, power, k_min=K_MIN, k_max=K_MAX, n_k=4096):
    """xi(r) = 1/(2 pi^2) int k^2 P(k) j0(k r) dk by FFTLog (``scipy.fft.fht``, Hamilton 2000).

    Parameters
    ----------
    r : ndarray [Mpc/h], well inside (1 / k_max, 1 / k_min)
    power : callable, k [h/Mpc] -> P(k) [(Mpc/h)^3]

    Returns
    -------
    xi : ndarray, the shape of r
    """
    from scipy import fft

    logk = np.linspace(np.log(k_min), np.log(k_max), n_k)
    dln = logk[1] - logk[0]
    k = np.exp(logk)
    offset = fft.fhtoffset(dln, mu=0.5, initial=np.log(1.0))
    # j0(x) = sqrt(pi / 2x) J_1/2(x): xi(r) = sqrt(pi/2) / (2 pi^2) r^-1/2 int k^3/2 P J_1/2(k r) dk,
    # and fht returns r times that integral
    transform = fft.fht(k**1.5 * power(k), dln, mu=0.5, offset=offset)
    k_centre = np.exp(0.5 * (logk[0] + logk[-1]))
    r_grid = np.exp(offset) / k_centre * np.exp((np.arange(n_k) - 0.5 * (n_k - 1)) * dln)
    xi_grid = np.sqrt(0.5 * np.pi) / (2.0 * np.pi**2) * transform / r_grid**1.5
    return np.interp(np.log(np.asarray(r, dtype=float)), np.log(r_grid), xi_grid)


def xi_nonlinear(r, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Nonlinear matter correlation function xi_mm^NL(r) from the HMcode-2020 spectrum.

    Parameters
    ----------
    r : ndarray [Mpc/h], within (1e-3, 1e5); outside, the nearest tabulated value is returned
    redshift : float
    cosmology : dict

    Returns
    -------
    xi : ndarray, the shape of r
    """
    return xi_from_power(r, lambda k: power_nonlinear(k, redshift, cosmology))


def tinker05_zeta(xi_nl):
    """Scale-dependent halo bias zeta(r) of Tinker et al. (2005, ApJ 631, 41, eq. B7).

    b^2(M, r) = b^2(M) zeta(r), zeta = (1 + 1.17 xi)^1.49 / (1 + 0.69 xi)^2.09, with xi
    the nonlinear matter correlation function at r. zeta -> 1 on large scales.
    """
    xi = np.asarray(xi_nl, dtype=float)  # any shape; zeta has the same
    return (1.0 + 1.17 * xi) ** 1.49 / (1.0 + 0.69 * xi) ** 2.09


def xi_halo_halo(r, bias_i, bias_j, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """The host-host correlation the catalog targets, b_i b_j zeta(r) xi_mm^NL(r) (no exclusion).

    Parameters
    ----------
    r : ndarray of shape (n_r, ) [Mpc/h]
    bias_i, bias_j : float or ndarray of the same shape (n_pairs, )

    Returns
    -------
    xi : ndarray of shape ``np.shape(bias_i * bias_j) + (n_r, )``
    """
    xi = xi_nonlinear(r, redshift, cosmology)
    return np.multiply.outer(np.asarray(bias_i) * np.asarray(bias_j), tinker05_zeta(xi) * xi)


def power_halo_target(k, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """The spectrum of X(r) = zeta(r) xi_mm^NL(r) [(Mpc/h)^3]: xi_halo_halo's per unit b_i b_j.

    P_NL(k) plus the transform of (zeta - 1) xi_NL, which is confined to small r (so its
    FFTLog transform does not ring): P(k) = 4 pi int r^2 xi(r) j0(k r) dr.

    Parameters
    ----------
    k : ndarray [h/Mpc], within [K_MIN, K_MAX]
    redshift : float
    cosmology : dict

    Returns
    -------
    pk : ndarray [(Mpc/h)^3], the shape of k
    """
    def excess(r):
        xi = xi_nonlinear(r, redshift, cosmology)
        return (tinker05_zeta(xi) - 1.0) * xi

    # the Hankel pair is symmetric: P(k) = (2 pi)^3 * [the xi-from-P transform of the excess]
    correction = (2.0 * np.pi) ** 3 * xi_from_power(k, excess, k_min=1e-4, k_max=1e4)
    return power_nonlinear(k, redshift, cosmology) + correction
