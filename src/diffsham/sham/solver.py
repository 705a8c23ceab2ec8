"""The exact SHAM solver: <log M* | Mpeak> whose scatter-convolved SMF is the target.

<log M*>(log Mpeak) is zero-scatter abundance matching mu0 plus a correction that is a
uniform cubic B-spline in mu0. The spline coefficients minimise

    L(c) = 1/2 sum_b [log10 phi_implied,b(c) - log10 phi_target,b]^2 + 1/2 lam |D2 c|^2

over narrow stellar-mass bins (Levenberg-Marquardt from a zero correction). The small second-difference penalty only fixes directions the
SMF cannot see (halos too small to reach the fitted range).

Gradients are implicit: the converged coefficients c* carry the derivative of one
Newton step, -H^-1 d(grad L)/d theta (the implicit-function theorem), while their
value stays c*.

A smooth SMHM cannot always reproduce a Schechter tail: when the high-mass scatter
is large, galaxies scattered up from the knee already exceed the target's
exponential cutoff near log M* ~ 11.5-11.7. The solver then returns the
least-squares SMHM, and :func:`solve_sham` reports the residual so callers can see it.
"""
from functools import partial
from typing import NamedTuple

import jax
import numpy as np
from jax import lax
from jax import numpy as jnp

from .linalg import solve
from .implied_smf import implied_smf, implied_smf_jacobians, implied_smf_mu_curvature
from ..precision import enable_float64
from .params import TARGET_LOG_PHI, as_params, as_theta, check_params, target_smf_params
from .scatter import scatter_sigma
from .shmf import DEFAULT_HALO_GRID
from .smf import integrate_cumulative, smf_in_bins
from .spline import SplineKnots, design_matrix, eval_spline, n_coeffs

__all__ = (
    "SolverConfig",
    "DEFAULT_SOLVER_CONFIG",
    "ShamSolution",
    "solve_smhm",
    "solve_sham",
    "mean_log_sm_from_solution",
    "mean_log_sm_at_abundance",
    "zero_scatter_log_sm",
    "log_ncum_at_cells",
    "log_sm_at_abundance",
)


class SolverConfig(NamedTuple):
    """Static settings of the solver (hashable, so it can key jit caches).

    Attributes
    ----------
    knots : SplineKnots
        Knots of the correction spline, in zero-scatter log M* [Msun/h^2].
    fit_lo, fit_hi, fit_step : float
        Stellar-mass bins over which the SMF is matched [log10 Msun/h^2].
    smooth : float
        Weight of the second-difference penalty on the spline coefficients.
    n_iter : int
        Levenberg-Marquardt iterations in all (fixed, so the solve can be vmapped).
    sigma_start : float
        Scatter [dex] at which the continuation starts.
    ramp : float
        Fraction of the iterations over which the scatter reaches its target.
    tol : float
        Stop early once an accepted step moves <log M*> by less than this [dex]
        wherever it lies in the fitted range (after the ramp); 0 runs all ``n_iter``
        iterations.
    lam_start : float
        Initial Levenberg-Marquardt damping, relative to the diagonal of the
        Gauss-Newton matrix (small for a start already close to the solution).
    lam_down, lam_up : float
        Factors applied to the damping after an accepted and a rejected step.
    lam_reject_min : float
        After a rejected step the damping is at least this: from a tiny ``lam_start``
        a few rejections then suffice instead of a dozen.
    """

    knots: SplineKnots = SplineKnots(6.5, 0.1, 65)
    fit_lo: float = 8.2
    fit_hi: float = 11.8
    fit_step: float = 0.02
    smooth: float = 1e-4
    n_iter: int = 200
    sigma_start: float = 0.05
    ramp: float = 0.5
    tol: float = 0.0
    lam_start: float = 1e-3
    lam_down: float = 0.3
    lam_up: float = 5.0
    lam_reject_min: float = 0.0

    def fit_edges(self):
        n = int(round((self.fit_hi - self.fit_lo) / self.fit_step))
        return jnp.asarray(np.linspace(self.fit_lo, self.fit_hi, n + 1))


DEFAULT_SOLVER_CONFIG = SolverConfig()


