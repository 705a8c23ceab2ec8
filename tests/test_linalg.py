"""diffsham.sham.linalg's LAPACK-free solve (what ``solve`` runs where a process has
several CPU devices) against NumPy's LAPACK solve, and its derivatives against
jnp.linalg.solve's, in both modes and under vmap."""
import jax
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.precision import enable_float64
from diffsham.sham.linalg import solve_without_lapack as solve


@pytest.mark.parametrize("n", [1, 3, 17, 68])
def test_solve_matches_lapack_with_derivatives(n):
    enable_float64()
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n)) + (0.0 if n > 1 else 1.0)
    if n > 1:
        a[0, 0] = 0.0  # no solve without pivoting
    b, many = rng.normal(size=n), rng.normal(size=(n, 3))
    np.testing.assert_allclose(solve(a, b), np.linalg.solve(a, b), rtol=0, atol=1e-10 * np.abs(np.linalg.solve(a, b)).max())
    np.testing.assert_allclose(solve(a, many), np.linalg.solve(a, many), rtol=0,
                               atol=1e-10 * np.abs(np.linalg.solve(a, many)).max())

    def loss(solver):
        return lambda a, b: jnp.sum(jnp.sin(solver(a, b)))

    ref = jax.grad(loss(jnp.linalg.solve), (0, 1))(a, b)
    for got in (jax.grad(loss(solve), (0, 1))(a, b), jax.jacfwd(loss(solve), (0, 1))(a, b)):
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=0, atol=1e-9 * np.abs(r).max())


def test_solve_is_batched_by_vmap():
    enable_float64()
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 12, 12)), rng.normal(size=(5, 12))
    np.testing.assert_allclose(jax.vmap(solve)(a, b), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10, atol=1e-10)
