"""The forward model: the tabulated fast path against the exact per-halo path, and its checks."""
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.catalog import DEFAULT_DS_RP_EDGES, SyntheticConfig, analytic_delta_sigma, make_synthetic_catalog
from diffsham.model import make_forward_model
from diffsham.sham.params import SHAM_PBOUNDS_HI, SHAM_PBOUNDS_LO
from diffsham.stats.tabulate import combine_tabulations, load_or_tabulate, tabulate

RP_EDGES = np.logspace(-1, np.log10(10.0), 9)
PI_MAX = 12.0
SM_BINS = np.array([[9.8, 10.4], [10.4, 11.0]])
SMF_BINS = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)


@pytest.fixture(scope="module")
def catalog():
    cat = make_synthetic_catalog(SyntheticConfig(lbox=40.0, logmpeak_min=11.3, seed=9, n_grid=32), progress=False)
    return cat.with_delta_sigma(analytic_delta_sigma(cat, progress=False), DEFAULT_DS_RP_EDGES, "analytic")


@pytest.fixture(scope="module")
def full_tabulation(catalog):
    return tabulate(catalog, RP_EDGES, PI_MAX, dlogm=0.02, progress=False)


@pytest.fixture(scope="module")
def models(catalog, full_tabulation):
    tab = full_tabulation
    fast = make_forward_model(catalog, SMF_BINS, SM_BINS, SM_BINS, RP_EDGES, PI_MAX, tabulation=tab)
    exact = make_forward_model(catalog, SMF_BINS, SM_BINS, SM_BINS, RP_EDGES, PI_MAX, path="exact")
    return fast, exact


def test_tabulated_equals_exact_across_the_domain(models):
    """DESIGN.md idea 2: <= 0.1% in the statistics, <= 1% in their gradients."""
    fast, exact = models
    rng = np.random.default_rng(0)
    lo, hi = np.asarray(SHAM_PBOUNDS_LO), np.asarray(SHAM_PBOUNDS_HI)
    for theta in (lo + (hi - lo) * rng.random(5) for _ in range(2)):
        v_fast, j_fast = fast.jacobian(jnp.asarray(theta))
        v_exact, j_exact = exact.jacobian(jnp.asarray(theta))
        for name, sl, shape in fast.layout:
            a, b = np.asarray(v_fast[sl]), np.asarray(v_exact[sl])
            scale = np.abs(b) if name != "wp" else np.abs(b) + 1.0  # wp crosses zero at large rp
            assert np.max(np.abs(a - b) / scale) < 1e-3, (name, np.max(np.abs(a - b) / scale))
            ja, jb = np.asarray(j_fast[sl]), np.asarray(j_exact[sl])
            err = np.max(np.abs(ja - jb), axis=0) / np.max(np.abs(jb), axis=0)
            assert np.all(err < 1e-2), (name, err)


def test_layout_and_bad_configuration(catalog):
    fast = make_forward_model(catalog, smf_bins=SMF_BINS, tabulation=None, rp_edges=RP_EDGES, pi_max=PI_MAX)
    assert [name for name, _, _ in fast.layout] == ["smf"]
    with pytest.raises(ValueError, match="at least one statistic"):
        make_forward_model(catalog)
    with pytest.raises(ValueError, match="unknown SMHM backend"):
        make_forward_model(catalog, smf_bins=SMF_BINS, smhm="richardson-lucy")
    with pytest.raises(ValueError, match="lo < hi"):
        make_forward_model(catalog, smf_bins=np.array([[10.5, 10.0]]))
    with pytest.raises(ValueError, match="half the box"):
        make_forward_model(catalog, wp_bins=SM_BINS, rp_edges=[0.1, 25.0], pi_max=PI_MAX)


def test_tabulation_cache_detects_changes(catalog, tmp_path):
    tab = load_or_tabulate(catalog, RP_EDGES, PI_MAX, 0.02, cache_dir=str(tmp_path), progress=False)
    files = list(tmp_path.glob("tabulation_*.h5"))
    assert len(files) == 1
    again = load_or_tabulate(catalog, RP_EDGES, PI_MAX, 0.02, cache_dir=str(tmp_path), progress=False)
    np.testing.assert_array_equal(again.p0, tab.p0)
    from dataclasses import replace

    moved = replace(catalog, x=np.mod(catalog.x + 1.0, catalog.lbox))
    other = load_or_tabulate(moved, RP_EDGES, PI_MAX, 0.02, cache_dir=str(tmp_path), progress=False)
    assert other.key != tab.key and len(list(tmp_path.glob("tabulation_*.h5"))) == 2
    rebinned = load_or_tabulate(catalog, RP_EDGES[:-1], PI_MAX, 0.02, cache_dir=str(tmp_path), progress=False)
    assert rebinned.p0.shape[0] == RP_EDGES.size - 2
    # a corrupt cache file is rebuilt, not trusted
    files[0].write_bytes(b"not hdf5")
    rebuilt = load_or_tabulate(catalog, RP_EDGES, PI_MAX, 0.02, cache_dir=str(tmp_path), progress=False)
    np.testing.assert_array_equal(rebuilt.p0, tab.p0)


def test_tabulation_shards_combine_to_the_whole(catalog, full_tabulation):
    """Halos split across (simulated) processes: the summed shards equal one tabulation."""
    n = catalog.logmpeak.size
    shards = [tabulate(catalog, RP_EDGES, PI_MAX, dlogm=0.02, progress=False, rows=np.arange(r, n, 3))
              for r in range(3)]
    assert not shards[0].complete and full_tabulation.complete
    with pytest.raises(ValueError, match="a shard"):
        make_forward_model(catalog, smf_bins=SMF_BINS, tabulation=shards[0])
    combined = combine_tabulations(shards)
    assert combined.complete
    for name in ("n", "s1", "s2", "p0", "p1", "p11", "ds0", "ds1"):
        np.testing.assert_allclose(getattr(combined, name), getattr(full_tabulation, name), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="overlap"):
        combine_tabulations([full_tabulation, shards[0]])
    with pytest.raises(ValueError, match="distinct integer indices"):
        tabulate(catalog, RP_EDGES, PI_MAX, rows=np.array([0, 0, 1]))
    other = tabulate(catalog, RP_EDGES[:-1], PI_MAX, dlogm=0.02, progress=False, rows=np.arange(1, n, 3))
    with pytest.raises(ValueError, match="different catalogs or binnings"):
        combine_tabulations([shards[0], other])
