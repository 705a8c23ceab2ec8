"""The soft clip from the unconstrained space onto a prior's interval."""
import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from jax import numpy as jnp
from numpyro.distributions.transforms import biject_to
from numpyro.infer.util import potential_energy

from diffsham.infer.transforms import SoftClipTransform, bounded

LO, HI = -1.35, -0.95


@pytest.fixture(scope="module")
def clip():
    return SoftClipTransform(LO, HI)


def test_bijection_onto_the_interval(clip):
    u = jnp.linspace(-5.0, 5.0, 2001)  # beyond, x is within float resolution of a bound
    x = clip(u)
    assert np.all((np.asarray(x) > LO) & (np.asarray(x) < HI))
    # within |u| < 3.5 (x more than 1e-9 of the width from a bound) x keeps enough digits
    inner = np.abs(np.asarray(u)) <= 3.5
    assert np.all(np.diff(np.asarray(x)) >= 0) and np.all(np.diff(np.asarray(x)[inner]) > 0)
    np.testing.assert_allclose(clip.inv(x)[inner], u[inner], atol=1e-7)


def test_log_jacobian_is_the_derivative(clip):
    u = jnp.linspace(-10.0, 10.0, 201)
    slope = jax.vmap(jax.grad(clip))(u)  # autodiff of the forward map, an independent route
    np.testing.assert_allclose(clip.log_abs_det_jacobian(u, clip(u)), np.log(slope), rtol=1e-10, atol=1e-10)


def test_linear_over_the_interior(clip):
    """The point of the map: over the central 80% of the interval the slope stays within
    5% of the centre's, where a logistic sigmoid's falls to 36% of it."""
    x = jnp.linspace(LO + 0.1 * (HI - LO), HI - 0.1 * (HI - LO), 81)
    slope = jax.vmap(jax.grad(clip))(clip.inv(x))
    centre = jax.grad(clip)(0.0)
    assert float(jnp.min(slope) / centre) > 0.95
    logistic = biject_to(dist.constraints.interval(LO, HI))
    s_logistic = jax.vmap(jax.grad(logistic))(logistic.inv(x))
    assert float(jnp.min(s_logistic) / jax.grad(logistic)(0.0)) < 0.4


@pytest.mark.parametrize("base", [dist.Uniform(LO, HI), dist.TruncatedNormal(-1.2, 0.1, low=LO, high=HI)])
def test_numpyro_density_on_u_integrates_to_one(base):
    """NumPyro's potential on u uses the soft clip; exp(-potential) is a normalised density."""
    prior = bounded(base, LO, HI)

    def model():
        numpyro.sample("a", prior)

    u = jnp.linspace(-40.0, 40.0, 40001)
    pe = jax.vmap(lambda v: potential_energy(model, (), {}, {"a": v}))(u)
    assert np.isfinite(np.asarray(pe)).all()
    np.testing.assert_allclose(np.trapezoid(np.exp(-np.asarray(pe)), np.asarray(u)), 1.0, rtol=1e-6)
    draws = prior.sample(jax.random.PRNGKey(1), (1000,))
    np.testing.assert_allclose(biject_to(prior.support)(biject_to(prior.support).inv(draws)), draws, atol=1e-10)
