"""SHAMNet as shipped: its file, its domain checks, and its accuracy against the target
SMF (analytic Schechter values and derivatives) and against the exact solver."""
import io
import os
import warnings

import h5py
import numpy as np
import pytest
from jax import numpy as jnp
from scipy.optimize import curve_fit

from diffsham.sham.params import SHAM_PBOUNDS
from diffsham.sham.shmf import DEFAULT_HALO_GRID
from diffsham.shamnet import load_shamnet, save_shamnet, shamnet_mean_log_sm
from diffsham.shamnet.network import DomainError, shamnet_mean_log_sm_on_grid
from diffsham.shamnet.validation import sample_theta, smf_accuracy, smhm_accuracy_vs_solver

import jax

# Not the training draws (those are fresh every step) nor its validation set (seed 0)
TEST_KEY = jax.random.PRNGKey(20211216)
MIDDLE = np.array([-1.85, -1.1, 10.6, 0.3, 0.3])


@pytest.fixture(scope="module")
def net():
    return load_shamnet()


def test_shipped_file_states_its_domain_architecture_and_metrics(net):
    required = {"logphi": (-2.135, -1.535), "alpha": (-1.26, -0.99), "logmc": (10.3, 10.8),
                "s_lo": (0.2, 0.5), "s_hi": (0.2, 0.5)}
    for i, (lo, hi) in enumerate(required.values()):
        assert net.theta_lo[i] <= lo and net.theta_hi[i] >= hi
    assert net.logmh_lo <= 10.5 and net.logmh_hi >= 15.5
    assert np.allclose(net.theta_lo, [b[0] for b in SHAM_PBOUNDS])
    assert net.metadata["architecture"]["activation"] == "tanh"
    assert {"smf_rms", "smf_p99", "smf_max"} <= set(net.metadata["validation"])


def test_domain_covers_a_schechter_fit_to_li_white_2009(net, shared_data_dir):
    path = os.path.join(shared_data_dir, "smf_sdss_liwhite2009.csv")
    with open(path) as f:
        text = "".join(line for line in f if not line.startswith("#"))
    d = np.genfromtxt(io.StringIO(text), delimiter=",", names=True)
    x = 0.5 * (d["logM_lo"] + d["logM_hi"])
    sel = (x > 8.7) & (x < 11.7)

    def log_schechter(x, logphi, alpha, logmc):
        r = 10 ** (x - logmc)
        return np.log10(np.log(10) * 10**logphi * r ** (1 + alpha) * np.exp(-r))

    err = d["phi_err"] / d["phi"] / np.log(10)
    best, _ = curve_fit(log_schechter, x[sel], np.log10(d["phi"][sel]), p0=(-2, -1.1, 10.6),
                        sigma=err[sel])
    assert np.all(best > net.theta_lo[:3]) and np.all(best < net.theta_hi[:3]), best


def test_save_and_load_round_trip(net, tmp_path):
    path = tmp_path / "copy.h5"
    save_shamnet(net, path)
    again = load_shamnet(path)
    logmh = jnp.linspace(11, 15, 9)
    assert np.array_equal(shamnet_mean_log_sm(net, MIDDLE, logmh),
                          shamnet_mean_log_sm(again, MIDDLE, logmh))
    assert again.metadata == net.metadata


def test_bad_weight_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        load_shamnet(tmp_path / "nowhere.h5")
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match="text.h5"):
        load_shamnet(not_hdf5)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.attrs["format_version"] = 1
        f.attrs["n_layers"] = 2
    with pytest.raises(ValueError, match="layer_0"):
        load_shamnet(empty)


