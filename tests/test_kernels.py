import jax
import numpy as np
import pytest
from jax import numpy as jnp
from scipy import integrate

from diffsham.sham.kernels import triweight_bin_weight, triweight_cdf, triweight_pdf


def test_cdf_check_values_from_design():
    assert np.isclose(triweight_cdf(1.0), 0.8267032, atol=5e-8)
    assert np.isclose(triweight_cdf(2.0), 0.9823674, atol=5e-8)
    assert np.isclose(triweight_cdf(-3.5), 0.0, atol=1e-15)
    assert np.isclose(triweight_cdf(3.5), 1.0, atol=1e-15)


def test_bin_weight_and_sigma_derivative_check_values():
    w = triweight_bin_weight(10.4, 10.6, 10.5, 0.3)
    dw = jax.grad(triweight_bin_weight, argnums=3)(10.4, 10.6, 10.5, 0.3)
    assert np.isclose(w, 0.240077, atol=5e-7)
    assert np.isclose(dw, -0.780547, atol=5e-7)


def test_kernel_is_a_unit_variance_density():
    pdf = lambda z: float(triweight_pdf(z))  # noqa: E731
    norm = integrate.quad(pdf, -3, 3)[0]
    mean = integrate.quad(lambda z: z * pdf(z), -3, 3)[0]
    var = integrate.quad(lambda z: z * z * pdf(z), -3, 3)[0]
    assert np.isclose(norm, 1.0, atol=1e-12)
    assert np.isclose(mean, 0.0, atol=1e-12)
    assert np.isclose(var, 1.0, atol=1e-12)


@pytest.mark.parametrize("z", [-2.9, -1.3, 0.0, 0.7, 2.2])
def test_cdf_derivative_is_the_kernel(z):
    assert np.isclose(jax.grad(triweight_cdf)(z), triweight_pdf(z), rtol=1e-12)


def test_weights_over_bins_covering_support_sum_to_one():
    edges = jnp.linspace(8.0, 12.0, 41)
    mu = jnp.array([9.3, 10.0, 10.77])
    w = triweight_bin_weight(edges[None, :-1], edges[None, 1:], mu[:, None], 0.25)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-14)
