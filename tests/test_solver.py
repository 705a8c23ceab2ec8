"""The exact SHAM solver against independent references: a brute-force convolution of
its own SMHM, zero-scatter abundance matching by adaptive quadrature, finite
differences, and the analytic Schechter derivatives its implied SMF must reproduce."""
import jax
import numpy as np
import pytest
from jax import numpy as jnp
from scipy import integrate

from diffsham.sham.implied_smf import implied_smf
from diffsham.sham.params import ShamParams
from diffsham.sham.scatter import scatter_sigma
from diffsham.sham.shmf import halo_grid_from_model, log_ncum_bpl
from diffsham.sham.smf import schechter_log_phi, smf_in_bins
from diffsham.sham.solver import (
    DEFAULT_SOLVER_CONFIG,
    mean_log_sm_from_solution,
    solve_sham,
    zero_scatter_log_sm,
)

GRID = halo_grid_from_model()
EDGES = np.asarray(DEFAULT_SOLVER_CONFIG.fit_edges())
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])
IN_RANGE = (CENTRES > 8.7) & (CENTRES < 11.7)
DEFAULT = ShamParams(-1.835, -1.06, 10.54, 0.3, 0.25)
CONVERGED_CASES = [
    DEFAULT,
    ShamParams(-1.835, -1.06, 10.54, 0.2, 0.2),
    ShamParams(-2.3, -1.35, 10.3, 0.2, 0.5),
]


@pytest.fixture(scope="module")
def solutions():
    return {p: solve_sham(p, GRID) for p in CONVERGED_CASES}


def _triweight_cdf_numpy(z):
    u = np.clip(z / 3.0, -1, 1)
    return 0.5 + 35.0 / 32.0 * (u - u**3 + 0.6 * u**5 - u**7 / 7.0)


def test_zero_scatter_matching_equates_cumulative_abundances():
    logphi, alpha, logmc = DEFAULT[:3]
    mu0 = np.asarray(zero_scatter_log_sm(schechter_log_phi, DEFAULT[:3], GRID))

    def phi(x):
        r = 10.0 ** (x - logmc)
        return np.log(10) * 10**logphi * r ** (1 + alpha) * np.exp(-r)

    for logmh in (11.0, 12.0, 13.0, 14.5):
        i = int(np.argmin(np.abs(np.asarray(GRID.logmh) - logmh)))
        # the solver's cumulative counts halos above the cell centre (half the cell)
        n_halo = 10 ** log_ncum_bpl(float(GRID.logmh[i]))
        n_gal = integrate.quad(phi, mu0[i], 14.0, epsrel=1e-11, limit=200)[0]
        assert np.isclose(n_gal, n_halo, rtol=2e-3), (logmh, n_gal, n_halo)


@pytest.mark.parametrize("params", CONVERGED_CASES)
def test_implied_smf_matches_target_to_1e3_dex(solutions, params):
    sol = solutions[params]
    # brute force, in NumPy: every halo cell's triweight probability in every bin
    mu = np.asarray(sol.mean_log_sm)
    sig = np.asarray(scatter_sigma(GRID.logmh, params.s_lo, params.s_hi))
    w = _triweight_cdf_numpy((EDGES[None, 1:] - mu[:, None]) / sig[:, None])
    w -= _triweight_cdf_numpy((EDGES[None, :-1] - mu[:, None]) / sig[:, None])
    phi = np.asarray(GRID.dn) @ w / np.diff(EDGES)
    target = np.asarray(smf_in_bins(schechter_log_phi, jnp.asarray(EDGES), *params[:3]))
    resid = np.log10(phi / target)
    assert np.allclose(resid, sol.log_resid, atol=1e-8)
    assert np.abs(resid[IN_RANGE]).max() <= 1e-3


@pytest.mark.xfail(
    strict=True,
    reason="measured limitation: at s_lo = s_hi = 0.5 the best smooth SMHM misses the "
    "Schechter target by 2.9e-3 dex (log M* 10.65); at 0.45 it reaches 7.9e-4. A "
    "non-negative least-squares deconvolution with an arbitrary (non-smooth) intrinsic SMF "
    "also bottoms out at 1.4e-3 dex for a constant 0.5-dex triweight scatter",
)
def test_large_scatter_reaches_1e3_dex():
    sol = solve_sham(ShamParams(-1.835, -1.06, 10.54, 0.5, 0.5), GRID)
    assert np.abs(np.asarray(sol.log_resid)[IN_RANGE]).max() <= 1e-3


