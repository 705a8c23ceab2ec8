"""Accuracy of SHAMNet: its implied SMF against the target, and its SMHM against the solver.

Used by the training report, the tests and the benchmarks, so the three agree on what
"accurate" means.
"""
from functools import partial

import jax
import numpy as np
from jax import numpy as jnp

from ..sham.implied_smf import implied_smf, implied_smf_jacobians
from ..sham.params import ShamParams
from ..sham.params import TARGET_LOG_PHI, as_params, target_smf_params
from ..sham.smf import smf_in_bins
from ..sham.solver import DEFAULT_SOLVER_CONFIG, solve_sham
from .network import _GRID, mean_log_sm_on_grid, sigma_on_grid

__all__ = (
    "EVAL_SM_EDGES",
    "sample_theta",
    "log_smf_errors_and_jacobian",
    "smf_accuracy",
    "smhm_accuracy_vs_solver",
)

# 0.02-dex bins over the range of the acceptance criteria, log M* 8.7-11.7 [Msun/h^2]
EVAL_SM_EDGES = np.linspace(8.7, 11.7, 151)  # NumPy: nothing computed at import


def sample_theta(key, n, theta_lo, theta_hi):
    """Parameters drawn uniformly in the box [theta_lo, theta_hi], shape (n, 5)."""
    u = jax.random.uniform(key, (n, len(theta_lo)))
    return jnp.asarray(theta_lo) + u * (jnp.asarray(theta_hi) - jnp.asarray(theta_lo))


def log_smf_errors_and_jacobian(weights, bounds, theta, sm_edges, halo_grid=_GRID, refine=True):
    """log10(pred/target) of the SMF and the error of its theta-Jacobian.

    ``refine`` as in :func:`~diffsham.shamnet.network.mean_log_sm_on_grid` (training
    uses the network alone).

    The Jacobian of the implied SMF is composed in closed form,
    d phi/d theta = (d phi/d mu)(d mu/d theta) + (d phi/d sigma)(d sigma/d theta),
    so forward-mode differentiation only runs through <log M*>, not through the
    (n_cells x n_bins) kernel; training, which differentiates this again in the
    weights, is several times faster.

    Returns
    -------
    err : ndarray of shape (n_bins, )
    jac_err : ndarray of shape (n_bins, 5)
    """

    def mu_fn(t):
        return mean_log_sm_on_grid(weights, bounds, t, halo_grid, refine=refine)

    def sigma_fn(t):
        return sigma_on_grid(t, halo_grid)

    def log_target(t):
        return jnp.log10(smf_in_bins(TARGET_LOG_PHI, sm_edges, *target_smf_params(as_params(t))))

    mu, dmu = mu_fn(theta), jax.jacfwd(mu_fn)(theta)
    sigma, dsigma = sigma_fn(theta), jax.jacfwd(sigma_fn)(theta)
    phi = jnp.maximum(implied_smf(mu, sigma, halo_grid.dn, sm_edges), 1e-300)
    jac_mu, jac_sigma = implied_smf_jacobians(mu, sigma, halo_grid.dn, sm_edges)
    jac_phi = jac_mu @ dmu + jac_sigma @ dsigma
    jac_log = jac_phi / (jnp.log(10.0) * phi[:, None])
    err = jnp.log10(phi) - log_target(theta)
    return err, jac_log - jax.jacfwd(log_target)(theta)


_smf_and_grad_errors = jax.jit(log_smf_errors_and_jacobian, static_argnames=("refine",))


