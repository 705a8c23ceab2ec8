"""The SHAMNet training entry point on a tiny configuration: it learns, checkpoints,
resumes, and rejects unknown settings."""
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.shamnet import load_shamnet
from diffsham.shamnet.network import _bounds, init_mlp, mean_log_sm_on_grid
from diffsham.shamnet.train import TrainConfig, solver_targets, train_shamnet

TINY = dict(n_solver=32, n_regression_steps=150, n_steps=3, regression_batch=8, batch=2,
            hidden=(16, 16), checkpoint_every=50, n_valid=2)


def _mean_error(net_weights, bounds, thetas, mu):
    errs = []
    for t, m in zip(thetas, mu):
        pred = np.asarray(mean_log_sm_on_grid(net_weights, bounds, jnp.asarray(t), refine=False))
        sel = m > 7.0
        errs.append(np.abs(pred - m)[sel].mean())
    return float(np.mean(errs))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    outdir = str(tmp_path_factory.mktemp("train"))
    net = train_shamnet(TrainConfig(**TINY), outdir=outdir, progress=False)
    return net, outdir


def test_training_reduces_the_error_against_the_solver(trained):
    net, outdir = trained
    thetas, mu, _, _ = solver_targets(TrainConfig(**TINY), outdir, progress=False)
    import jax

    untrained = init_mlp(jax.random.PRNGKey(99), (6, 16, 16, 1))
    before = _mean_error(untrained, _bounds(net), thetas, mu)
    after = _mean_error(net.weights, _bounds(net), thetas, mu)
    assert after < 0.5 * before, (before, after)


def test_final_file_loads_with_metrics_and_resume_does_no_new_work(trained):
    net, outdir = trained
    final = load_shamnet(f"{outdir}/shamnet.h5")
    assert final.metadata["step"] == TINY["n_regression_steps"] + TINY["n_steps"]
    assert "smf_rms" in final.metadata["validation"]
    again = train_shamnet(TrainConfig(**TINY), outdir=outdir, progress=False)
    for (w1, b1), (w2, b2) in zip(net.weights, again.weights):
        assert np.array_equal(w1, w2) and np.array_equal(b1, b2)


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="n_stepz"):
        TrainConfig(n_stepz=3)
