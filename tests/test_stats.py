"""Exact, differentiable statistics: bin weights, weighted pair counts, wp, DeltaSigma, tabulation."""
import jax
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.stats.delta_sigma import delta_sigma_from_weights
from diffsham.stats.pair_counts import build_cell_lists, neighbour_sums, pair_cells, weighted_pair_counts
from diffsham.stats.tabulate import pair_tables
from diffsham.stats.tabulated import tabulated_pair_counts
from diffsham.stats.weights import bin_weights
from diffsham.stats.wprp import wp_exact, wp_from_counts, wp_setup


def _clustered_points(rng, n, lbox, n_clumps=40, frac=0.4, spread=1.0):
    pos = rng.random((n, 3)) * lbox
    m = int(frac * n)
    pos[:m] = (pos[:n_clumps][rng.integers(0, n_clumps, m)] + rng.normal(0, spread, (m, 3))) % lbox
    return np.where(pos >= lbox, 0.0, pos)


def _brute_force_counts(pos, w, lbox, edges, pi_max):
    d = pos[None] - pos[:, None]
    d -= lbox * np.round(d / lbox)
    rp = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)
    ok = np.abs(d[..., 2]) < pi_max
    np.fill_diagonal(ok, False)
    out = np.zeros((edges.size - 1, w.shape[1]))
    for k in range(edges.size - 1):
        m = ok & (rp >= edges[k]) & (rp < edges[k + 1])
        out[k] = 0.5 * np.einsum("ij,ib,jb->b", m, w, w)
    return out


def test_bin_weight_check_value():
    w = bin_weights(jnp.array([10.5]), jnp.array([0.3]), jnp.array([[10.4, 10.6]]))
    assert float(w[0, 0]) == pytest.approx(0.240077, abs=1e-6)


@pytest.mark.parametrize("backend", ["numba", "jax"])
@pytest.mark.parametrize("lbox, n, rp_max, pi_max", [(40.0, 400, 9.0, 8.0), (20.0, 250, 6.0, 9.0), (20.0, 200, 9.5, 9.5)])
def test_weighted_counts_equal_brute_force(lbox, n, rp_max, pi_max, backend):
    """Including a box so small that the cell stencil wraps onto itself."""
    rng = np.random.default_rng(1)
    pos = _clustered_points(rng, n, lbox, spread=0.5)
    w = rng.random((n, 2))
    edges = np.concatenate([[0.0], np.logspace(-1, np.log10(rp_max), 7)])
    if backend == "jax":  # small blocks: several neighbour groups per cell
        cells = build_cell_lists(pos, lbox, rp_max, pi_max, subdivide=2, n_edges=edges.size, block_bytes=2**16)
    else:
        cells = pair_cells(pos, lbox, edges, pi_max, backend="numba")
    dd = np.asarray(weighted_pair_counts(jnp.asarray(w), cells, edges, pi_max))
    np.testing.assert_allclose(dd, _brute_force_counts(pos, w, lbox, edges, pi_max), rtol=1e-12)


@pytest.mark.parametrize("rows", [None, "all"])
def test_pairs_exactly_on_bin_edges(rows):
    """A unit lattice puts many pairs exactly at rp = 1, 2, 3 (and pi exactly at integers):
    a pair on an edge belongs to the bin above it, and edges closer together than the
    slot lookup's resolution (a factor 2^(1/256) in r^2) are still told apart. Both
    compiled loops: each pair once (rows=None) and from both ends (rows given)."""
    lbox = 10.0
    g = np.arange(10.0)
    pos = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    w = np.random.default_rng(3).random((pos.shape[0], 2))
    edges, pi_max = np.array([1.0, 2.0, 2.0 + 1e-9, 3.0, 3.0 + 1e-3, 4.0]), 2.0
    ref = _brute_force_counts(pos, w, lbox, edges, pi_max)
    cells = pair_cells(pos, lbox, edges, pi_max, backend="numba")
    sums = neighbour_sums(w, cells, edges, pi_max, None if rows is None else np.arange(pos.shape[0]))
    np.testing.assert_allclose(0.5 * np.einsum("ib,ikb->kb", w, sums), ref, rtol=1e-12)
    # the thin bins [2, 2 + 1e-9) and [3, 3.001) hold exactly the pairs at rp = 2 and 3
    assert np.all(ref > 0)


