"""The synthetic default catalog: deterministic, the model's mass function, realistic clustering."""
import numpy as np
import pytest

from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
from diffsham.catalog.quality import cumulative_abundance, host_bias
from diffsham.sham.kernels import triweight_bin_weight
from diffsham.sham.params import DEFAULT_SHAM_PARAMS
from diffsham.sham.scatter import scatter_sigma
from diffsham.sham.smf import schechter_log_phi, smf_in_bins
from diffsham.sham.solver import mean_log_sm_from_solution, solve_sham


@pytest.fixture(scope="module")
def big_catalog():
    """250 Mpc/h, log Mpeak >= 11.5: ~2.7e5 objects, enough for 8-30 Mpc/h clustering."""
    return make_synthetic_catalog(SyntheticConfig(lbox=250.0, logmpeak_min=11.5, seed=3), progress=False)


@pytest.fixture(scope="module")
def small_catalog():
    return make_synthetic_catalog(SyntheticConfig(lbox=80.0, logmpeak_min=11.0, seed=5), progress=False)


def test_same_seed_same_catalog():
    config = SyntheticConfig(lbox=40.0, logmpeak_min=11.5, seed=11, n_grid=32)
    a, b = make_synthetic_catalog(config, progress=False), make_synthetic_catalog(config, progress=False)
    for name in ("x", "y", "z", "vx", "logmpeak", "upid"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_synthetic_catalog(config._replace(seed=12), progress=False)
    assert not np.array_equal(a.x[: min(a.n_halos, c.n_halos)], c.x[: min(a.n_halos, c.n_halos)])


def test_abundance_is_the_model_shmf(big_catalog):
    thresholds = np.array([11.5, 12.0, 12.5, 13.0, 13.5, 14.0])
    measured, model, counts = cumulative_abundance(big_catalog, thresholds)
    # 2%, or 3 Poisson sigma where counts are too few for 2%
    tolerance = np.maximum(0.02, 3.0 / np.sqrt(counts))
    assert np.all(np.abs(measured / model - 1.0) < tolerance), (measured / model - 1.0, counts)
    assert counts[0] > 2e5


def test_host_bias_matches_tinker10(big_catalog):
    measured, predicted = host_bias(big_catalog, np.array([11.5, 12.0, 12.5, 13.0, 14.0]))
    assert np.all(np.abs(measured / predicted - 1.0) < 0.15), (measured, predicted)
    assert np.all(np.diff(measured) > 0)  # heavier hosts cluster more


def test_halo_exclusion_and_subhalos_in_hosts(small_catalog):
    cat = small_catalog
    from scipy.spatial import cKDTree

    from diffsham.catalog.cosmology import r200m

    hosts = cat.is_host
    pos, radius = cat.positions[hosts], r200m(cat.logmpeak[hosts])
    pairs = cKDTree(pos, boxsize=cat.lbox).query_pairs(2 * radius.max(), output_type="ndarray")
    d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
    d = np.sqrt(np.sum((d - cat.lbox * np.round(d / cat.lbox)) ** 2, axis=1))
    assert np.all(d >= radius[pairs[:, 0]] + radius[pairs[:, 1]])
    # every subhalo sits inside its (heavier) host's R200m
    row = {h: i for i, h in enumerate(cat.halo_id)}
    host_row = np.array([row[h] for h in cat.host_id[~hosts]])
    d = cat.positions[~hosts] - cat.positions[host_row]
    d = np.sqrt(np.sum((d - cat.lbox * np.round(d / cat.lbox)) ** 2, axis=1))
    assert np.all(d <= r200m(cat.logmpeak[host_row]) * (1 + 1e-9))
    assert np.all(cat.logmpeak[host_row] >= cat.logmpeak[~hosts] + 0.3 - 1e-12)


def test_subhalo_fraction_is_plausible(small_catalog):
    f_sub = np.mean(~small_catalog.is_host[small_catalog.logmpeak >= 11.0])
    assert 0.1 < f_sub < 0.3


def test_smf_from_catalog_equals_target(big_catalog):
    """The catalog's SHMF is the model's, so summing bin weights over its halos gives the target SMF."""
    params = DEFAULT_SHAM_PARAMS
    sol = solve_sham(params)
    mu = np.asarray(mean_log_sm_from_solution(sol, big_catalog.logmpeak))
    sigma = np.asarray(scatter_sigma(big_catalog.logmpeak, params.s_lo, params.s_hi))
    # complete bins: galaxies of halos below the mass cut (log Mpeak 11.5) cannot reach 10.4
    edges = np.arange(10.4, 11.41, 0.1)
    w = np.asarray(triweight_bin_weight(edges[:-1, None], edges[1:, None], mu, sigma))
    predicted = w.sum(axis=1) / big_catalog.volume / np.diff(edges)
    target = np.asarray(smf_in_bins(schechter_log_phi, edges, *params[:3]))
    n_eff = w.sum(axis=1)
    # Poisson error of the halo counts, amplified by clustering (cosmic variance) by ~2x
    tolerance = 4.0 / np.sqrt(n_eff) + 0.005
    assert np.all(np.abs(predicted / target - 1.0) < tolerance), (predicted / target - 1.0, tolerance)
