"""Where a forward model is supported, as an eager check and as a jittable test.

The supported domain is the box ``SUPPORTED_PBOUNDS`` (inside SHAMNet's training
domain) where the refined solve converges; a sampler's log-density uses
:func:`in_supported_domain` to return -inf outside it, and also treats a point whose
solve did not converge as outside the support.
"""
import warnings

import numpy as np
from jax import numpy as jnp

from ..sham.params import PARAM_NAMES, SHAM_PBOUNDS_HI, SHAM_PBOUNDS_LO, SUPPORTED_HI, SUPPORTED_LO, DomainError

__all__ = ("in_supported_domain", "check_supported_domain", "box_corners", "box_edge_midpoints", "DomainError")


def in_supported_domain(theta):
    """True where every parameter is finite and inside the supported box; jittable.

    Parameters
    ----------
    theta : array of shape (..., 5)

    Returns
    -------
    ok : bool array of shape (...)
    """
    theta = jnp.asarray(theta)
    inside = (theta >= SUPPORTED_LO) & (theta <= SUPPORTED_HI) & jnp.isfinite(theta)
    return jnp.all(inside, axis=-1)


def check_supported_domain(values, strict=False, stacklevel=3):
    """Warn (or raise DomainError if ``strict``) for parameters outside the supported box.

    Parameters
    ----------
    values : ndarray of shape (..., 5), finite (see ``check_params``)
    """
    problems = []
    for i, name in enumerate(PARAM_NAMES):
        v = values[..., i]
        lo, hi = SUPPORTED_LO[i], SUPPORTED_HI[i]
        if np.any(v < lo) or np.any(v > hi):
            beyond = np.any(v < SHAM_PBOUNDS_LO[i]) or np.any(v > SHAM_PBOUNDS_HI[i])
            problems.append(f"{name}={np.round(v, 4).tolist()} outside [{lo:g}, {hi:g}]"
                            + (" and outside SHAMNet's training domain" if beyond else ""))
    if problems:
        msg = ("parameters outside the supported domain (where the SHAM solve converges and its derivatives "
               "hold): " + "; ".join(problems))
        if strict:
            raise DomainError(msg)
        warnings.warn(msg, stacklevel=stacklevel)


def box_corners(lo=SUPPORTED_LO, hi=SUPPORTED_HI):
    """The 2^d corners of a box, shape (2^d, d) (the supported domain by default)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(lo.size, -1).T


def box_edge_midpoints(lo=SUPPORTED_LO, hi=SUPPORTED_HI):
    """The mid-points of the box's d 2^(d-1) edges, shape (d 2^(d-1), d)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    corners = box_corners(lo, hi)
    mids = [np.where(np.arange(lo.size) == i, 0.5 * (lo + hi), corners) for i in range(lo.size)]
    return np.unique(np.concatenate(mids), axis=0)
