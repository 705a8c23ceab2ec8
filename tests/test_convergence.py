"""Issue 16: the refined SHAM solve converges wherever a sampler may go, and where it
does not, the model says so. Dense scans of the supported domain on the default model
(SHAMNet refined, tabulated path) of a small box; the 10^4-point scan is
benchmarks/bench_convergence.py."""
import jax
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.model import box_corners, box_edge_midpoints
from diffsham.sham.params import DEFAULT_SHAM_PARAMS, SUPPORTED_HI, SUPPORTED_LO
from diffsham.shamnet.network import REFINE_CONFIG

LO, HI = SUPPORTED_LO, SUPPORTED_HI
CORNERS = box_corners()
EDGE_MIDS = box_edge_midpoints()


@pytest.fixture(scope="module")
def chi2(small_model):
    """chi^2 against the model's own prediction at the default point, 5% errors (with a
    floor where wp crosses zero), and its kernel-level value and gradient."""
    data = np.asarray(small_model.predict(DEFAULT_SHAM_PARAMS))
    sigma = jnp.asarray(0.05 * np.abs(data) + 0.05 * np.median(np.abs(data)))

    def f(theta):
        vector, info = small_model.kernel(theta, small_model.tables)
        return jnp.sum(((vector - data) / sigma) ** 2), info

    return jax.jit(f), jax.jit(jax.vmap(jax.value_and_grad(f, has_aux=True)))


def test_every_point_of_the_supported_domain_converges(chi2):
    points = np.concatenate([LO + (HI - LO) * np.random.default_rng(16).random((1500, 5)), CORNERS, EDGE_MIDS])
    _, value_and_grad = chi2
    out = [value_and_grad(jnp.asarray(points[k:k + 100])) for k in range(0, len(points), 100)]
    values = np.concatenate([np.asarray(v) for (v, _), _ in out])
    grads = np.concatenate([np.asarray(g) for _, g in out])
    n_iter = np.concatenate([np.asarray(info.n_iter) for (_, info), _ in out])
    converged = np.concatenate([np.asarray(info.converged) for (_, info), _ in out])
    counts = dict(zip(*np.unique(n_iter, return_counts=True)))
    assert converged.all(), points[~converged]
    assert n_iter.max() <= REFINE_CONFIG.n_iter // 2, counts  # far from the cap
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))


def test_outside_the_supported_domain_a_capped_solve_is_flagged(small_model):
    """The high-scatter corner of the training domain: the solve stops at its cap and
    says so (a log-density treats it as outside the support; eager calls warn)."""
    theta = np.array([-1.4, -0.9, 10.9, 0.5, 0.5])
    _, info = jax.jit(small_model.kernel)(jnp.asarray(theta), small_model.tables)
    assert not bool(info.converged) and int(info.n_iter) == REFINE_CONFIG.n_iter and not bool(info.ok)
    with pytest.warns(UserWarning, match="did not converge"):
        small_model.predict(theta)


def test_chi2_gradient_matches_central_finite_differences(chi2):
    """At converged points (random, and corners): every component of the autodiff
    gradient within 1% of central finite differences, plus a floor of 0.5% of the
    gradient's norm (for components much smaller than the others)."""
    f, value_and_grad = chi2
    points = np.concatenate([LO + (HI - LO) * np.random.default_rng(3).random((24, 5)), CORNERS[::4]])
    (_, infos), grads = value_and_grad(jnp.asarray(points))
    assert np.asarray(infos.converged).all()
    h = 1e-4 * (HI - LO)
    worst = 0.0
    for theta, g in zip(points, np.asarray(grads)):
        fd = np.array([(float(f(jnp.asarray(theta + h[i] * np.eye(5)[i]))[0])
                        - float(f(jnp.asarray(theta - h[i] * np.eye(5)[i]))[0])) / (2 * h[i]) for i in range(5)])
        err = np.abs(g - fd) / (0.01 * np.abs(fd) + 0.005 * np.linalg.norm(fd))
        worst = max(worst, err.max())
        assert np.all(err < 1.0), (theta, g, fd)
    print(f"worst gradient error, in units of the allowed: {worst:.2f}")


@pytest.mark.parametrize("corner", [HI, LO, np.array([HI[0], LO[1], HI[2], HI[3], HI[4]])])
def test_chi2_is_smooth_along_scans_through_corners(chi2, corner):
    """Along each axis through a corner, every step of chi^2 is what its gradient
    predicts (trapezoid rule): no jumps."""
    f, value_and_grad = chi2
    for axis in range(5):
        t = np.linspace(0.0, 1.0, 41)
        pts = np.tile(corner, (t.size, 1))
        pts[:, axis] = LO[axis] + t * (HI[axis] - LO[axis])
        (values, _), grads = (jax.tree_util.tree_map(np.asarray, x) for x in value_and_grad(jnp.asarray(pts)))
        step = np.diff(pts[:, axis])
        predicted = 0.5 * step * (grads[1:, axis] + grads[:-1, axis])
        jump = np.abs(np.diff(values) - predicted)
        scale = np.max(np.abs(predicted))
        assert np.all(jump <= 0.02 * scale + 1e-8 * np.max(values)), (axis, jump.max() / scale)
