"""Little-h conversions to the project's h = 1 units, in one place.

A quantity measured with H0 = 100 h km/s/Mpc scales with h as: stellar mass M* ~ h^-2,
so log M*[Msun/h^2] = log M*[Msun] + 2 log10 h; lengths r[Mpc/h] = h r[Mpc]; number
densities phi[h^3 Mpc^-3] = phi[Mpc^-3] / h^3 (per dex of M*, unchanged by the shift of
log M*); comoving DeltaSigma[h Msun/pc^2] = DeltaSigma[Msun/pc^2] / h.
"""
import numpy as np

__all__ = ("log_mstar_to_h1", "length_to_h1", "density_to_h1", "delta_sigma_to_h1")


def log_mstar_to_h1(log_mstar, h):
    return np.asarray(log_mstar, dtype=float) + 2.0 * np.log10(h)


def length_to_h1(r, h):
    return np.asarray(r, dtype=float) * h


def density_to_h1(phi, h):
    return np.asarray(phi, dtype=float) / h**3


def delta_sigma_to_h1(delta_sigma, h):
    return np.asarray(delta_sigma, dtype=float) / h
