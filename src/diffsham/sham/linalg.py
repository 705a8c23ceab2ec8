"""Small dense linear solves that avoid LAPACK where a process has several CPU devices.

Why: on the CPU, a batched ``jnp.linalg.solve`` (the solver's systems under ``vmap``, one
per chain) runs LAPACK's LU through jaxlib's ``ParallelBatchMap``, which waits in an XLA
thread-pool thread for work queued on that same pool. With as many CPU devices as pool
threads (``diffsham fit --devices 2`` on two cores), each device's thread waits and nothing
runs the queued work: the run hangs in its first step (seen with 4 chains over 2 devices;
one chain a device is unbatched and runs). Where this process has several CPU devices,
the CPU gets a partially pivoted LU written in ``lax`` loops, with
``lax.custom_linear_solve`` for exact derivatives (in the matrix through its matvec, in
the right-hand side through the transposed solve). With one CPU device (the usual case)
and on other platforms ``jnp.linalg.solve`` stays: with the loops everywhere,
tests/test_solver.py and tests/test_convergence.py took 81 s instead of 70 s.
"""
import jax
from jax import lax
from jax import numpy as jnp

__all__ = ("solve", "solve_without_lapack")


def _lu(a):
    """Doolittle LU with partial pivoting: P a = L U, L unit lower, both in one array.

    Returns the packed factors, of shape (n, n), and ``perm`` of shape (n, ): row i of P a
    is row perm[i] of a.
    """
    n = a.shape[0]
    idx = jnp.arange(n)

    def step(k, carry):
        lu, perm = carry
        p = jnp.argmax(jnp.where(idx >= k, jnp.abs(lu[:, k]), -1.0))
        row_k, row_p = lu[k], lu[p]
        lu = lu.at[k].set(row_p).at[p].set(row_k)
        perm = perm.at[k].set(perm[p]).at[p].set(perm[k])
        below = idx > k
        multipliers = jnp.where(below, lu[:, k] / lu[k, k], 0.0)
        lu = lu - jnp.outer(multipliers, jnp.where(below, lu[k], 0.0))
        return lu.at[:, k].set(jnp.where(below, multipliers, lu[:, k])), perm

    return lax.fori_loop(0, n, step, (a, idx))


def _substitute(m, b, *, lower, unit):
    """x with m x = b for triangular m (the triangle of ``m`` named by ``lower``)."""
    n = b.shape[0]
    idx = jnp.arange(n)

    def step(t, x):
        i = t if lower else n - 1 - t
        known = idx < i if lower else idx > i
        value = b[i] - jnp.dot(jnp.where(known, m[i], 0.0), x)
        return x.at[i].set(value if unit else value / m[i, i])

    return lax.fori_loop(0, n, step, jnp.zeros_like(b))


def _solve_vector(a, b):
    lu, perm = _lu(lax.stop_gradient(a))

    def forward(_, rhs):  # a x = rhs
        return _substitute(lu, _substitute(lu, rhs[perm], lower=True, unit=True), lower=False, unit=False)

    def transposed(_, rhs):  # a^T x = rhs: U^T L^T (P x) = rhs
        v = _substitute(lu.T, _substitute(lu.T, rhs, lower=True, unit=False), lower=False, unit=True)
        return jnp.zeros_like(v).at[perm].set(v)

    return lax.custom_linear_solve(lambda x: a @ x, b, forward, transposed)


def solve_without_lapack(a, b):
    """``solve`` by the ``lax`` LU, on any platform: what several CPU devices run.

    Parameters and returns as ``solve``.
    """
    if b.ndim == 1:
        return _solve_vector(a, b)
    return jax.vmap(_solve_vector, in_axes=(None, 1), out_axes=1)(a, b)


def solve(a, b):
    """x with a x = b, differentiable in both.

    Parameters
    ----------
    a : ndarray of shape (n, n)
    b : ndarray of shape (n, ) or (n, m)

    Returns
    -------
    x : ndarray of the shape of b
    """
    if len(jax.local_devices(backend="cpu")) == 1:  # no second CPU device to starve the pool
        return jnp.linalg.solve(a, b)
    return lax.platform_dependent(a, b, cpu=solve_without_lapack, default=jnp.linalg.solve)