class ShamSolution(NamedTuple):
    """Result of a SHAM solve.

    Attributes
    ----------
    logmh : ndarray of shape (n_cells, )
        log10 Mpeak of the halo cells [Msun/h].
    mean_log_sm : ndarray of shape (n_cells, )
        <log M*> [Msun/h^2] at the cells: zero-scatter abundance matching plus a
        smooth spline correction.
    log_resid : ndarray of shape (n_fit_bins, )
        log10(phi_implied / phi_target) in the fitted bins (raw: also where a catalog
        has too few halos for the fit to look). A diagnostic: it carries no derivatives.
    coeffs : ndarray of shape (n_coeffs, )
        Spline coefficients of the correction (in zero-scatter log M*; see
        :func:`mean_log_sm_at_abundance` to evaluate it at any halo abundance).
    n_iter : int
        Levenberg-Marquardt iterations taken.
    converged : bool
        The solve stopped because its last accepted step moved <log M*> by less than
        the tolerance (``config.tol``, or 1e-3 dex for a fixed number of iterations),
        not at the iteration cap. The implicit derivatives assume a converged solve.
    """

    logmh: jnp.ndarray
    mean_log_sm: jnp.ndarray
    log_resid: jnp.ndarray
    coeffs: jnp.ndarray
    n_iter: jnp.ndarray
    converged: jnp.ndarray


_MU_FLOOR = 4.0  # log M* given to halos that host no galaxy of the target SMF


def _second_differences(n):
    d = np.zeros((n - 2, n))
    for i in range(n - 2):
        d[i, i : i + 3] = (1.0, -2.0, 1.0)
    return jnp.asarray(d.T @ d)


def _spline_basis(mu0, knots):
    """Design matrix of the correction spline at zero-scatter log M* ``mu0``, held flat
    beyond the knots."""
    return design_matrix(jnp.clip(mu0, knots.x0, knots.x0 + knots.step * knots.n_intervals), knots)


def _project_on_basis(basis, values):
    """Least-squares spline coefficients of ``values`` (lightly regularised: cells
    beyond the knots leave end coefficients unconstrained)."""
    btb = basis.T @ basis
    ridge = 1e-8 * jnp.mean(jnp.diag(btb)) * jnp.eye(btb.shape[0])
    return solve(btb + ridge, basis.T @ values)


def _log_smf_jacobian_in_coeffs(mu, sigma, dn, edges, basis, phi):
    """d log10 phi_b / d c_k for <log M*> = mu0 + basis @ c, in closed form."""
    return (implied_smf_jacobians(mu, sigma, dn, edges)[0] @ basis) / (jnp.log(10.0) * phi[:, None])


def zero_scatter_log_sm(log_phi_fn, smf_params, halo_grid):
    """<log M*> of zero-scatter abundance matching, n_gal(>M*) = n_h(>Mpeak).

    Parameters
    ----------
    log_phi_fn : callable
    smf_params : tuple of floats
    halo_grid : HaloGrid

    Returns
    -------
    mu0 : ndarray of shape (n_cells, )
        Floored at log M* = 4: halos that host no galaxy of the target SMF.
    """
    return log_sm_at_abundance(log_phi_fn, smf_params, log_ncum_at_cells(halo_grid))


def log_ncum_at_cells(halo_grid):
    """log10 n_h(>Mpeak) at the cell centres of a HaloGrid (half of each cell counted).

    NumPy in, NumPy out (a constant for the jitted callers); JAX arrays otherwise.
    """
    xp = np if isinstance(halo_grid.dn, np.ndarray) else jnp
    ncum_halo = xp.cumsum(halo_grid.dn[::-1])[::-1] - 0.5 * halo_grid.dn
    return xp.log10(xp.maximum(ncum_halo, 1e-300))


