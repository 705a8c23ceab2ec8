"""SHAM model parameters: defaults, bounds, the unbounded twins used by samplers, and the
one place that says which parameters feed the target SMF.

The five parameters are the Schechter SMF normalisation, faint-end slope and
characteristic mass (h=1 units: Msun/h^2 and h^3 Mpc^-3 dex^-1) and the scatter in
log stellar mass at low and high halo mass. Two boxes:

* ``SHAM_PBOUNDS``: the domain SHAMNet was trained on;
* ``SUPPORTED_PBOUNDS``: inside it, where the refined SHAM solve converges and its
  implicit derivatives hold, so where a forward model is supported and a sampler may
  go. The unbounded ``u_`` twins map onto this box.

Every public entry takes a ``ShamParams``, a ``ShamUParams`` (mapped through the
sigmoid), or an array whose last axis holds the five values in ``PARAM_NAMES`` order;
:func:`as_theta` turns any of them into that array and :func:`as_params` back into named
fields, so kernels read ``p.s_lo``, never ``theta[3]``.
"""
from collections import OrderedDict, namedtuple

import numpy as np
from jax import core, jit, tree_util
from jax import numpy as jnp

from .smf import schechter_log_phi

__all__ = (
    "DEFAULT_SHAM_PDICT",
    "SHAM_PBOUNDS_PDICT",
    "PARAM_NAMES",
    "ShamParams",
    "ShamUParams",
    "DEFAULT_SHAM_PARAMS",
    "SHAM_PBOUNDS",
    "SHAM_PBOUNDS_LO",
    "SHAM_PBOUNDS_HI",
    "SUPPORTED_PBOUNDS_PDICT",
    "SUPPORTED_PBOUNDS",
    "SUPPORTED_LO",
    "SUPPORTED_HI",
    "TARGET_LOG_PHI",
    "target_smf_params",
    "as_theta",
    "as_params",
    "check_params",
    "DomainError",
    "get_bounded_sham_params",
    "get_unbounded_sham_params",
)

# Li & White (2009)-like SDSS values in h=1 units (DESIGN.md, Conventions)
DEFAULT_SHAM_PDICT = OrderedDict(
    logphi=-1.835,  # log10 phi* [h^3 Mpc^-3]
    alpha=-1.06,  # faint-end slope
    logmc=10.54,  # log10 characteristic stellar mass [Msun/h^2]
    s_lo=0.3,  # scatter [dex] well below log Mpeak = 12
    s_hi=0.25,  # scatter [dex] well above log Mpeak = 12
)
SHAM_PBOUNDS_PDICT = OrderedDict(
    logphi=(-2.3, -1.4),
    alpha=(-1.35, -0.9),
    logmc=(10.3, 10.9),
    s_lo=(0.2, 0.5),
    s_hi=(0.2, 0.5),
)
# Where the refined solve converges (benchmarks/bench_convergence.py, RESULTS.md). Over
# SHAMNet's whole training domain 4% of random points hit the 30-step cap, at high
# scatter with alpha near -0.9 and at high logphi with alpha near -1.35: there no smooth
# SMHM reproduces the Schechter tail (residuals stay at 0.016 dex after 300 steps). In
# this box 10^4 random points, every corner and every edge mid-point converged in at
# most 7 steps, within 1.1e-3 dex of the target SMF.
SUPPORTED_PBOUNDS_PDICT = OrderedDict(
    logphi=(-2.3, -1.6),
    alpha=(-1.35, -0.95),
    logmc=(10.3, 10.9),
    s_lo=(0.2, 0.4),
    s_hi=(0.2, 0.4),
)
PARAM_NAMES = tuple(DEFAULT_SHAM_PDICT)

ShamParams = namedtuple("ShamParams", PARAM_NAMES)
ShamUParams = namedtuple("ShamUParams", ["u_" + key for key in PARAM_NAMES])

DEFAULT_SHAM_PARAMS = ShamParams(**DEFAULT_SHAM_PDICT)
SHAM_PBOUNDS = ShamParams(**SHAM_PBOUNDS_PDICT)

# NumPy, not JAX: nothing is computed, and no precision fixed, at import
SHAM_PBOUNDS_LO = np.array([b[0] for b in SHAM_PBOUNDS_PDICT.values()])
SHAM_PBOUNDS_HI = np.array([b[1] for b in SHAM_PBOUNDS_PDICT.values()])
SUPPORTED_PBOUNDS = ShamParams(**SUPPORTED_PBOUNDS_PDICT)
SUPPORTED_LO = np.array([b[0] for b in SUPPORTED_PBOUNDS_PDICT.values()])
SUPPORTED_HI = np.array([b[1] for b in SUPPORTED_PBOUNDS_PDICT.values()])