def smf_accuracy(net, thetas, sm_edges=EVAL_SM_EDGES, refine=True):
    """SMF errors of SHAMNet over parameter draws.

    Parameters
    ----------
    net : ShamNet
    thetas : ndarray of shape (n_draws, 5)
    sm_edges : ndarray of shape (n_bins + 1, )
    refine : bool, optional
        The refined prediction (default) or the network alone.

    Returns
    -------
    stats : dict
        ``smf_rms``, ``smf_p99``, ``smf_max`` of |log10(pred/target)| [dex] over all
        draws and bins; ``grad_median`` and ``grad_p99`` (lists of 5, one per parameter)
        of |d log10 SMF/d theta - analytic Schechter derivative|.
    errors : ndarray of shape (n_draws, n_bins)
    grad_errors : ndarray of shape (n_draws, n_bins, 5)
    """
    bounds = (jnp.asarray(net.theta_lo), jnp.asarray(net.theta_hi), net.logmh_lo, net.logmh_hi)
    errs, gerrs = [], []
    for theta in np.asarray(thetas):
        e, g = _smf_and_grad_errors(net.weights, bounds, jnp.asarray(theta), sm_edges, refine=refine)
        errs.append(np.asarray(e))
        gerrs.append(np.asarray(g))
    errs, gerrs = np.array(errs), np.abs(np.array(gerrs))
    abs_err = np.abs(errs)
    stats = dict(
        smf_rms=float(np.sqrt(np.mean(errs**2))),
        smf_p99=float(np.percentile(abs_err, 99)),
        smf_max=float(abs_err.max()),
        grad_median=[float(np.median(gerrs[..., k])) for k in range(gerrs.shape[-1])],
        grad_p99=[float(np.percentile(gerrs[..., k], 99)) for k in range(gerrs.shape[-1])],
    )
    return stats, errs, gerrs


def smhm_accuracy_vs_solver(net, thetas, logmh_lo=11.0, logmh_hi=15.0, max_solver_resid=None, refine=True):
    """<log M*> and d<log M*>/d theta of SHAMNet against the exact solver.

    Parameters
    ----------
    net : ShamNet
    thetas : ndarray of shape (n_draws, 5)
    logmh_lo, logmh_hi : float
        Range of log Mpeak compared.
    max_solver_resid : float, optional
        Compare only draws where the solver itself is exact, i.e. its SMF is within this
        many dex of the target over 8.7-11.7 (elsewhere, near the largest scatter, it is
        the best smooth compromise and its implicit derivatives are ill-conditioned).
    refine : bool, optional
        The refined prediction (default) or the network alone.

    Returns
    -------
    stats : dict
        ``mu_median``, ``mu_p99`` [dex]; ``grad_median``, ``grad_p99`` of the absolute
        gradient differences over all parameters; and the solver's own worst SMF
        residual over 8.7-11.7, ``solver_resid_max`` (all draws), and ``n_used``.
    """
    bounds = (jnp.asarray(net.theta_lo), jnp.asarray(net.theta_hi), net.logmh_lo, net.logmh_hi)
    sel = np.asarray((_GRID.logmh >= logmh_lo) & (_GRID.logmh <= logmh_hi))
    fit_edges = np.asarray(DEFAULT_SOLVER_CONFIG.fit_edges())
    fit_c = 0.5 * (fit_edges[1:] + fit_edges[:-1])
    in_range = (fit_c > 8.7) & (fit_c < 11.7)
    mu_d, g_d, resid = [], [], []
    for theta in np.asarray(thetas):
        theta = jnp.asarray(theta)
        mu_net, j_net = _net_and_jac(net.weights, bounds, theta, refine)
        mu_sol, j_sol, r = _solver_and_jac(theta)
        mu_d.append(np.abs(np.asarray(mu_net - mu_sol))[sel])
        g_d.append(np.abs(np.asarray(j_net - j_sol))[sel])
        resid.append(np.abs(np.asarray(r))[in_range].max())
    use = np.ones(len(resid), bool) if max_solver_resid is None else np.array(resid) <= max_solver_resid
    mu_d, g_d = np.array(mu_d)[use], np.array(g_d)[use]
    return dict(
        n_used=int(use.sum()),
        mu_median=float(np.median(mu_d)),
        mu_p99=float(np.percentile(mu_d, 99)),
        grad_median=float(np.median(g_d)),
        grad_p99=float(np.percentile(g_d, 99)),
        solver_resid_max=[float(x) for x in resid],
    )


@partial(jax.jit, static_argnames=("refine",))
def _net_and_jac(weights, bounds, theta, refine=True):
    def f(t):
        mu = mean_log_sm_on_grid(weights, bounds, t, refine=refine)
        return mu, mu

    jac, mu = jax.jacfwd(f, has_aux=True)(theta)
    return mu, jac


@jax.jit
def _solver_and_jac(theta):
    # one solve: value and residual ride along the Jacobian's forward pass
    def f(t):
        sol = solve_sham(ShamParams(*t))
        return sol.mean_log_sm, (sol.mean_log_sm, sol.log_resid)

    jac, (mu, resid) = jax.jacfwd(f, has_aux=True)(theta)
    return mu, jac, resid
