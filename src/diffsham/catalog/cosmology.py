"""Linear theory for the synthetic catalog and the analytic lensing profiles (via colossus).

Only what the catalog needs: the linear power spectrum and correlation function,
sigma(M), the Tinker et al. (2010) large-scale halo bias, the growth rate, the mean
matter density, and virial radii for the 200m mass definition (Mpeak is treated as
M200m for hosts).
"""
import functools

import numpy as np

__all__ = ("BOLSHOI_PLANCK", "RHO_CRIT", "colossus_cosmology", "rho_mean", "r200m", "tinker10_bias",
           "growth_rate", "xi_linear", "power_linear")

# Bolshoi-Planck / MultiDark-Planck cosmology, the one the SHMF fit was measured in
BOLSHOI_PLANCK = dict(Om0=0.307, Ob0=0.048, h=0.678, ns=0.96, sigma8=0.823)
RHO_CRIT = 2.77536627e11  # critical density today [h^2 Msun / Mpc^3]


def colossus_cosmology(cosmology=BOLSHOI_PLANCK):
    """The colossus Cosmology for a dict with Om0, Ob0, h, ns, sigma8, made active.

    Built once per parameter set: a new colossus Cosmology discards its sigma(R) and
    correlation-function tables, which are the expensive part.
    """
    from colossus.cosmology import cosmology as cc

    cosmo = _colossus_cosmology(tuple(float(cosmology[k]) for k in ("h", "Om0", "Ob0", "sigma8", "ns")))
    cc.setCurrent(cosmo)
    return cosmo


@functools.lru_cache(maxsize=4)
def _colossus_cosmology(key):
    from colossus.cosmology import cosmology as cc

    h, om0, ob0, sigma8, ns = key
    return cc.Cosmology("diffsham", flat=True, H0=100.0 * h, Om0=om0, Ob0=ob0, sigma8=sigma8, ns=ns,
                        persistence="")


def rho_mean(cosmology=BOLSHOI_PLANCK):
    """Comoving mean matter density [h^2 Msun / Mpc^3]."""
    return cosmology["Om0"] * RHO_CRIT


def r200m(logm, cosmology=BOLSHOI_PLANCK):
    """Comoving radius enclosing 200 times the mean density [Mpc/h], for log10 M [Msun/h]."""
    return (3.0 * 10.0 ** np.asarray(logm) / (4.0 * np.pi * 200.0 * rho_mean(cosmology))) ** (1.0 / 3.0)


def tinker10_bias(logm, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Tinker et al. (2010) large-scale bias of halos of mass M200m [Msun/h]."""
    from colossus.lss import bias

    colossus_cosmology(cosmology)
    return bias.haloBias(10.0 ** np.asarray(logm, dtype=float), z=redshift, mdef="200m", model="tinker10")


def growth_rate(redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """f = d ln D / d ln a, in the Omega_m(z)^0.55 approximation."""
    om = cosmology["Om0"] * (1 + redshift) ** 3
    om = om / (om + 1.0 - cosmology["Om0"])
    return om**0.55


def power_linear(k, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Linear matter power spectrum [(Mpc/h)^3] at wavenumbers k [h/Mpc] (Eisenstein & Hu 1998)."""
    return colossus_cosmology(cosmology).matterPowerSpectrum(np.asarray(k, dtype=float), z=redshift)


def xi_linear(r, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Linear matter correlation function at comoving separations r [Mpc/h]."""
    return colossus_cosmology(cosmology).correlationFunction(np.asarray(r, dtype=float), z=redshift)
