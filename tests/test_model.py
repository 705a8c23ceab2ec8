"""The forward model: tabulated against exact, its boundary (named, unbounded and array
parameters; bad input; the domain guard), its layout and config, SHAM on the catalog's
own abundance."""
import dataclasses
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
from diffsham.catalog.schema import CatalogError
from diffsham.model import (DomainError, ModelConfig, box_corners, box_edge_midpoints, in_supported_domain,
                            make_forward_model)
from diffsham.sham.params import (
    DEFAULT_SHAM_PARAMS,
    SUPPORTED_HI,
    SUPPORTED_LO,
    TARGET_LOG_PHI,
    ShamParams,
    get_unbounded_sham_params,
    target_smf_params,
)
from diffsham.sham.smf import smf_in_bins

RP_EDGES = np.logspace(-1, 1, 9)
PI_MAX = 12.0
SM_BINS = np.array([[9.8, 10.4], [10.4, 11.0]])
SMF_BINS = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)
THETA = np.asarray(DEFAULT_SHAM_PARAMS)


@pytest.fixture(scope="module")
def catalog(small_catalog):
    return small_catalog


@pytest.fixture(scope="module")
def models(small_catalog, small_model):
    # dlogm 0.01 (small_model): with the default 0.02, d wp/d logphi of the tabulated path
    # differs from the exact one by up to 1.7% at some points of this small box (0.8% at 0.01)
    exact = make_forward_model(small_catalog, SMF_BINS, SM_BINS, SM_BINS, config=small_model.config.replace(path="exact"))
    return small_model, exact


def test_tabulated_equals_exact_across_the_domain(models):
    """DESIGN.md idea 2: <= 0.1% in the statistics, <= 1% in their gradients."""
    fast, exact = models
    rng = np.random.default_rng(0)
    for theta in (SUPPORTED_LO + (SUPPORTED_HI - SUPPORTED_LO) * rng.random(5) for _ in range(2)):
        v_fast, j_fast = fast.jacobian(theta)
        v_exact, j_exact = exact.jacobian(theta)
        for block in fast.layout.blocks:
            a, b = np.asarray(v_fast[block.slice]), np.asarray(v_exact[block.slice])
            scale = np.abs(b) if block.kind != "wp" else np.abs(b) + 1.0  # wp crosses zero at large rp
            assert np.max(np.abs(a - b) / scale) < 1e-3, (block.name, np.max(np.abs(a - b) / scale))
            ja, jb = np.asarray(j_fast[block.slice]), np.asarray(j_exact[block.slice])
            err = np.max(np.abs(ja - jb), axis=0) / np.max(np.abs(jb), axis=0)
            assert np.all(err < 1e-2), (block.name, err)


def test_named_unbounded_and_array_entries_agree_in_every_mode(models):
    """ShamParams, ShamUParams and arrays give identical values and gradients: reverse
    mode, forward mode, and vmap over a batch of 4, as samplers call it."""
    fast = models[0]
    named = DEFAULT_SHAM_PARAMS
    u = get_unbounded_sham_params(named)
    ref = np.asarray(fast.predict(THETA))
    assert np.array_equal(np.asarray(fast.predict(named)), ref)
    np.testing.assert_allclose(np.asarray(fast.predict(u)), ref, rtol=1e-12)

    def loss(theta):
        return jnp.sum(fast.predict(theta) ** 2)

    g_array = jax.grad(loss)(jnp.asarray(THETA))
    g_named = jax.grad(lambda p: loss(p))(ShamParams(*map(jnp.asarray, THETA)))
    np.testing.assert_allclose(np.array(g_named), np.asarray(g_array), rtol=1e-12)
    # the unbounded entry: chain rule through the sigmoid, checked against the array gradient
    lo, hi = SUPPORTED_LO, SUPPORTED_HI
    g_u = jax.grad(lambda uu: loss(type(u)(*uu)))(jnp.asarray(u))
    frac = (THETA - lo) / (hi - lo)
    np.testing.assert_allclose(np.asarray(g_u), np.asarray(g_array) * (hi - lo) * frac * (1 - frac), rtol=1e-8)
    # forward mode equals reverse mode
    _, jac = fast.jacobian(named)
    np.testing.assert_allclose(np.asarray(jax.grad(lambda t: jnp.sum(fast.predict(t)))(jnp.asarray(THETA))),
                               np.asarray(jac).sum(axis=0), rtol=1e-10)
    # a batch of 4, eagerly, under vmap and under vmap of grad
    rng = np.random.default_rng(1)
    batch = lo + (hi - lo) * rng.random((4, 5))
    v_batch = np.asarray(fast.predict(batch))
    v_loop = np.stack([np.asarray(fast.predict(t)) for t in batch])
    np.testing.assert_allclose(v_batch, v_loop, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.vmap(fast.predict)(jnp.asarray(batch))), v_loop, rtol=1e-12)
    g_vmap = np.asarray(jax.vmap(jax.grad(loss))(jnp.asarray(batch)))
    g_loop = np.stack([np.asarray(jax.grad(loss)(jnp.asarray(t))) for t in batch])
    np.testing.assert_allclose(g_vmap, g_loop, rtol=1e-10)
    _, j_batch = fast.jacobian(batch)
    assert j_batch.shape == (4, fast.layout.size, 5)


