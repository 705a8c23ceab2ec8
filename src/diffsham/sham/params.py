"""SHAM model parameters: defaults, bounds and the unbounded twins used by samplers.

The five parameters are the Schechter SMF normalisation, faint-end slope and
characteristic mass (h=1 units: Msun/h^2 and h^3 Mpc^-3 dex^-1) and the scatter in
log stellar mass at low and high halo mass. The bounds are the SHAMNet training
domain, so a sampler working in the unbounded ``u_`` space never leaves it.
"""
from collections import OrderedDict, namedtuple

import numpy as np
from jax import jit
from jax import numpy as jnp

__all__ = (
    "DEFAULT_SHAM_PDICT",
    "SHAM_PBOUNDS_PDICT",
    "ShamParams",
    "ShamUParams",
    "DEFAULT_SHAM_PARAMS",
    "SHAM_PBOUNDS",
    "SHAM_PBOUNDS_LO",
    "SHAM_PBOUNDS_HI",
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

ShamParams = namedtuple("ShamParams", DEFAULT_SHAM_PDICT.keys())
ShamUParams = namedtuple("ShamUParams", ["u_" + key for key in DEFAULT_SHAM_PDICT])

DEFAULT_SHAM_PARAMS = ShamParams(**DEFAULT_SHAM_PDICT)
SHAM_PBOUNDS = ShamParams(**SHAM_PBOUNDS_PDICT)

SHAM_PBOUNDS_LO = np.array([b[0] for b in SHAM_PBOUNDS_PDICT.values()])
SHAM_PBOUNDS_HI = np.array([b[1] for b in SHAM_PBOUNDS_PDICT.values()])
_LO, _HI = jnp.asarray(SHAM_PBOUNDS_LO), jnp.asarray(SHAM_PBOUNDS_HI)


@jit
def get_bounded_sham_params(u_params):
    """Map unbounded parameters to the bounded domain with a sigmoid.

    Parameters
    ----------
    u_params : ShamUParams or array of shape (5, ) or (..., 5)

    Returns
    -------
    params : ShamParams of arrays
    """
    u = jnp.stack(list(u_params), axis=-1) if isinstance(u_params, tuple) else u_params
    p = _LO + (_HI - _LO) / (1.0 + jnp.exp(-u))
    return ShamParams(*jnp.moveaxis(p, -1, 0))


@jit
def get_unbounded_sham_params(params):
    """Inverse of :func:`get_bounded_sham_params`.

    Parameters
    ----------
    params : ShamParams or array of shape (5, ) or (..., 5), strictly inside the bounds

    Returns
    -------
    u_params : ShamUParams of arrays
    """
    p = jnp.stack(list(params), axis=-1) if isinstance(params, tuple) else params
    frac = (p - _LO) / (_HI - _LO)
    u = jnp.log(frac) - jnp.log1p(-frac)
    return ShamUParams(*jnp.moveaxis(u, -1, 0))
