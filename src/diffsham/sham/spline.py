"""Uniform cubic B-splines: the smooth representation of <log M*>(log Mpeak) in the solver."""
from typing import NamedTuple

import jax
from jax import numpy as jnp

__all__ = ("SplineKnots", "n_coeffs", "eval_spline", "design_matrix")


class SplineKnots(NamedTuple):
    """Uniform knots x0, x0 + step, ..., x0 + n_intervals * step."""

    x0: float
    step: float
    n_intervals: int


def n_coeffs(knots):
    """Number of B-spline coefficients for these knots."""
    return knots.n_intervals + 3


def eval_spline(coeffs, x, knots):
    """Evaluate a uniform cubic B-spline.

    Parameters
    ----------
    coeffs : ndarray of shape (n_intervals + 3, )
    x : ndarray of shape (n, )
        Points; outside the knot range the end polynomials are extended.
    knots : SplineKnots

    Returns
    -------
    y : ndarray of shape (n, )
    """
    s = (x - knots.x0) / knots.step
    idx = jnp.clip(jnp.floor(s), 0, knots.n_intervals - 1).astype(int)
    t = s - idx
    t2, t3 = t * t, t * t * t
    b0 = (1.0 - t) ** 3 / 6.0
    b1 = (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0
    b2 = (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0
    b3 = t3 / 6.0
    return coeffs[idx] * b0 + coeffs[idx + 1] * b1 + coeffs[idx + 2] * b2 + coeffs[idx + 3] * b3


def design_matrix(x, knots):
    """Matrix B with eval_spline(c, x) == B @ c.

    Parameters
    ----------
    x : ndarray of shape (n, )
    knots : SplineKnots

    Returns
    -------
    B : ndarray of shape (n, n_intervals + 3)
    """
    return jax.vmap(lambda e: eval_spline(e, x, knots), out_axes=1)(jnp.eye(n_coeffs(knots)))
