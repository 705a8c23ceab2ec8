"""The conventional baseline: the mean of many Monte Carlo mocks is the exact prediction
(which checks the baseline and the framework against each other), and its likelihood's
two seeding schemes and prior support."""
import numpy as np
import pytest

from diffsham.baseline import MonteCarloLikelihood, make_monte_carlo_predictor
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
