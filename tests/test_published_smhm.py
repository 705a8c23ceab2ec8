"""The published SMHMs of the SDSS comparison: analytic properties of each paper's
formula, in the paper's units, through the conversion to h = 1."""
import numpy as np

from diffsham.survey import behroozi2013_log_mstar, moster2013_log_mstar


def _h1(log_m, h, power):
    return log_m + power * np.log10(h)


def test_behroozi2013_at_its_characteristic_mass_and_faint_end():
    h = 0.7
    # at z = 0, M_h = M_1 = 10^11.514 Msun: log M* = log(epsilon M_1) = -1.777 + 11.514
    assert np.isclose(behroozi2013_log_mstar(_h1(11.514, h, 1), z=0.0), _h1(-1.777 + 11.514, h, 2), atol=1e-12)
    # far below M_1, M* ~ M_h^(-alpha), alpha = -1.412
    lo = _h1(np.array([8.0, 8.01]), h, 1)
    slope = np.diff(behroozi2013_log_mstar(lo, z=0.0))[0] / 0.01
    assert np.isclose(slope, 1.412, atol=2e-3)


def test_moster2013_at_its_characteristic_mass_and_faint_end():
    h = 0.704
    # at z = 0, M = M_1 = 10^11.59 Msun: m/M = 2N / (1 + 1) = N = 0.0351
    assert np.isclose(moster2013_log_mstar(_h1(11.59, h, 1), z=0.0), _h1(11.59 + np.log10(0.0351), h, 2), atol=1e-12)
    lo = _h1(np.array([9.0, 9.01]), h, 1)
    slope = np.diff(moster2013_log_mstar(lo, z=0.0))[0] / 0.01
    assert np.isclose(slope, 1 + 1.376, atol=2e-3)  # m ~ M^(1 + beta) far below M_1
    # z evolution: M_1 grows by 1.195 z/(1+z) dex
    z = 0.1
    m1 = 11.59 + 1.195 * z / (1 + z)
    norm = 0.0351 - 0.0247 * z / (1 + z)
    assert np.isclose(moster2013_log_mstar(_h1(m1, h, 1), z=z), _h1(m1 + np.log10(norm), h, 2), atol=1e-12)