def log_sm_at_abundance(log_phi_fn, smf_params, log_ncum_halo):
    """log M* where the target SMF's n_gal(>M*) equals the given log10 abundances.

    Parameters
    ----------
    log_phi_fn : callable
    smf_params : tuple of floats
    log_ncum_halo : ndarray of shape (n, )
        log10 n(>Mpeak) [h^3 Mpc^-3].

    Returns
    -------
    mu0 : ndarray of shape (n, ), floored at log M* = 4
    """
    logsm = jnp.linspace(_MU_FLOOR, 13.0, 2251)
    # 3 Gauss-Legendre nodes per 0.004-dex interval agree with 12 to ~1e-10
    log_ncum_gal = jnp.log10(integrate_cumulative(log_phi_fn, logsm, smf_params, n_nodes=3) + 1e-300)
    return jnp.interp(-log_ncum_halo, -log_ncum_gal, logsm, left=_MU_FLOOR, right=13.0)


@partial(jax.jit, static_argnums=(0, 3))
def solve_smhm(log_phi_fn, smf_params, sigma, config, halo_grid, start_offset=None, mu0=None):
    """Solve for <log M*>(log Mpeak) given a target SMF, the scatter and an SHMF.

    Parameters
    ----------
    log_phi_fn : callable
        log_phi_fn(logsm, *smf_params) -> log10 target SMF per dex (static).
    smf_params : tuple of floats
        Parameters of the target SMF; gradients flow through them.
    sigma : ndarray of shape (n_cells, )
        Scatter [dex] at each halo cell; gradients flow through it.
    config : SolverConfig (static)
    halo_grid : HaloGrid
        The halo population (model SHMF or a catalog's histogram).
    start_offset : ndarray of shape (n_cells, ), optional
        A first guess of <log M*> minus zero-scatter matching at the cells (SHAMNet's
        correction); its least-squares projection onto the spline is the starting
        point. Default: zero, i.e. start from zero-scatter matching. Only the
        converged point carries derivatives, so a start close to the solution changes
        the cost, not the result.
    mu0 : ndarray of shape (n_cells, ), optional
        ``zero_scatter_log_sm(log_phi_fn, smf_params, halo_grid)``, if the caller has
        it already (SHAMNet does); computed here otherwise. Under forward-mode
        differentiation, computing it twice costs ~0.7 ms more than passing it.

    Returns
    -------
    solution : ShamSolution
    """
    knots = config.knots
    edges = config.fit_edges()
    if mu0 is None:
        mu0 = zero_scatter_log_sm(log_phi_fn, smf_params, halo_grid)
    # The correction is a spline in zero-scatter log M* (uniform resolution where the
    # SMF is measured; in log Mpeak the relation is steep at low mass), held flat beyond
    # its knots. The iterations use its basis at the current mu0; the basis moves with
    # theta through mu0 (``basis_live``), and the implicit derivative below keeps that
    # motion: freezing it left errors of up to ~5% in d<log M*>/d theta (up to ~40% at
    # scatter 0.4) against finite differences.
    basis_live = _spline_basis(mu0, knots)
    basis = lax.stop_gradient(basis_live)
    penalty = config.smooth * _second_differences(n_coeffs(knots))
    target = smf_in_bins(log_phi_fn, edges, *smf_params)
    # A halo population resolves abundances down to about one object per volume: a
    # catalog has no halos in the highest cells, so bins its galaxies cannot reach would
    # dominate the fit. Below 1% of the smallest cell's abundance per bin, the fit does
    # not look (for the model SHMF this floor is ~1e-12 and changes nothing).
    floor = 0.01 * jnp.min(jnp.where(halo_grid.dn > 0, halo_grid.dn, jnp.inf)) / config.fit_step
    log_target = jnp.log10(target + floor)

    # Levenberg-Marquardt on values held fixed: only the converged point matters
    sig0, tgt0 = lax.stop_gradient(sigma), lax.stop_gradient(log_target)
    mu0_fixed = lax.stop_gradient(mu0)
    if start_offset is None:
        c0 = jnp.zeros(n_coeffs(knots))
    else:
        c0 = _project_on_basis(basis, lax.stop_gradient(start_offset))

    # Continuation in the scatter: zero-scatter matching is close to the solution for
    # a narrow kernel. The kernel widens linearly to the target over the first
    # ``ramp`` fraction of the iterations, one LM step each, so every step starts near
    # its solution (from zero-scatter matching at the full scatter the fit starts ~1 dex
    # off in the tail and stalls; converging at a narrow kernel instead chases the
    # discreteness of the halo cells).
    sig_start = jnp.minimum(sig0, config.sigma_start)
    n_ramp = max(1, int(config.ramp * config.n_iter))

    def sigma_at(it):
        return sig_start + jnp.minimum(1.0, (it + 1.0) / n_ramp) * (sig0 - sig_start)

    def phi_at(c, sig):
        return implied_smf(mu0_fixed + basis @ c, sig, halo_grid.dn, edges) + floor

    def lm_step(state):
        # phi: the implied SMF at c for this iteration's scatter, carried over from the
        # previous iteration's trial once the scatter has stopped changing
        it, c, lam, _, phi, last_accepted = state
        sig = sigma_at(it)
        mu = mu0_fixed + basis @ c
        r = jnp.log10(phi) - tgt0
        jac = _log_smf_jacobian_in_coeffs(mu, sig, halo_grid.dn, edges, basis, phi)
        a = jac.T @ jac + penalty
        g = jac.T @ r + penalty @ c
        # The damping floor covers cells too rare to change the SMF, where diag(a) ~ 0
        damp = jnp.diag(a) + 1e-3 * jnp.mean(jnp.diag(a))
        dc = -solve(a + lam * jnp.diag(damp), g)
        phi_trial = phi_at(c + dc, sig)
        r_trial = jnp.log10(phi_trial) - tgt0
        c_trial = c + dc
        ok = (r_trial @ r_trial + c_trial @ penalty @ c_trial) < (r @ r + c @ penalty @ c)
        # size of an accepted step in log M* where galaxies are fitted (a rejected step
        # is not convergence; beyond the fitted range only the penalty still acts)
        fitted = (mu > config.fit_lo) & (mu < config.fit_hi)
        step_size = jnp.max(jnp.where(fitted, jnp.abs(basis @ dc), 0.0))
        change = jnp.where(ok, step_size, jnp.inf)
        c_next = jnp.where(ok, c_trial, c)
        phi_next = lax.cond(
            it + 1 >= n_ramp,  # the scatter is final from here on
            lambda: jnp.where(ok, phi_trial, phi),
            lambda: phi_at(c_next, sigma_at(it + 1)),
        )
        lam_next = jnp.where(ok, lam * config.lam_down, jnp.maximum(lam * config.lam_up, config.lam_reject_min))
        return it + 1, c_next, lam_next, change, phi_next, jnp.where(ok, step_size, last_accepted)

    def not_done(state):
        it, _, _, change, _, _ = state
        return (it < config.n_iter) & ((it < n_ramp) | (change >= config.tol))

    state = (jnp.asarray(0), c0, jnp.asarray(config.lam_start), jnp.asarray(jnp.inf), phi_at(c0, sigma_at(0)),
             jnp.asarray(jnp.inf))
    n_taken, c_star, _, change, phi_star, last_accepted = lax.stop_gradient(
        lax.while_loop(not_done, lm_step, state))
    converged = (change < config.tol) if config.tol > 0 else (last_accepted < 1e-3)

    # One Newton step at the converged point carries the implicit derivatives
    # (implicit-function theorem: dc/dtheta = -H^-1 d(grad_c L)/dtheta), exactly:
    # * H is the full Hessian of L, J^T J + P + sum_b r_b d^2 r_b/dc^2, the last term
    #   from the per-cell curvature of the implied SMF (diagonal in the cells);
    # * d(grad_c L)/dtheta = J^T dr/dtheta + (dJ/dtheta)^T r: the residuals' change
    #   from the closed-form per-cell Jacobians, and J re-evaluated where mu0, the
    #   basis and the scatter move with theta.
    # The Gauss-Newton approximation (dropping the terms in r) left errors of up to
    # ~25% against finite differences at high scatter, where the SMF barely constrains
    # some directions of the SMHM and small residuals are amplified.
    ln10 = jnp.log(10.0)
    mu_star = mu0_fixed + basis @ c_star
    mu_live = mu0 + basis_live @ c_star  # moves with theta; equals mu_star in value
    jac_mu_live, jac_sigma_live = implied_smf_jacobians(mu_live, sigma, halo_grid.dn, edges)
    jac_mu, jac_sigma = lax.stop_gradient(jac_mu_live), lax.stop_gradient(jac_sigma_live)
    jac = (jac_mu @ basis) / (ln10 * phi_star[:, None])
    d_mu = mu_live - mu_star
    d_phi = jac_mu @ d_mu + jac_sigma @ (sigma - sig0)
    r_star = jnp.log10(phi_star) - tgt0
    r = r_star + d_phi / (ln10 * phi_star) - (log_target - tgt0)
    jac_live = (jac_mu_live @ basis_live) / (ln10 * (phi_star + d_phi)[:, None])
    grad = jac.T @ r + (jac_live - lax.stop_gradient(jac_live)).T @ r_star + penalty @ c_star
    curvature = implied_smf_mu_curvature(mu_star, sig0, halo_grid.dn, edges)
    weight = r_star / (ln10 * phi_star)
    jac_phi = jac_mu @ basis
    hessian = (jac.T @ jac + penalty + basis.T @ ((weight @ curvature)[:, None] * basis)
               - jac_phi.T @ ((weight / phi_star)[:, None] * jac_phi))
    step = solve(hessian, grad)
    coeffs = c_star - (step - lax.stop_gradient(step))
    mean_log_sm = mu0 + basis_live @ coeffs
    phi = lax.stop_gradient(phi_star - floor)
    return ShamSolution(halo_grid.logmh, mean_log_sm, jnp.log10(phi / lax.stop_gradient(target)), coeffs, n_taken,
                        converged)