def test_bad_parameters_are_named(models):
    fast = models[0]
    for bad, name in ((THETA + [np.nan, 0, 0, 0, 0], "logphi"), (THETA + [0, 0, 0, np.inf, 0], "s_lo")):
        with pytest.raises(ValueError, match=name):
            fast.predict(bad)
    with pytest.raises(ValueError, match="s_hi"):
        fast.predict(DEFAULT_SHAM_PARAMS._replace(s_hi=-0.1))
    with pytest.raises(ValueError, match="length 5"):
        fast.predict(THETA[:4])
    with pytest.raises(TypeError, match="ShamParams"):
        fast.predict({"logphi": -2.0})
    with pytest.raises(ValueError, match="u_alpha"):
        fast.predict(get_unbounded_sham_params(DEFAULT_SHAM_PARAMS)._replace(u_alpha=np.nan))
    outside = DEFAULT_SHAM_PARAMS._replace(s_lo=0.45)
    with pytest.warns(UserWarning, match="s_lo"):
        fast.predict(outside)
    with pytest.raises(DomainError, match="s_lo"):
        fast.predict(outside, strict=True)
    with pytest.raises(DomainError, match="training domain"):
        fast.predict(DEFAULT_SHAM_PARAMS._replace(s_lo=0.8), strict=True)


def test_domain_guard_is_jittable_and_finite_inside(models):
    """A log-density built on the kernel: -inf outside the supported domain, finite
    values and gradients inside it (random points, every corner, every edge mid-point)."""
    fast = models[0]

    def log_density(theta):
        vector, info = fast.kernel(theta, fast.tables)
        value = -0.5 * jnp.sum(jnp.log(jnp.abs(vector) + 1.0) ** 2)
        return jnp.where(info.ok, value, -jnp.inf)

    value_and_grad = jax.jit(jax.vmap(jax.value_and_grad(log_density)))
    lo, hi = SUPPORTED_LO, SUPPORTED_HI
    corners, mids = box_corners(), box_edge_midpoints()
    points = np.concatenate([lo + (hi - lo) * np.random.default_rng(2).random((400, 5)), corners, mids])
    values, grads = (np.asarray(a) for a in value_and_grad(jnp.asarray(points)))
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))
    assert bool(in_supported_domain(jnp.asarray(points)).all())
    beyond = np.array([THETA + d for d in np.diag(hi - lo + 0.01)] + [THETA * np.nan])
    assert not np.any(np.asarray(in_supported_domain(jnp.asarray(beyond))))
    assert np.all(np.asarray(jax.jit(jax.vmap(log_density))(jnp.asarray(beyond[:5]))) == -np.inf)


