"""The synthetic default catalog: deterministic, the model's mass function, realistic clustering."""
import os

import numpy as np
import pytest

from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
from diffsham.catalog.cosmology import BOLSHOI_PLANCK
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


# ---- the N-body recipe (recipe = "nbody") ----

FSUB_BOLSHOI = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                            "fsub_vs_mpeak_bolshoi250_campbell2018.csv")


@pytest.fixture(scope="module")
def nbody_catalog():
    """150 Mpc/h, log Mpeak >= 10.6 (the SDSS specs' cut): ~6.4e5 objects, cells of 1 Mpc/h."""
    return make_synthetic_catalog(SyntheticConfig(lbox=150.0, logmpeak_min=10.6, seed=4, recipe="nbody"),
                                  progress=False)


def test_nbody_recipe_is_deterministic_and_keeps_the_linear_one():
    config = SyntheticConfig(lbox=40.0, logmpeak_min=11.5, seed=11, recipe="nbody", cell_size=2.0)
    a, b = make_synthetic_catalog(config, progress=False), make_synthetic_catalog(config, progress=False)
    for name in ("x", "y", "z", "vz", "logmpeak", "upid"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert "recipe=nbody-v" in a.source
    # the linear recipe's provenance (and so its cache entries) did not change
    assert "recipe" not in make_synthetic_catalog(config._replace(recipe="linear"), progress=False).source
    with pytest.raises(ValueError, match="SyntheticConfig.recipe must be one of"):
        make_synthetic_catalog(config._replace(recipe="nbodyy"), progress=False)
    with pytest.raises(ValueError, match="SyntheticConfig.cell_size must be a positive length"):
        make_synthetic_catalog(config._replace(cell_size=0.0), progress=False)


@pytest.mark.skipif(not os.path.isfile(FSUB_BOLSHOI), reason=f"Bolshoi subhalo fractions not found at "
                    f"{os.path.abspath(FSUB_BOLSHOI)} (the shared data folder)")
def test_nbody_subhalo_fraction_is_bolshois(nbody_catalog):
    """Within 10% of Campbell et al. (2018)'s Bolshoi subhalo fractions over 10^10.6-10^13.5 Msun/h
    in 0.2-dex bins: the fit (subhalo_fraction_bolshoi), and the catalog's fractions (or within
    3 binomial sigma of Bolshoi's where a bin holds too few objects for 10%)."""
    from diffsham.catalog.synthetic import subhalo_fraction_bolshoi

    lines = [line for line in open(FSUB_BOLSHOI) if not line.startswith("#")]
    table = np.loadtxt(lines[1:], delimiter=",")  # below the header row
    x, f_bolshoi = table[:, 0], table[:, 1]
    keep = (x >= 10.6) & (x <= 13.5)
    x, f_bolshoi = x[keep], f_bolshoi[keep]
    assert np.all(np.abs(subhalo_fraction_bolshoi(x) / f_bolshoi - 1.0) < 0.10)
    cat = nbody_catalog
    for centre, f_ref in zip(x, f_bolshoi):
        sel = np.abs(cat.logmpeak - centre) < 0.1
        n = sel.sum()
        f_cat = np.mean(~cat.is_host[sel])
        tolerance = max(0.10 * f_ref, 3.0 * np.sqrt(f_ref * (1 - f_ref) / n))
        assert abs(f_cat - f_ref) < tolerance, (centre, f_cat, f_ref, n)


def test_subhalo_radii_follow_springel08_einasto():
    """Radii from sample_subhalo_radius against the Einasto number-density profile of Springel et
    al. (2008), its cumulative count integrated numerically (not the incomplete gamma used to
    sample), by a Kolmogorov-Smirnov distance."""
    from scipy import integrate

    from diffsham.catalog.cosmology import r200m
    from diffsham.catalog.synthetic import _r200c_over_r200m, nfw_concentration, sample_subhalo_radius

    logm = 13.0
    n = 40000
    r = np.sort(sample_subhalo_radius(np.random.default_rng(5), np.full(n, logm)))
    rvir = r200m(logm)
    r2 = 0.81 * rvir * _r200c_over_r200m(nfw_concentration(np.array([logm])), 0.0, BOLSHOI_PLANCK)[0]

    def density(s):
        return np.exp(-(2.0 / 0.678) * ((s / r2) ** 0.678 - 1.0)) * s**2

    total = integrate.quad(density, 0.0, rvir)[0]
    grid = np.linspace(0.0, rvir, 400)
    cdf = np.concatenate([[0.0], np.cumsum([integrate.quad(density, a, b)[0] for a, b in zip(grid[:-1], grid[1:])])])
    cdf /= total
    ks = np.max(np.abs(np.arange(1, n + 1) / n - np.interp(r, grid, cdf)))
    assert ks < 1.63 / np.sqrt(n), ks  # 1% significance
    assert r.max() <= rvir
    # less concentrated than the host's dark matter: half the subhalos lie beyond 0.5 R200m
    assert np.median(r) / rvir > 0.5


def test_r200c_conversion_matches_colossus():
    from colossus.halo import mass_defs

    from diffsham.catalog.cosmology import colossus_cosmology, r200m
    from diffsham.catalog.synthetic import _r200c_over_r200m, nfw_concentration

    colossus_cosmology()
    logm = np.array([11.0, 12.5, 14.0, 15.0])
    conc = nfw_concentration(logm)
    ours = _r200c_over_r200m(conc, 0.0, BOLSHOI_PLANCK)
    for m, c, y in zip(logm, conc, ours):
        _, r200c, _ = mass_defs.changeMassDefinition(10.0**m, c, 0.0, "200m", "200c", profile="nfw")
        assert abs(y - r200c / 1e3 / r200m(m)) < 1e-4  # colossus radii are in kpc/h


def test_nbody_hosts_cluster_like_their_target(nbody_catalog):
    """Hosts in three mass bins against b_i b_j zeta xi_NL as this box holds it (the expectation of
    the recipe beyond 1.5 cells; quality.xi_target_box), at 2-10 Mpc/h. One 150 Mpc/h box: the
    lognormal fields' seed-to-seed scatter there is ~10% (benchmarks/RESULTS.md), so the bound
    is 25%; the benchmark averages seeds of 250 Mpc/h boxes."""
    from diffsham.catalog.clustering import power_halo_target, xi_halo_halo
    from diffsham.catalog.cosmology import tinker10_bias
    from diffsham.catalog.quality import xi_auto, xi_target_box

    cat = nbody_catalog
    edges = np.geomspace(2.0, 10.0, 5)
    target = xi_target_box(edges, cat.lbox, lambda r: xi_halo_halo(r, 1.0, 1.0), power_halo_target)
    for lo, hi in ((11.0, 11.5), (11.5, 12.0), (12.0, 12.5)):
        sel = cat.is_host & (cat.logmpeak >= lo) & (cat.logmpeak < hi)
        b = np.mean(tinker10_bias(cat.logmpeak[sel]))
        ratio = xi_auto(cat.positions[sel], cat.lbox, edges) / (b * b * target)
        assert np.all(np.abs(ratio - 1.0) < 0.25), (lo, ratio)
