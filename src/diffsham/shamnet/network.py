"""The SHAMNet network and its prediction of <log M* | Mpeak>.

SHAMNet predicts the scatter correction to zero-scatter abundance matching,

    <log M*>(log Mpeak; theta) = mu0 + MLP(theta, mu0),   mu0 = mu0(log Mpeak; theta),

for the Bolshoi-Planck SHMF at z = 0. mu0 is exact and cheap (one cumulative integral
of the Schechter SMF and an interpolation), so the network only learns the correction,
and it sees halo mass through mu0: the correction is smooth on ~0.1-dex scales of
stellar mass, which at the steep low-mass end of the SMHM is ~0.01 dex of Mpeak.
The activation is tanh (C-infinity): the SMF depends on d<log M*>/d log Mpeak and
samplers differentiate that again.

By default the prediction is *refined*: the network's correction is the starting
point of the exact solver (:func:`diffsham.sham.solver.solve_smhm`), which from there
needs two or three Levenberg-Marquardt steps (instead of 200 with a continuation in
the scatter from zero-scatter matching) to converge. Its derivatives are the
solver's implicit ones. The refined prediction is exact SHAM to the solver's
tolerance, at a fixed cost of a few ms per parameter point; ``refine=False`` gives
the network alone (its accuracy is in the weights file's metadata).

Predictions are always made on the network's grid of log Mpeak (0.01 dex) and
interpolated, so the cost does not grow with the number of halos.
"""
import warnings
from functools import partial
from typing import NamedTuple

import jax
import numpy as np
from jax import numpy as jnp

from ..precision import enable_float64
from ..sham.params import TARGET_LOG_PHI, DomainError, ShamParams, as_params, as_theta, check_params, target_smf_params
from ..sham.scatter import scatter_sigma
from ..sham.shmf import DEFAULT_HALO_GRID
from ..sham.solver import (
    DEFAULT_SOLVER_CONFIG,
    log_ncum_at_cells,
    log_sm_at_abundance,
    mean_log_sm_at_abundance,
    solve_smhm,
    zero_scatter_log_sm,
)

__all__ = (
    "ShamNet",
    "init_mlp",
    "mlp",
    "shamnet_mean_log_sm_on_grid",
    "shamnet_mean_log_sm",
    "interp_mean_log_sm",
    "direct_mean_log_sm",
    "direct_mean_log_sm_and_solution",
    "shamnet_mean_log_sm_and_jacobian",
    "check_domain",
    "DomainError",
    "REFINE_CONFIG",
)

class ShamNet(NamedTuple):
    """A trained SHAMNet.

    Attributes
    ----------
    weights : tuple of (W, b) pairs
        W of shape (n_in, n_out), b of shape (n_out, ).
    theta_lo, theta_hi : ndarray of shape (5, )
        Training domain of (logphi, alpha, logmc, s_lo, s_hi).
    logmh_lo, logmh_hi : float
        Training domain of log10 Mpeak [Msun/h].
    metadata : dict
        Version, architecture, training settings and validation metrics.
    """

    weights: tuple
    theta_lo: np.ndarray
    theta_hi: np.ndarray
    logmh_lo: float
    logmh_hi: float
    metadata: dict


def init_mlp(key, sizes, last_scale=1e-2):
    """Glorot-normal weights for an MLP with layer sizes ``sizes``; small last layer."""
    weights = []
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        scale = np.sqrt(2.0 / (n_in + n_out))
        if i == len(sizes) - 2:
            scale *= last_scale
        weights.append((scale * jax.random.normal(k, (n_in, n_out)), jnp.zeros(n_out)))
    return tuple(weights)