def test_unit_weight_counts_and_wp_equal_halotools():
    mock_observables = pytest.importorskip("halotools.mock_observables")
    rng = np.random.default_rng(2)
    lbox, n = 60.0, 2000
    pos = _clustered_points(rng, n, lbox)
    edges, pi_max = np.logspace(-0.5, np.log10(12.0), 9), 15.0
    setup = wp_setup(pos, lbox, edges, pi_max)
    dd = np.asarray(weighted_pair_counts(jnp.ones((n, 1)), setup.cells, edges, pi_max))[:, 0]
    # halotools counts ordered pairs (self-pairs included) with rp <= edge and |pi| <= pi_bin
    cum = mock_observables.npairs_xy_z(pos, pos, edges, np.array([0.0, pi_max]), period=lbox)[:, 1]
    np.testing.assert_allclose(2.0 * dd, np.diff(cum), rtol=1e-12)
    # halotools normalises the analytic randoms by N^2 (self-pairs), DESIGN.md by N(N-1)
    ours = np.asarray(wp_exact(jnp.ones((n, 1)), setup))[0]
    theirs = mock_observables.wp(pos, edges, pi_max, period=lbox)
    converted = 2 * pi_max * ((theirs / (2 * pi_max) + 1.0) * n / (n - 1) - 1.0)
    np.testing.assert_allclose(ours, converted, rtol=1e-8)


def test_weighted_counts_equal_corrfunc():
    """Corrfunc's weighted DDrppi (pair_product) counts ordered pairs: 2 x DD."""
    try:
        from Corrfunc.theory.DDrppi import DDrppi
    except ImportError:
        pytest.skip("Corrfunc is not installed (it builds only with Debian's libgsl-dev; `make test` tries)")
    rng = np.random.default_rng(9)
    lbox, n = 80.0, 5000
    pos = _clustered_points(rng, n, lbox)
    w = rng.random(n)
    edges, pi_max = np.logspace(-1, np.log10(15.0), 9), 20.0
    res = DDrppi(1, 1, pi_max, edges, *pos.T, weights1=w, periodic=True, boxsize=lbox, weight_type="pair_product")
    theirs = np.zeros(edges.size - 1)
    np.add.at(theirs, np.searchsorted(edges, res["rmin"]), res["npairs"] * res["weightavg"])
    for backend in ("numba", "jax"):
        cells = pair_cells(pos, lbox, edges, pi_max, backend=backend)
        dd = np.asarray(weighted_pair_counts(jnp.asarray(w[:, None]), cells, edges, pi_max))[:, 0]
        np.testing.assert_allclose(2.0 * dd, theirs, rtol=1e-10)


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_pair_count_gradient_equals_finite_differences(backend):
    rng = np.random.default_rng(3)
    lbox, n = 30.0, 300
    pos = _clustered_points(rng, n, lbox, spread=0.5)
    w = jnp.asarray(rng.random((n, 2)))
    edges, pi_max = np.logspace(-1, np.log10(6.0), 6), 7.0
    setup = wp_setup(pos, lbox, edges, pi_max, backend=backend)
    proj = jnp.asarray(rng.normal(size=(2, 5)))

    def f(w):
        return jnp.sum(wp_exact(w, setup) * proj)

    grad = jax.grad(f)(w)
    jvp = jax.jvp(f, (w,), (jnp.ones_like(w),))[1]
    for i, b in ((0, 0), (17, 1), (150, 0), (299, 1)):
        e = jnp.zeros_like(w).at[i, b].set(1e-6)
        fd = (f(w + e) - f(w - e)) / 2e-6
        assert float(grad[i, b]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)
    assert float(jvp) == pytest.approx(float(jnp.sum(grad)), rel=1e-10)
    # forward and reverse mode agree through jit (jacfwd batches the tangents)
    v = jnp.asarray(rng.normal(size=(3, n, 2)))
    jf = jax.jit(lambda w: jax.vmap(lambda t: jax.jvp(f, (w,), (t,))[1])(v))(w)
    np.testing.assert_allclose(jf, jnp.einsum("snb,nb->s", v, grad), rtol=1e-10)