def test_layout_config_and_bad_configuration(catalog, models):
    fast = models[0]
    layout = fast.layout
    assert layout.names == ("smf", "wp[9.80,10.40]", "wp[10.40,11.00]", "delta_sigma[9.80,10.40]",
                            "delta_sigma[10.40,11.00]")
    assert layout.size == 6 + 2 * 8 + 2 * 15
    np.testing.assert_array_equal(layout.sm_bins("wp"), SM_BINS)
    vector = np.arange(layout.size, dtype=float)
    parts = layout.split(vector)
    np.testing.assert_array_equal(parts["wp[10.40,11.00]"], vector[14:22])
    assert layout.stack(vector, "wp").shape == (2, 8)
    sub, index = layout.select(kinds=["wp"], r_range={"wp": (0.3, 3.0)})
    kept = layout["wp[9.80,10.40]"].centres
    assert sub.size == 2 * int(np.sum((kept >= 0.3) & (kept <= 3.0))) == index.size
    np.testing.assert_array_equal(sub.split(vector[index])["wp[9.80,10.40]"],
                                  vector[6:14][(kept >= 0.3) & (kept <= 3.0)])
    assert len(layout.labels()) == layout.size and layout.coords()[0]["data"][0] == "smf[10.00,10.20]"
    with pytest.raises(ValueError, match="52 elements"):
        layout.split(np.zeros(51))
    with pytest.raises(ValueError, match="unknown blocks"):
        layout.select(names=["wp[1,2]"])
    # the config: hashable, one to one with a [model] table, unknown keys named
    config = ModelConfig.from_dict({"smhm": "shamnet_alone", "pi_max": 20})
    assert hash(config) == hash(ModelConfig(smhm="shamnet_alone", pi_max=20.0))
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.digest() != ModelConfig().digest() and config.digest() == config.replace(cache_dir="/x").digest()
    with pytest.raises(ValueError, match="pimax"):
        ModelConfig.from_dict({"pimax": 20})
    with pytest.raises(ValueError, match="unknown smhm"):
        ModelConfig(smhm="richardson-lucy")
    with pytest.raises(ValueError, match="unknown path"):
        ModelConfig(path="fast")
    with pytest.raises(ValueError, match="at least one statistic"):
        make_forward_model(catalog)
    with pytest.raises(ValueError, match="lo < hi"):
        make_forward_model(catalog, smf_bins=np.array([[10.5, 10.0]]))
    with pytest.raises(ValueError, match="half the box"):
        make_forward_model(catalog, wp_bins=SM_BINS, rp_edges=[0.1, 25.0], pi_max=PI_MAX, path="exact")
    with pytest.raises(ValueError, match=r"bin \[13, 14\] can hold no galaxy"):
        make_forward_model(catalog, wp_bins=np.array([[10.0, 10.5], [13.0, 14.0]]), rp_edges=RP_EDGES,
                           pi_max=PI_MAX, path="exact")


def test_halos_outside_the_smhm_domain_are_refused(catalog):
    low = dataclasses.replace(catalog, logmpeak=np.where(np.arange(catalog.n_halos) < 3, 9.0, catalog.logmpeak))
    with pytest.raises(CatalogError, match=r"3 of .* outside \[10, 16.5\].*apply_mass_cut"):
        make_forward_model(low, smf_bins=SMF_BINS, path="exact")