def mlp(weights, x):
    """tanh MLP; x of shape (..., n_in) -> (..., n_out)."""
    for w, b in weights[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = weights[-1]
    return x @ w + b


# Range of zero-scatter log M* [Msun/h^2] the network resolves; beyond it the input is
# clipped (below: galaxies far under any measured SMF; above: beyond any halo)
MU0_LO, MU0_HI = 6.5, 13.0


def _scaled_inputs(net_bounds, theta, mu0):
    theta_lo, theta_hi = net_bounds[0], net_bounds[1]
    t = 2.0 * (theta - theta_lo) / (theta_hi - theta_lo) - 1.0
    m = 2.0 * (jnp.clip(mu0, MU0_LO, MU0_HI) - MU0_LO) / (MU0_HI - MU0_LO) - 1.0
    t = jnp.broadcast_to(t, (mu0.shape[0], t.shape[-1]))
    return jnp.concatenate([t, m[:, None]], axis=1)


_GRID = DEFAULT_HALO_GRID


def correction(weights, net_bounds, theta, mu0):
    """MLP correction to zero-scatter matching, shape (n, ), for mu0 of shape (n, )."""
    return mlp(weights, _scaled_inputs(net_bounds, theta, mu0))[:, 0]


# From SHAMNet's start the solver converges in 2-4 steps of nearly pure Gauss-Newton
# (hence the tiny initial damping; after a rejected step the damping jumps to >= 1e-2,
# so that a bad first step costs one rejection, not a dozen). It stops once a step
# moves <log M*> by < 1e-4 dex where galaxies are fitted: with 1e-3, a few points of the
# supported domain stopped ~0.03 in chi^2 short of the solution, with implicit
# gradients ~10% off there. Inside the supported domain every point converged in at
# most 7 steps (benchmarks/bench_convergence.py); beyond it, up to ``n_iter``.
REFINE_CONFIG = DEFAULT_SOLVER_CONFIG._replace(n_iter=30, ramp=0.0, tol=1e-4, lam_start=1e-9, lam_up=10.0,
                                             lam_reject_min=1e-2)


def refined_solution(weights, net_bounds, theta, halo_grid=_GRID):
    """The exact solver started from SHAMNet's correction; pure, jittable.

    ``halo_grid`` may be a catalog's own abundance: the network, trained for the model
    SHMF, then gives a start (its correction as a function of zero-scatter log M*, which
    carries over), and the solver converges to exact SHAM for that abundance.

    Returns
    -------
    solution : ShamSolution
    """
    smf_params = target_smf_params(as_params(theta))
    mu0 = zero_scatter_log_sm(TARGET_LOG_PHI, smf_params, halo_grid)
    sigma = sigma_on_grid(theta, halo_grid)
    # only the solver's converged point carries derivatives: none through the network
    start = correction(weights, net_bounds, jax.lax.stop_gradient(theta), jax.lax.stop_gradient(mu0))
    return solve_smhm(TARGET_LOG_PHI, smf_params, sigma, REFINE_CONFIG, halo_grid, start, mu0)


def mean_log_sm_on_grid(weights, net_bounds, theta, halo_grid=_GRID, refine=True):
    """<log M*> at the cells of ``halo_grid`` for theta of shape (5, ); pure, jittable.

    ``refine=False``: the network alone, mu0 + MLP.
    """
    if refine:
        return refined_solution(weights, net_bounds, theta, halo_grid).mean_log_sm
    mu0 = zero_scatter_log_sm(TARGET_LOG_PHI, target_smf_params(as_params(theta)), halo_grid)
    return mu0 + correction(weights, net_bounds, theta, mu0)


def _bounds(net):
    return (
        jnp.asarray(net.theta_lo),
        jnp.asarray(net.theta_hi),
        float(net.logmh_lo),
        float(net.logmh_hi),
    )


def check_domain(net, theta, logmh=None, strict=False):
    """Warn (or raise DomainError if ``strict``) when inputs leave the training domain.

    Skipped for traced values (inside jit); call it at the public boundary.
    """
    try:
        theta = np.asarray(theta, dtype=float)
        logmh = None if logmh is None else np.asarray(logmh, dtype=float)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    names = ShamParams._fields
    problems = []
    if not np.all(np.isfinite(theta)):
        raise DomainError(f"SHAMNet parameters contain NaN or infinity: {theta}")
    for i, name in enumerate(names):
        v = theta[..., i]
        if np.any(v < net.theta_lo[i]) or np.any(v > net.theta_hi[i]):
            problems.append(f"{name}={v} outside [{net.theta_lo[i]}, {net.theta_hi[i]}]")
    if logmh is not None:
        if not np.all(np.isfinite(logmh)):
            raise DomainError("log Mpeak contains NaN or infinity")
        out = (logmh < net.logmh_lo) | (logmh > net.logmh_hi)
        if np.any(out):
            problems.append(
                f"{out.sum()} of {out.size} log Mpeak values outside "
                f"[{net.logmh_lo}, {net.logmh_hi}] (min {logmh.min():.3f}, max {logmh.max():.3f})"
            )
    if problems:
        msg = "SHAMNet inputs outside its training domain: " + "; ".join(problems)
        if strict:
            raise DomainError(msg)
        warnings.warn(msg, stacklevel=3)


def shamnet_mean_log_sm_on_grid(net, params, strict=False, refine=True):
    """<log M*> [Msun/h^2] on SHAMNet's grid of log Mpeak.

    Parameters
    ----------
    net : ShamNet
    params : ShamParams or ndarray of shape (5, )
    strict : bool, optional
        Raise instead of warning outside the training domain.
    refine : bool, optional
        Converge the exact solver from the network's prediction (default), or return
        the network's alone.

    Returns
    -------
    logmh : ndarray of shape (n_grid, )
    mean_log_sm : ndarray of shape (n_grid, )
    """
    enable_float64()
    theta = as_theta(params)
    check_params(theta)
    check_domain(net, theta, strict=strict)
    return _GRID.logmh, _jit_grid(net.weights, _bounds(net), theta, refine)


def shamnet_mean_log_sm(net, params, logmh, strict=False, refine=True):
    """<log M*> [Msun/h^2] at arbitrary log Mpeak: grid evaluation plus interpolation.

    Parameters
    ----------
    net : ShamNet
    params : ShamParams or ndarray of shape (5, )
    logmh : ndarray of shape (n_halos, )
        log10 Mpeak [Msun/h].
    strict : bool, optional
        Raise DomainError instead of warning outside the training domain.
    refine : bool, optional
        Converge the exact solver from the network's prediction (default), or use the
        network's alone.

    Returns
    -------
    mean_log_sm : ndarray of shape (n_halos, )
        Differentiable in ``params`` (use jax.grad / jax.jacfwd on a function that
        calls :func:`interp_mean_log_sm`, which skips the domain check).
    """
    enable_float64()
    theta = as_theta(params)
    check_params(theta)
    logmh = jnp.asarray(logmh, dtype=float)
    check_domain(net, theta, logmh, strict=strict)
    return interp_mean_log_sm(net.weights, _bounds(net), theta, logmh, refine)


@partial(jax.jit, static_argnames=("refine",))
def _jit_grid(weights, bounds, theta, refine=True):
    return mean_log_sm_on_grid(weights, bounds, theta, refine=refine)


_GRID_X0 = float(_GRID.logmh[0])
_GRID_DX = float(_GRID.logmh[1] - _GRID.logmh[0])


def _interp_uniform_grid(x, values):
    """Linear interpolation on the uniform grid of _GRID, clamped at its ends: index
    arithmetic instead of a search, which matters for 10^6 halos."""
    values = jnp.asarray(values)
    s = jnp.clip((x - _GRID_X0) / _GRID_DX, 0.0, values.shape[0] - 1.0)
    i = jnp.minimum(jnp.floor(s).astype(int), values.shape[0] - 2)
    w = s - i
    return (1.0 - w) * values[i] + w * values[i + 1]


@partial(jax.jit, static_argnames=("refine",))
def interp_mean_log_sm(weights, bounds, theta, logmh, refine=True):
    """Pure, jittable core of :func:`shamnet_mean_log_sm` (no domain check)."""
    return _interp_uniform_grid(logmh, mean_log_sm_on_grid(weights, bounds, theta, refine=refine))


_GRID_LOG_NCUM = log_ncum_at_cells(_GRID)


def direct_mean_log_sm_and_solution(weights, bounds, theta, logmh, refine=True, halo_grid=None):
    """<log M*> evaluated at each log Mpeak, not interpolated between grid cells, and
    the refined solve behind it (None with ``refine=False``); pure, jittable.

    For fewer masses than grid cells (650), for example the bin centres of a
    tabulation: free of the interpolation error, and smooth in log Mpeak. The halo
    abundance n(>Mpeak) is interpolated from the grid's, so the network sees the
    zero-scatter mu0 it was trained on; refined, the solver's spline (solved on the
    grid) is evaluated there. ``halo_grid``: the population SHAM is solved for (the
    model SHMF by default; a catalog's own, on the same cells).
    """
    grid_log_ncum = _GRID_LOG_NCUM if halo_grid is None else log_ncum_at_cells(halo_grid)
    halo_grid = _GRID if halo_grid is None else halo_grid
    log_ncum = _interp_uniform_grid(logmh, grid_log_ncum)
    smf_params = target_smf_params(as_params(theta))
    if refine:
        solution = refined_solution(weights, bounds, theta, halo_grid)
        mu = mean_log_sm_at_abundance(TARGET_LOG_PHI, smf_params, solution.coeffs, log_ncum, REFINE_CONFIG)
        return mu, solution
    mu0 = log_sm_at_abundance(TARGET_LOG_PHI, smf_params, log_ncum)
    return mu0 + correction(weights, bounds, theta, mu0), None


@partial(jax.jit, static_argnames=("refine",))
def direct_mean_log_sm(weights, bounds, theta, logmh, refine=True):
    """<log M*> at each log Mpeak (see :func:`direct_mean_log_sm_and_solution`)."""
    return direct_mean_log_sm_and_solution(weights, bounds, theta, logmh, refine)[0]


@partial(jax.jit, static_argnames=("refine",))
def _value_and_jacobian(weights, bounds, theta, logmh, refine=True):
    def f(t):
        mu = _interp_uniform_grid(logmh, mean_log_sm_on_grid(weights, bounds, t, refine=refine))
        return mu, mu

    jac, mu = jax.jacfwd(f, has_aux=True)(theta)
    return mu, jac


def shamnet_mean_log_sm_and_jacobian(net, params, logmh, strict=False, refine=True):
    """<log M*> and its derivatives in all five parameters, for many halos at once.

    The network and its derivatives are evaluated on its 0.01-dex grid only; every halo
    costs one interpolation (index arithmetic, shared by value and derivatives).

    Parameters
    ----------
    net : ShamNet
    params : ShamParams or ndarray of shape (5, )
    logmh : ndarray of shape (n_halos, )
    strict : bool, optional
    refine : bool, optional
        As in :func:`shamnet_mean_log_sm`.

    Returns
    -------
    mean_log_sm : ndarray of shape (n_halos, )
    jacobian : ndarray of shape (n_halos, 5)
        d<log M*>/d(logphi, alpha, logmc, s_lo, s_hi).
    """
    enable_float64()
    theta = as_theta(params)
    check_params(theta)
    logmh = jnp.asarray(logmh, dtype=float)
    check_domain(net, theta, logmh, strict=strict)
    return _value_and_jacobian(net.weights, _bounds(net), theta, logmh, refine)


def sigma_on_grid(theta, halo_grid=_GRID):
    """Scatter at the grid cells for theta of shape (5, )."""
    p = as_params(theta)
    return scatter_sigma(halo_grid.logmh, p.s_lo, p.s_hi)
