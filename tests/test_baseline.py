"""The conventional baseline: the mean of many Monte Carlo mocks is the exact prediction
(which checks the baseline and the framework against each other), and its likelihood's
two seeding schemes and prior support."""
import numpy as np
import pytest

from diffsham.baseline import MonteCarloLikelihood, make_monte_carlo_predictor
from diffsham.baseline.monte_carlo import make_interpolated_smhm
from diffsham.model import make_forward_model
from diffsham.sham.params import DEFAULT_SHAM_PARAMS

THETA = np.asarray(DEFAULT_SHAM_PARAMS)
SM_BINS = np.array([[9.8, 10.4], [10.4, 11.0]])
SMF_BINS = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)


@pytest.fixture(scope="module")
def exact(small_catalog, small_model):
    return make_forward_model(small_catalog, SMF_BINS, SM_BINS, SM_BINS, config=small_model.config.replace(path="exact"))


@pytest.mark.parametrize("pair_counter", ["corrfunc", "halotools"])
def test_mean_of_mocks_is_the_exact_prediction(small_catalog, exact, pair_counter):
    if pair_counter == "corrfunc":
        pytest.importorskip("Corrfunc", reason="Corrfunc is not installed (it needs libgsl-dev)")
    pytest.importorskip("halotools")
    predict = make_monte_carlo_predictor(exact, small_catalog, pair_counter=pair_counter)
    rng = np.random.default_rng(1)
    mocks = np.array([predict(THETA, rng) for _ in range(300)])
    truth = np.asarray(exact.predict(THETA))
    err = mocks.std(axis=0) / np.sqrt(len(mocks))
    pull = (mocks.mean(axis=0) - truth) / err
    assert np.all(np.abs(pull) < 4.0), pull
    assert np.median(err / np.abs(truth)) < 0.02  # the comparison has teeth
    assert np.all(mocks.std(axis=0) > 0)  # and the mocks are noisy


def test_interpolated_smhm_is_the_network_at_every_halo(small_catalog, small_model):
    logm = np.asarray(small_catalog.logmpeak)
    for theta in (THETA, THETA + np.array([0.05, -0.1, 0.2, 0.1, 0.1])):
        exact = np.asarray(small_model.mean_log_sm(theta, logm))
        np.testing.assert_allclose(make_interpolated_smhm(small_model, logm)(theta), exact, rtol=0, atol=1e-4)


def test_likelihood_seeds_and_support(small_catalog, exact, tmp_path):
    from diffsham.infer.data import DataVector
    from diffsham.infer.posterior import Posterior
    from diffsham.infer.spec import parse_spec

    pytest.importorskip("halotools")
    spec = parse_spec({"observables": [{"kind": "smf", "sm_bins": SMF_BINS.tolist(), "data": "x"}],
                       "priors": {"s_hi": {"kind": "fixed", "value": 0.25}}}, str(tmp_path / "spec.toml"))
    truth = np.asarray(exact.predict(THETA))
    n = truth.size
    data = DataVector(truth, np.diag((0.05 * np.abs(truth) + 1e-3) ** 2), np.arange(n), exact.layout)
    posterior = Posterior(spec, exact, data)
    free = THETA[:4]
    crn = MonteCarloLikelihood(posterior, small_catalog, seed=3, common_random_numbers=True)
    assert crn(free) == crn(free) and crn.n_calls == 2
    fresh = MonteCarloLikelihood(posterior, small_catalog, seed=3)
    a, b = fresh(free), fresh(free)
    assert a != b and np.isfinite(a) and np.isfinite(b)
    assert a == crn(free)  # the first fresh draw is the seed's
    assert crn(np.array([-1.0, -1.15, 10.54, 0.3])) == -np.inf  # logphi outside the prior
    np.testing.assert_allclose(crn.theta(free), THETA)


class _Gaussian:
    """A correlated 3-d Gaussian log density with a call counter, the shape of MonteCarloLikelihood."""

    def __init__(self, noise_sd=0.0, seed=0):
        a = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.3], [0.0, 0.3, 1.0]])
        self.cov = np.diag([0.1, 1.0, 3.0]) @ a @ np.diag([0.1, 1.0, 3.0])
        self.prec = np.linalg.inv(self.cov)
        self.noise_sd, self.rng, self.n_calls = noise_sd, np.random.default_rng(seed), 0

    def log_prior(self, x):
        return 0.0 if np.all(np.abs(x) < 100) else -np.inf

    def __call__(self, x):
        self.n_calls += 1
        return -0.5 * x @ self.prec @ x + self.noise_sd * self.rng.standard_normal()


def test_emcee_on_a_gaussian_recovers_it_and_its_autocorrelation_is_reliable():
    emcee = pytest.importorskip("emcee")
    from diffsham.baseline import run_emcee

    target = _Gaussian()
    sd = np.sqrt(np.diag(target.cov))
    res = run_emcee(target, np.zeros(3), sd, budget_s=120.0, n_walkers=16, seed=3, max_steps=4000)
    assert res.steps == 4000 and res.calls == target.n_calls == (4000 + 1) * 16  # and the start
    assert res.reliable and np.all(res.tau > 1.0) and res.frozen_walkers == 0
    flat = res.chain.reshape(-1, 3)
    ess = res.min_ess
    # the mean of each coordinate is within 4 standard errors (sd / sqrt(ESS)) of zero, and
    # the covariance is recovered
    assert np.all(np.abs(flat.mean(0)) < 4 * sd / np.sqrt(ess))
    scale = np.outer(sd, sd)
    np.testing.assert_allclose(np.cov(flat.T) / scale, target.cov / scale, atol=0.15)
    # emcee's own estimate, computed independently of run_emcee's bookkeeping
    tau = emcee.autocorr.integrated_time(res.chain, tol=0)
    np.testing.assert_allclose(res.tau, tau, rtol=1e-12)
    np.testing.assert_allclose(res.min_ess, res.chain.shape[0] * 16 / tau.max(), rtol=1e-12)


def test_emcee_on_a_very_noisy_likelihood_sticks_and_says_its_ess_is_a_bound():
    pytest.importorskip("emcee")
    from diffsham.baseline import run_emcee

    res = run_emcee(_Gaussian(noise_sd=300.0), np.zeros(3), np.ones(3), budget_s=60.0, n_walkers=8, seed=0,
                    max_steps=200)
    assert res.acceptance < 0.1 and res.frozen_walkers > 0
    assert not res.reliable
    # frozen walkers: tau is at least the kept length for every parameter, one sample per walker
    assert np.all(res.tau >= res.chain.shape[0]) and res.min_ess <= 8 + 1e-9


def test_emcee_runs_are_reproducible_from_the_seed():
    pytest.importorskip("emcee")
    from diffsham.baseline import run_emcee

    a, b = (run_emcee(_Gaussian(), np.zeros(3), np.ones(3), budget_s=60.0, n_walkers=8, seed=5, max_steps=50)
            for _ in range(2))
    np.testing.assert_array_equal(a.chain, b.chain)