def test_out_of_domain_inputs_warn_or_raise_in_strict_mode(net):
    outside = MIDDLE.copy()
    outside[3] = 0.7
    with pytest.warns(UserWarning, match="s_lo"):
        shamnet_mean_log_sm(net, outside, jnp.array([12.0]))
    with pytest.raises(DomainError, match="s_lo"):
        shamnet_mean_log_sm(net, outside, jnp.array([12.0]), strict=True)
    with pytest.raises(DomainError, match="log Mpeak"):
        shamnet_mean_log_sm(net, MIDDLE, jnp.array([9.0, 12.0]), strict=True)
    with pytest.raises(DomainError, match="NaN"):
        shamnet_mean_log_sm(net, MIDDLE, jnp.array([np.nan]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shamnet_mean_log_sm(net, MIDDLE, jnp.array([12.0]), strict=True)


def test_prediction_at_arbitrary_masses_interpolates_the_grid(net):
    logmh, mu = shamnet_mean_log_sm_on_grid(net, MIDDLE)
    sel = np.asarray((logmh > 11) & (logmh < 15))
    assert np.allclose(shamnet_mean_log_sm(net, MIDDLE, logmh[sel]), mu[sel], atol=1e-12)
    mid = 0.5 * (logmh[sel][1:] + logmh[sel][:-1])
    assert np.allclose(shamnet_mean_log_sm(net, MIDDLE, mid), 0.5 * (mu[sel][1:] + mu[sel][:-1]))


def test_direct_evaluation_equals_the_grid_at_its_cells(net):
    """direct_mean_log_sm (used at the fast path's bin centres) reproduces the grid at its
    cells, and between them stays within the chord's curvature error of the grid."""
    from diffsham.shamnet.network import _bounds, direct_mean_log_sm

    logmh, mu = shamnet_mean_log_sm_on_grid(net, MIDDLE)
    sel = np.asarray((logmh > 11) & (logmh < 15))
    direct = direct_mean_log_sm(net.weights, _bounds(net), jnp.asarray(MIDDLE), logmh[sel])
    np.testing.assert_allclose(direct, mu[sel], atol=1e-12)
    mid = 0.5 * (logmh[sel][1:] + logmh[sel][:-1])
    between = np.asarray(direct_mean_log_sm(net.weights, _bounds(net), jnp.asarray(MIDDLE), mid))
    chord = 0.5 * (np.asarray(mu)[sel][1:] + np.asarray(mu)[sel][:-1])
    # a chord of a smooth curve is off by ~dx^2 mu''/8: tiny, but not zero
    assert np.max(np.abs(between - chord)) < 2e-4


@pytest.fixture(scope="module")
def test_thetas(net):
    return sample_theta(TEST_KEY, 200, net.theta_lo, net.theta_hi)


@pytest.fixture(scope="module")
def smf_stats(net, test_thetas):
    """The prediction as used (refined: the solver converged from the network's start)."""
    return smf_accuracy(net, test_thetas)[0]


@pytest.fixture(scope="module")
def raw_smf_stats(net, test_thetas):
    """The network alone."""
    return smf_accuracy(net, test_thetas, refine=False)[0]


# The acceptance targets of the SHAMNet issue, as written.


def test_implied_smf_matches_target_over_200_random_draws(smf_stats):
    assert smf_stats["smf_rms"] <= 0.005
    assert smf_stats["smf_p99"] <= 0.015
    assert smf_stats["smf_max"] <= 0.03


def test_implied_smf_gradients_match_analytic_schechter_derivatives(smf_stats):
    assert max(smf_stats["grad_median"]) <= 0.02
    assert max(smf_stats["grad_p99"]) <= 0.1


# The network alone is the starting point; it must stay far better than the 2021 network
# (RMS 0.018, 99th percentile 0.054, max 0.16 dex, DESIGN.md).


def test_network_alone_is_better_than_the_published_2021_network(raw_smf_stats):
    assert raw_smf_stats["smf_rms"] <= 0.018
    assert raw_smf_stats["smf_p99"] <= 0.054
    assert raw_smf_stats["smf_max"] <= 0.16
    assert max(raw_smf_stats["grad_median"][:3]) <= 0.02


@pytest.fixture(scope="module")
def smhm_thetas(net):
    return sample_theta(jax.random.fold_in(TEST_KEY, 1), 40, net.theta_lo, net.theta_hi)


@pytest.fixture(scope="module")
def smhm_stats(net, smhm_thetas):
    """Against the solver run from zero-scatter matching (its own continuation, 200
    steps) where it is exact (SMF within 1e-3 dex of the target; 38 of these 40 draws):
    near the largest scatter it is a compromise, not ground truth."""
    stats = smhm_accuracy_vs_solver(net, smhm_thetas, max_solver_resid=1e-3)
    print({k: v for k, v in stats.items() if k != "solver_resid_max"})
    return stats


def test_smhm_and_its_gradients_match_the_exact_solver(smhm_stats):
    assert smhm_stats["n_used"] >= 30
    assert smhm_stats["mu_median"] <= 0.005
    assert smhm_stats["grad_median"] <= 0.01
    assert smhm_stats["grad_p99"] <= 0.05


def test_network_alone_is_close_to_the_exact_solver(net, smhm_thetas):
    stats = smhm_accuracy_vs_solver(net, smhm_thetas[:10], max_solver_resid=1e-3, refine=False)
    assert stats["mu_median"] <= 0.005
    assert stats["grad_median"] <= 0.02


def test_the_network_start_saves_most_of_the_solver_steps(net, smhm_thetas):
    """From the network's start the solver converges in a few steps; from zero-scatter
    matching, with the same settings, it needs many more."""
    from diffsham.sham.solver import solve_smhm
    from diffsham.sham.smf import schechter_log_phi
    from diffsham.shamnet.network import REFINE_CONFIG, _bounds, refined_solution, sigma_on_grid

    warm, cold = [], []
    for theta in smhm_thetas[:10]:
        warm.append(int(refined_solution(net.weights, _bounds(net), theta).n_iter))
        sol = solve_smhm(schechter_log_phi, tuple(theta[:3]), sigma_on_grid(theta), REFINE_CONFIG,
                         DEFAULT_HALO_GRID)
        cold.append(int(sol.n_iter))
    assert np.median(warm) <= 5, warm
    assert np.median(cold) >= 3 * np.median(warm), (warm, cold)


def _jacobian_and_finite_differences(net, logmh, refine, h):
    from diffsham.shamnet import shamnet_mean_log_sm_and_jacobian

    mu, jac = shamnet_mean_log_sm_and_jacobian(net, MIDDLE, logmh, refine=refine)
    fd = []
    for k in range(5):
        step = np.zeros(5)
        step[k] = h
        up = shamnet_mean_log_sm(net, MIDDLE + step, logmh, refine=refine)
        down = shamnet_mean_log_sm(net, MIDDLE - step, logmh, refine=refine)
        fd.append((up - down) / (2 * h))
    return np.asarray(mu), np.asarray(jac), np.array(fd).T


def test_network_value_and_jacobian_for_many_halos_match_finite_differences(net):
    logmh = jnp.linspace(10.6, 15.4, 257)
    mu, jac, fd = _jacobian_and_finite_differences(net, logmh, refine=False, h=1e-5)
    assert np.allclose(mu, shamnet_mean_log_sm(net, MIDDLE, logmh, refine=False), rtol=0, atol=1e-12)
    # mu0 interpolates a 0.005-dex table of the cumulative SMF: its derivative in the
    # SMF parameters jumps slightly between table nodes (measured: <= 1.5e-4 relative)
    np.testing.assert_allclose(jac, fd, rtol=5e-4, atol=1e-6)


def test_refined_value_and_jacobian_for_many_halos_match_finite_differences(net):
    """The refined derivatives are the solver's implicit ones (Gauss-Newton Hessian, as
    in test_solver), checked where galaxies are fitted (<log M*> above 8.2): below, the
    SMHM is the smoothing penalty's extrapolation, which the SMF does not constrain.
    Measured here: largest difference 0.011 (logmc, log Mpeak 15.4); medians per
    parameter 2e-5 to 8e-4."""
    logmh = jnp.linspace(10.6, 15.4, 257)
    mu, jac, fd = _jacobian_and_finite_differences(net, logmh, refine=True, h=2e-4)
    # the value comes from the same converged loop, traced twice
    np.testing.assert_allclose(mu, shamnet_mean_log_sm(net, MIDDLE, logmh), rtol=0, atol=1e-10)
    fitted = mu > 8.2
    assert fitted.sum() > 200
    np.testing.assert_allclose(jac[fitted], fd[fitted], rtol=0.03, atol=0.01)