def test_neighbour_sums_split_across_processes():
    """Shards of rows: their shares 1/2 sum_i w_i S_i add up to DD, and each S_i is dDD/dw_i."""
    rng = np.random.default_rng(8)
    lbox, n = 40.0, 500
    pos = _clustered_points(rng, n, lbox, spread=0.5)
    w = rng.random((n, 3))
    edges, pi_max = np.logspace(-1, np.log10(8.0), 6), 9.0
    cells = pair_cells(pos, lbox, edges, pi_max, backend="numba")
    shards = np.array_split(rng.permutation(n), 3)
    shares = [0.5 * np.einsum("ib,ikb->kb", w[rows], neighbour_sums(w, cells, edges, pi_max, rows)) for rows in shards]
    np.testing.assert_allclose(sum(shares), _brute_force_counts(pos, w, lbox, edges, pi_max), rtol=1e-12)
    g = rng.normal(size=(edges.size - 1, 3))
    grad = jax.grad(lambda w: jnp.sum(g * weighted_pair_counts(w, cells, edges, pi_max)))(jnp.asarray(w))
    rows = shards[1]
    np.testing.assert_allclose(grad[rows], np.einsum("kb,ikb->ib", g, neighbour_sums(w, cells, edges, pi_max, rows)),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="rows must be"):
        neighbour_sums(w, cells, edges, pi_max, np.array([0, n]))


def test_numba_pair_tables_equal_brute_force():
    rng = np.random.default_rng(4)
    lbox, n = 50.0, 800
    pos = _clustered_points(rng, n, lbox)
    mbin = rng.integers(0, 4, n)
    dm = rng.uniform(-0.01, 0.01, n)
    edges, pi_max = np.logspace(-1, np.log10(10.0), 8), 12.0
    p0, p1, p11 = pair_tables(pos, mbin, dm, 4, lbox, edges, pi_max)
    onehot = np.eye(4)[mbin]
    for table, wa, wc in ((p0, onehot, onehot), (p1, onehot * dm[:, None], onehot),
                          (p11, onehot * dm[:, None], onehot * dm[:, None])):
        for a in range(4):
            for c in range(4):
                # ordered pairs: 2 x the unordered count of the symmetrised weights
                w2 = np.stack([wa[:, a], wc[:, c]], axis=1)
                d = pos[None] - pos[:, None]
                d -= lbox * np.round(d / lbox)
                rp = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)
                ok = np.abs(d[..., 2]) < pi_max
                np.fill_diagonal(ok, False)
                k = np.searchsorted(edges, rp, side="right") - 1
                ref = [np.einsum("ij,i,j->", ok & (k == kk), w2[:, 0], w2[:, 1]) for kk in range(edges.size - 1)]
                np.testing.assert_allclose(table[:, a, c], ref, rtol=1e-10, atol=1e-12)


def test_tabulated_pair_count_derivatives_equal_the_plain_form():
    """The custom JVP of the fast path (one read of the tables for any number of
    derivatives, using the symmetry of P0 and P11) against JAX's own derivatives of the
    plain quadratic form, on tables counted from points, in forward and reverse mode."""
    rng = np.random.default_rng(6)
    lbox, n, n_m = 50.0, 600, 5
    pos = _clustered_points(rng, n, lbox)
    tables = pair_tables(pos, rng.integers(0, n_m, n), rng.uniform(-0.01, 0.01, n), n_m, lbox,
                         np.logspace(-1, 1, 6), 12.0)
    np.testing.assert_allclose(tables[0], tables[0].transpose(0, 2, 1))
    np.testing.assert_allclose(tables[2], tables[2].transpose(0, 2, 1), rtol=1e-12, atol=1e-18)
    w, dw = jnp.asarray(rng.random((n_m, 3))), jnp.asarray(rng.normal(size=(n_m, 3)))

    def plain(p0, p1, p11, w, dw):
        def form(p, u, v):
            return jnp.einsum("kac,ab,cb->kb", p, u, v)

        return 0.5 * (form(p0, w, w) + 2.0 * form(p1, dw, w) + form(p11, dw, dw))

    args = (*(jnp.asarray(t) for t in tables), w, dw)
    np.testing.assert_allclose(tabulated_pair_counts(*args), plain(*args), rtol=1e-12)
    refs = jax.jacfwd(plain, argnums=(1, 3, 4))(*args)
    for jac in (jax.jacfwd, jax.jacrev):
        for got, ref in zip(jac(tabulated_pair_counts, argnums=(1, 3, 4))(*args), refs):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * float(jnp.abs(ref).max()))


