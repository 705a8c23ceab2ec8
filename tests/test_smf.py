import jax
import numpy as np
import pytest
from jax import numpy as jnp
from scipy import integrate

from diffsham.sham.smf import (
    cumulative_number_density,
    double_schechter_log_phi,
    schechter_log_phi,
    smf_in_bins,
)

PARAMS = (-1.835, -1.06, 10.54)


def schechter_numpy(x, logphi, alpha, logmc):
    r = 10.0 ** (x - logmc)
    return np.log(10.0) * 10.0**logphi * r ** (1 + alpha) * np.exp(-r)


def test_schechter_matches_its_formula():
    x = np.linspace(8, 12, 9)
    assert np.allclose(10 ** schechter_log_phi(x, *PARAMS), schechter_numpy(x, *PARAMS), rtol=1e-12)


def test_bin_means_match_adaptive_quadrature():
    edges = np.array([8.7, 9.5, 10.3, 10.5, 11.2, 11.7])
    got = smf_in_bins(schechter_log_phi, jnp.asarray(edges), *PARAMS)
    ref = [
        integrate.quad(schechter_numpy, a, b, args=PARAMS, epsabs=0, epsrel=1e-13)[0] / (b - a)
        for a, b in zip(edges[:-1], edges[1:])
    ]
    assert np.allclose(got, ref, rtol=1e-10)


def test_cumulative_matches_adaptive_quadrature():
    x = np.array([7.0, 9.0, 10.5, 11.5])
    got = cumulative_number_density(schechter_log_phi, jnp.asarray(x), *PARAMS)
    ref = [integrate.quad(schechter_numpy, a, 14.0, args=PARAMS, epsrel=1e-12, limit=200)[0] for a in x]
    assert np.allclose(got, ref, rtol=1e-8)


def test_double_schechter_is_the_sum_of_two():
    x = np.linspace(8, 12, 7)
    got = 10 ** double_schechter_log_phi(x, -2.0, -1.3, -2.4, -0.5, 10.6)
    ref = schechter_numpy(x, -2.0, -1.3, 10.6) + schechter_numpy(x, -2.4, -0.5, 10.6)
    assert np.allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("x", [9.0, 10.4, 11.6])
def test_autodiff_gives_the_analytic_schechter_derivatives(x):
    grad = jax.grad(lambda p: schechter_log_phi(x, *p), argnums=0)(jnp.array(PARAMS))
    logphi, alpha, logmc = PARAMS
    expected = [1.0, x - logmc, -(1 + alpha) + 10 ** (x - logmc)]
    assert np.allclose(grad, expected, rtol=1e-12)