def test_predictions_are_float64_without_global_configuration():
    """Importing diffsham changes no JAX setting and starts no backend; building a model
    switches float64 on, so the statistics are never float32."""
    code = ("import jax; from jax._src import xla_bridge as xb\n"
            "import diffsham, diffsham.model, diffsham.shamnet, diffsham.stats, diffsham.catalog, diffsham.cli\n"
            "import diffsham.sham.solver\n"
            "assert not jax.config.read('jax_enable_x64') and not xb._backends, 'import had side effects'\n"
            "import numpy as np\n"
            "from diffsham.catalog import SyntheticConfig, make_synthetic_catalog\n"
            "from diffsham.model import make_forward_model\n"
            "from diffsham.sham.params import DEFAULT_SHAM_PARAMS\n"
            "cat = make_synthetic_catalog(SyntheticConfig(lbox=30.0, logmpeak_min=11.5, n_grid=16), progress=False)\n"
            "m = make_forward_model(cat, smf_bins=np.array([[10.0, 10.5]]), path='exact')\n"
            "v = m.predict(DEFAULT_SHAM_PARAMS); assert v.dtype == np.float64, v.dtype\n"
            "jax.config.update('jax_enable_x64', False)\n"
            "try:\n    m.predict(DEFAULT_SHAM_PARAMS)\nexcept RuntimeError as e:\n    assert 'float64' in str(e)\n"
            "else:\n    raise AssertionError('float32 predictions were allowed')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def shifted_catalog():
    """A catalog whose abundance is not the model SHMF: every mass 0.1 dex heavier."""
    cat = make_synthetic_catalog(SyntheticConfig(lbox=100.0, logmpeak_min=11.3, seed=4, n_grid=32), progress=False)
    return cat, dataclasses.replace(cat, logmpeak=cat.logmpeak + 0.1)


def test_sham_on_the_catalogs_own_abundance(shifted_catalog):
    """With abundance "catalog" the SMF predicted from a catalog whose abundance differs
    from the model SHMF equals the target Schechter SMF; "model" misses it."""
    cat, shifted = shifted_catalog
    edges = np.round(np.arange(9.8, 11.41, 0.1), 6)
    smf_bins = np.stack([edges[:-1], edges[1:]], axis=1)
    target = np.asarray(smf_in_bins(TARGET_LOG_PHI, jnp.asarray(edges), *target_smf_params(DEFAULT_SHAM_PARAMS)))
    models = {abundance: make_forward_model(shifted, smf_bins=smf_bins, path="exact", abundance=abundance)
              for abundance in ("auto", "model", "catalog")}
    assert models["auto"].abundance == "catalog"
    assert make_forward_model(cat, smf_bins=smf_bins, path="exact").abundance == "model"
    err = {k: np.log10(np.asarray(m.predict(DEFAULT_SHAM_PARAMS)) / target) for k, m in models.items()}
    # counts allow: the bins above the catalog's completeness and with >= 30 galaxies' worth of halos
    counted = np.asarray(models["catalog"].predict(DEFAULT_SHAM_PARAMS)) * shifted.volume * 0.1 >= 30
    complete = smf_bins[:, 0] >= 10.2
    sel = counted & complete
    assert sel.sum() >= 8
    assert np.max(np.abs(err["catalog"][sel])) < 0.005, err["catalog"][sel]
    assert np.max(np.abs(err["model"][sel])) > 0.03, err["model"][sel]


def test_central_lensing_is_the_host_only_average_on_both_paths(small_catalog, small_model):
    """ds_lenses="centrals": sum over hosts of w_ib DeltaSigma_i / sum over hosts of w_ib,
    against that sum written out in NumPy from per-halo weights; tabulated = exact."""
    from diffsham.sham.scatter import scatter_sigma
    from diffsham.stats.weights import bin_weights

    config = small_model.config
    fast = make_forward_model(small_catalog, ds_bins=SM_BINS, config=config, ds_lenses="centrals", progress=False)
    exact = make_forward_model(small_catalog, ds_bins=SM_BINS, config=config.replace(path="exact"),
                               ds_lenses="centrals")
    every = make_forward_model(small_catalog, ds_bins=SM_BINS, config=config.replace(path="exact"))
    cat = small_catalog
    mu = np.asarray(exact.mean_log_sm(THETA, cat.logmpeak))
    w = np.asarray(bin_weights(jnp.asarray(mu), scatter_sigma(jnp.asarray(cat.logmpeak), THETA[3], THETA[4]),
                               jnp.asarray(SM_BINS)))
    host = cat.is_host
    reference = (w[host].T @ cat.delta_sigma[host]) / w[host].sum(axis=0)[:, None]
    np.testing.assert_allclose(np.asarray(exact.predict(THETA)), reference.ravel(), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(fast.predict(THETA)), reference.ravel(), rtol=1e-3)
    # satellites (offset in their hosts) change the average: the selection matters
    assert np.max(np.abs(np.asarray(every.predict(THETA)) / reference.ravel() - 1)) > 0.05
    j_fast, j_exact = np.asarray(fast.jacobian(THETA)[1]), np.asarray(exact.jacobian(THETA)[1])
    assert np.all(np.max(np.abs(j_fast - j_exact), axis=0) / np.max(np.abs(j_exact), axis=0) < 1e-2)
    with pytest.raises(ValueError, match="ds_lenses"):
        make_forward_model(small_catalog, ds_bins=SM_BINS, config=config, ds_lenses="satellites")