def solve_sham(params, halo_grid=None, config=DEFAULT_SOLVER_CONFIG):
    """Exact SHAM for a Schechter SMF and the sigmoid scatter model.

    Parameters
    ----------
    params : ShamParams, ShamUParams or array of shape (5, )
        (logphi, alpha, logmc, s_lo, s_hi); checked eagerly (NaN, a scatter <= 0).
    halo_grid : HaloGrid, optional
        Defaults to the Bolshoi-Planck SHMF at z=0 on 0.01-dex cells.
    config : SolverConfig, optional

    Returns
    -------
    solution : ShamSolution
        Differentiable in ``params``; evaluate with :func:`mean_log_sm_from_solution`.
    """
    enable_float64()
    check_params(params)
    p = as_params(as_theta(params))
    if halo_grid is None:
        halo_grid = DEFAULT_HALO_GRID
    sigma = scatter_sigma(halo_grid.logmh, p.s_lo, p.s_hi)
    return solve_smhm(TARGET_LOG_PHI, target_smf_params(p), sigma, config, halo_grid)


def mean_log_sm_at_abundance(log_phi_fn, smf_params, coeffs, log_ncum_halo, config=DEFAULT_SOLVER_CONFIG):
    """<log M*> of a solution at any halo abundance, from its spline coefficients.

    Free of the interpolation between cells of :func:`mean_log_sm_from_solution`, and
    smooth in the abundance. As in the solver, the spline's basis is frozen in the
    parameters (its derivative in ``log_ncum_halo`` is kept).

    Parameters
    ----------
    log_phi_fn : callable
    smf_params : tuple of floats
    coeffs : ndarray of shape (n_coeffs, )
        ``ShamSolution.coeffs``.
    log_ncum_halo : ndarray of shape (n, )
        log10 n(>Mpeak) [h^3 Mpc^-3] of the halos.
    config : SolverConfig, optional
        The configuration the solution was computed with (its knots).

    Returns
    -------
    mean_log_sm : ndarray of shape (n, )
    """
    mu0 = log_sm_at_abundance(log_phi_fn, smf_params, log_ncum_halo)
    knots = config.knots
    x = jnp.clip(mu0, knots.x0, knots.x0 + knots.step * knots.n_intervals)
    return mu0 + eval_spline(coeffs, x, knots)


def mean_log_sm_from_solution(solution, logmh):
    """<log M*> [Msun/h^2] of a solution at log Mpeak ``logmh`` (ndarray of shape (n, )).

    Interpolates the 0.01-dex cell values linearly; the interpolation error of this
    smooth relation is below 1e-5 dex where halos host galaxies above 10^7 Msun/h^2.
    """
    return jnp.interp(logmh, solution.logmh, solution.mean_log_sm)
