"""The pooled windowed adaptation against an analytic target: a 5-d Gaussian with the
correlations of the SMF parameters (0.96-0.99) and scales spanning 100x."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    sd = np.array([0.01, 0.07, 0.05, 0.5, 1.0])
    corr = np.eye(5)
    corr[:3, :3] = [[1.0, 0.97, -0.96], [0.97, 1.0, -0.99], [-0.96, -0.99, 1.0]]
    cov = corr * np.outer(sd, sd)
    return rng.normal(size=5), cov


def test_pooled_warmup_learns_the_covariance_and_samples_the_gaussian(gaussian):
    import blackjax
    import jax
    from jax import numpy as jnp

    from diffsham.infer.adaptation import FROZEN, build_adaptive_kernel, scan_chunk, warmup_schedule

    mean, cov = gaussian
    prec = jnp.asarray(np.linalg.inv(cov))

    def logdensity(x):
        d = x - mean
        return -0.5 * d @ prec @ d

    chains = 4
    init, step, finalize = build_adaptive_kernel(blackjax.nuts, logdensity, dense_mass=True, target_accept=0.9)
    run = scan_chunk(step, chains)
    x0 = jnp.asarray(mean + np.random.default_rng(1).normal(size=(chains, 5)) * np.sqrt(np.diag(cov)) * 3)
    states = init(x0)
    key = jax.random.PRNGKey(0)
    states, _ = run(states, key, 0, jnp.asarray(warmup_schedule(400)))
    states = finalize(states)
    imm = np.asarray(states.inverse_mass_matrix)
    # the adapted inverse mass matrix is the covariance: its whitening leaves ~identity
    w = np.linalg.eigvalsh(np.linalg.solve(np.linalg.cholesky(cov), np.linalg.solve(np.linalg.cholesky(cov), imm).T))
    assert 0.5 < w.min() and w.max() < 2.0, w
    assert 0.3 < float(states.step_size) < 2.0
    frozen = np.tile([FROZEN, 0], (1000, 1)).astype(np.int32)
    states, out = run(states, jax.random.PRNGKey(1), 0, jnp.asarray(frozen))
    draws = np.asarray(out["position"]).reshape(-1, 5)
    # no adaptation after warmup: the tuning is frozen
    assert float(states.step_size) == float(finalize(states).step_size)
    z = (draws.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / 1000)  # ESS >= 1000 of 4000 draws, conservatively
    assert np.all(np.abs(z) < 4), z
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.max(np.abs(np.cov(draws.T) - cov) / scale) < 0.15  # in units of the sd products
    assert int(np.sum(out["diverging"])) == 0