def test_smhm_gradients_match_finite_differences():
    p0 = jnp.asarray(DEFAULT)
    logmh = jnp.array([11.0, 12.0, 13.0, 14.0, 15.0])

    def mu(p):
        return mean_log_sm_from_solution(solve_sham(ShamParams(*p), GRID), logmh)

    jac = np.asarray(jax.jacfwd(mu)(p0))
    for k in range(5):
        h = np.zeros(5)
        h[k] = 2e-4
        fd = (np.asarray(mu(p0 + h)) - np.asarray(mu(p0 - h))) / 4e-4
        assert np.allclose(jac[:, k], fd, rtol=0.03, atol=0.01), (k, jac[:, k], fd)


def test_implied_smf_has_the_analytic_schechter_gradients():
    """d log10 SMF/d theta of exact SHAM equals that of the target Schechter SMF (zero for
    the scatter), because the implied SMF equals the target for every theta. The target's
    derivatives are checked against their closed forms in test_smf.py."""
    params = CONVERGED_CASES[1]
    edges = jnp.asarray(np.linspace(9.0, 11.0, 11))

    def log_smf(p):
        sol = solve_sham(ShamParams(*p), GRID)
        sigma = scatter_sigma(GRID.logmh, p[3], p[4])
        return jnp.log10(implied_smf(sol.mean_log_sm, sigma, GRID.dn, edges))

    def log_target(p):
        return jnp.log10(smf_in_bins(schechter_log_phi, edges, *p[:3]))

    theta = jnp.asarray(params)
    jac = np.asarray(jax.jacfwd(log_smf)(theta))
    expected = np.asarray(jax.jacfwd(log_target)(theta))
    assert np.allclose(jac, expected, atol=0.02), np.abs(jac - expected).max(axis=0)


def test_solver_accepts_a_tabulated_shmf():
    """A catalog's histogram of log Mpeak drawn from the model SHMF gives the model's SMHM.

    The 2x10^6 masses are the model's quantiles (stratified, no Poisson noise), so the
    histogram differs from the model only by the discreteness of the halos."""
    from diffsham.sham.shmf import halo_grid_from_catalog

    n_halos = 2_000_000
    logm = np.linspace(10.0, 16.5, 200001)
    ncum = 10 ** np.asarray(log_ncum_bpl(logm))
    volume = n_halos / (ncum[0] - ncum[-1])
    targets = ncum[0] - (np.arange(n_halos) + 0.5) / volume
    sample = np.interp(-targets, -ncum, logm)
    grid = halo_grid_from_catalog(sample, volume)
    sol = solve_sham(DEFAULT, grid)
    ref = solve_sham(DEFAULT, GRID)
    sel = (np.asarray(GRID.logmh) > 11) & (np.asarray(GRID.logmh) < 13.5)
    assert np.abs(np.asarray(sol.mean_log_sm - ref.mean_log_sm)[sel]).max() < 0.01


def test_closed_form_smf_jacobians_match_autodiff():
    from diffsham.sham.implied_smf import implied_smf_jacobians

    mu = jnp.linspace(8.0, 12.0, 40)
    sigma = jnp.linspace(0.2, 0.45, 40)
    dn = jnp.logspace(-2, -5, 40)
    edges = jnp.linspace(8.5, 11.5, 16)
    jac_mu, jac_sigma = implied_smf_jacobians(mu, sigma, dn, edges)
    assert np.allclose(jac_mu, jax.jacfwd(implied_smf, argnums=0)(mu, sigma, dn, edges), rtol=1e-10, atol=1e-16)
    assert np.allclose(jac_sigma, jax.jacfwd(implied_smf, argnums=1)(mu, sigma, dn, edges), rtol=1e-10, atol=1e-16)


@pytest.mark.parametrize(
    "params, match",
    [((-1.8, np.nan, 10.5, 0.3, 0.3), "alpha"), ((-1.8, -1.1, 10.5, 0.0, 0.3), "scatter"),
     ((-1.8, -1.1, 10.5, 0.3), "last axis of length 5")],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        solve_sham(params)