# The target SMF: its log10 phi(log M*, *smf_params) and the parameters it takes, named
# here once. A double Schechter or a sixth parameter is a change to these two lines
# (and to the dicts above), not to the solver, SHAMNet or the forward model.
TARGET_LOG_PHI = schechter_log_phi
_SMF_PARAM_NAMES = ("logphi", "alpha", "logmc")


class DomainError(ValueError):
    """Parameters or halo masses outside the domain where a model is trained or supported."""


def target_smf_params(params):
    """The target SMF's parameters, in the order ``TARGET_LOG_PHI`` takes them.

    Parameters
    ----------
    params : ShamParams

    Returns
    -------
    smf_params : tuple
    """
    return tuple(getattr(params, name) for name in _SMF_PARAM_NAMES)


def as_theta(params):
    """Any parameter form -> an array whose last axis is (logphi, alpha, logmc, s_lo, s_hi).

    Parameters
    ----------
    params : ShamParams, ShamUParams (mapped by the sigmoid), or array of shape (..., 5)

    Returns
    -------
    theta : jax array of shape (..., 5)
    """
    if isinstance(params, ShamUParams):
        params = get_bounded_sham_params(params)
    if isinstance(params, ShamParams):
        return jnp.stack([jnp.asarray(v, dtype=float) for v in params], axis=-1)
    return jnp.asarray(params, dtype=float)


def as_params(theta):
    """An array of shape (..., 5) -> ShamParams of arrays of shape (...)."""
    return ShamParams(*jnp.moveaxis(jnp.asarray(theta), -1, 0))


def check_params(params, name="params"):
    """Eager checks with messages naming the parameter; returns float64 NumPy (..., 5).

    Raises
    ------
    TypeError
        Not a ShamParams, ShamUParams, sequence or array of numbers.
    ValueError
        A last axis that is not 5 long, a NaN or infinite value, a scatter <= 0.

    Traced values (inside jit, grad or vmap) cannot be checked: they are returned as
    ``None`` unchecked; check at the eager boundary.
    """
    if any(isinstance(leaf, core.Tracer) for leaf in tree_util.tree_leaves(params)):
        return None
    if isinstance(params, ShamUParams):
        u = np.asarray(params, dtype=float).T if np.ndim(params[0]) else np.asarray(params, dtype=float)
        bad = [f for f, v in zip(ShamUParams._fields, np.moveaxis(np.atleast_1d(u), -1, 0)) if not np.all(np.isfinite(v))]
        if bad:
            raise ValueError(f"{name}: unbounded parameters {bad} are NaN or infinite")
        params = get_bounded_sham_params(params)
    if isinstance(params, ShamParams):
        values = np.stack([np.asarray(v, dtype=float) for v in params], axis=-1)
    else:
        try:
            values = np.asarray(params, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a ShamParams, a ShamUParams or an array of shape (..., 5) "
                            f"{PARAM_NAMES}; got {type(params).__name__}") from exc
    if values.ndim == 0 or values.shape[-1] != len(PARAM_NAMES):
        raise ValueError(f"{name} must have last axis of length {len(PARAM_NAMES)} {PARAM_NAMES}, "
                         f"got shape {values.shape}")
    for i, field in enumerate(PARAM_NAMES):
        v = values[..., i]
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name}: parameter {field!r} is NaN or infinite ({v})")
    for field in ("s_lo", "s_hi"):
        v = values[..., PARAM_NAMES.index(field)]
        if np.any(v <= 0):
            raise ValueError(f"{name}: scatter {field!r} must be positive, got {v}")
    return values


@jit
def get_bounded_sham_params(u_params):
    """Map unbounded parameters onto the supported domain with a sigmoid.

    Parameters
    ----------
    u_params : ShamUParams or array of shape (5, ) or (..., 5)

    Returns
    -------
    params : ShamParams of arrays
    """
    u = jnp.stack(list(u_params), axis=-1) if isinstance(u_params, tuple) else u_params
    lo, hi = jnp.asarray(SUPPORTED_LO), jnp.asarray(SUPPORTED_HI)
    return as_params(lo + (hi - lo) * jnp.asarray(_sigmoid(u)))


@jit
def get_unbounded_sham_params(params):
    """Inverse of :func:`get_bounded_sham_params`.

    Parameters
    ----------
    params : ShamParams or array of shape (5, ) or (..., 5), strictly inside the
        supported domain

    Returns
    -------
    u_params : ShamUParams of arrays
    """
    p = jnp.stack(list(params), axis=-1) if isinstance(params, tuple) else params
    frac = (p - SUPPORTED_LO) / (SUPPORTED_HI - SUPPORTED_LO)
    u = jnp.log(frac) - jnp.log1p(-frac)
    return ShamUParams(*jnp.moveaxis(u, -1, 0))


def _sigmoid(u):
    return 1.0 / (1.0 + jnp.exp(-u))