def test_delta_sigma_weighted_mean_and_gradient():
    rng = np.random.default_rng(5)
    w = jnp.asarray(rng.random((50, 3)))
    profiles = jnp.asarray(rng.random((50, 7)) * 100)
    out = np.asarray(delta_sigma_from_weights(w, profiles))
    ref = np.array([[np.sum(w[:, b] * profiles[:, r]) / np.sum(w[:, b]) for r in range(7)] for b in range(3)])
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    g = jax.grad(lambda w: delta_sigma_from_weights(w, profiles)[1, 2])(w)
    e = jnp.zeros_like(w).at[7, 1].set(1e-6)
    fd = (delta_sigma_from_weights(w + e, profiles)[1, 2] - delta_sigma_from_weights(w - e, profiles)[1, 2]) / 2e-6
    assert float(g[7, 1]) == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("kwargs, match", [
    (dict(rp_edges=[1.0, 0.5, 2.0]), "strictly increasing"),
    (dict(rp_edges=[-1.0, 0.5, 2.0]), "non-negative"),
    (dict(pi_max=0.0), "pi_max"),
    (dict(pi_max=30.0), "pi_max"),
    (dict(rp_edges=[0.1, 26.0]), "half the box"),
    (dict(nan=True), "NaN"),
    (dict(outside=True), "outside the box"),
])
def test_bad_input_is_named_before_counting(kwargs, match):
    rng = np.random.default_rng(6)
    pos = rng.random((20, 3)) * 50.0
    if kwargs.pop("nan", False):
        pos[3, 1] = np.nan
    if kwargs.pop("outside", False):
        pos[4, 2] = 50.0
    args = dict(rp_edges=[0.1, 1.0, 5.0], pi_max=10.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        wp_setup(pos, 50.0, args["rp_edges"], args["pi_max"])


def test_mismatched_weights_are_named():
    setup = wp_setup(np.random.default_rng(7).random((20, 3)) * 50.0, 50.0, [0.1, 1.0, 5.0], 10.0)
    with pytest.raises(ValueError, match="n_points=20"):
        wp_exact(jnp.ones((19, 2)), setup)


def test_wp_from_counts_of_a_poisson_field_is_zero_on_average():
    """Analytic randoms: for uniform points DD/RR -> 1 (a check of the RR normalisation)."""
    rng = np.random.default_rng(8)
    lbox, n = 100.0, 4000
    pos = rng.random((n, 3)) * lbox
    edges, pi_max = np.array([5.0, 10.0, 20.0]), 20.0
    setup = wp_setup(pos, lbox, edges, pi_max)
    w = jnp.asarray(rng.random((n, 1)))
    dd = weighted_pair_counts(w, setup.cells, edges, pi_max)
    wp = np.asarray(wp_from_counts(dd, w.sum(0), (w**2).sum(0), edges, pi_max, lbox))[0]
    # Poisson noise of ~n^2 * shell pairs
    assert np.all(np.abs(wp / (2 * pi_max)) < 0.05)


def test_exact_wp_is_the_mean_of_monte_carlo_mocks():
    """Draw log M* per halo from the triweight kernel (Beta(4,4) on [-3, 3] sigma), select the
    bin, measure wp with halotools; 400 mocks average to the exact prediction."""
    mock_observables = pytest.importorskip("halotools.mock_observables")
    from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
    from diffsham.sham.params import DEFAULT_SHAM_PARAMS
    from diffsham.sham.scatter import scatter_sigma
    from diffsham.sham.solver import mean_log_sm_from_solution, solve_sham

    cat = make_synthetic_catalog(SyntheticConfig(lbox=50.0, logmpeak_min=11.3, seed=4, n_grid=32), progress=False)
    params = DEFAULT_SHAM_PARAMS
    mu = np.asarray(mean_log_sm_from_solution(solve_sham(params), cat.logmpeak))
    sigma = np.asarray(scatter_sigma(cat.logmpeak, params.s_lo, params.s_hi))
    lo, hi = 10.0, 10.8
    edges, pi_max = np.logspace(-0.5, np.log10(12.0), 7), 15.0
    w = bin_weights(jnp.asarray(mu), jnp.asarray(sigma), jnp.array([[lo, hi]]))
    exact = np.asarray(wp_exact(w, wp_setup(cat.positions, cat.lbox, edges, pi_max)))[0]
    rng = np.random.default_rng(10)
    mocks = []
    for _ in range(400):
        logsm = mu + sigma * 3.0 * (2.0 * rng.beta(4.0, 4.0, mu.size) - 1.0)
        gal = cat.positions[(logsm >= lo) & (logsm < hi)]
        n = gal.shape[0]
        ht = mock_observables.wp(gal, edges, pi_max, period=cat.lbox)
        mocks.append(2 * pi_max * ((ht / (2 * pi_max) + 1.0) * n / (n - 1) - 1.0))
    mocks = np.array(mocks)
    err = mocks.std(axis=0) / np.sqrt(len(mocks))
    assert np.all(np.abs(mocks.mean(axis=0) - exact) < 4.0 * err), ((mocks.mean(axis=0) - exact) / err)
    assert np.all(err < 0.1 * np.abs(exact))  # the comparison has teeth
