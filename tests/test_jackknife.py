"""The box's jackknife covariance: each replicate against the same statistic computed
halo by halo (exact per-halo weights, the exact pair counter), and the covariance
against the replicates' spread."""
import numpy as np
import pytest
from jax import numpy as jnp

from diffsham.model.jackknife import jackknife_covariance, subvolume_labels
from diffsham.sham.params import DEFAULT_SHAM_PARAMS
from diffsham.sham.scatter import scatter_sigma
from diffsham.stats.pair_counts import pair_cells, weighted_pair_counts
from diffsham.stats.weights import bin_weights

THETA = np.asarray(DEFAULT_SHAM_PARAMS)


def _brute_force_replicates(model, cat, n_side):
    statics = model.statics
    n_smf, n_wp, n_ds = statics.n_bins
    mu = np.asarray(model.mean_log_sm(THETA, cat.logmpeak))
    w = np.asarray(bin_weights(jnp.asarray(mu), scatter_sigma(jnp.asarray(cat.logmpeak), THETA[3], THETA[4]),
                               model.tables.sm_edges))
    w_smf, w_wp, w_ds = w[:, :n_smf], w[:, n_smf:n_smf + n_wp], w[:, n_smf + n_wp:]
    edges = np.asarray(statics.rp_edges)
    cells = pair_cells(cat.positions, cat.lbox, edges, statics.pi_max)
    count = lambda x: np.asarray(weighted_pair_counts(jnp.asarray(x), cells, edges, statics.pi_max))  # noqa: E731
    c_all = count(w_wp)
    shell = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2) * 2 * statics.pi_max / cat.lbox**3
    dlogm = statics.smf_bins[:, 1] - statics.smf_bins[:, 0]
    labels = subvolume_labels(cat.positions, cat.lbox, n_side)
    n_sub = n_side**3
    out = []
    for k in range(n_sub):
        keep = (labels != k)[:, None]
        smf = (w_smf * keep).sum(0) / (cat.lbox**3 * (n_sub - 1) / n_sub) / dlogm
        a = w_wp * keep
        # ordered pairs (i, j), i outside k, j anywhere: C(a + w) - C(a) - C(w) of the
        # unordered counter C; the tabulated DD is half of it
        dd = 0.5 * (count(a + w_wp) - count(a) - c_all)
        rr = 0.5 * (a.sum(0) * w_wp.sum(0) - (a * w_wp).sum(0))[None, :] * shell[:, None]
        wp = (2 * statics.pi_max * (dd / rr - 1)).T.ravel()
        lens = w_ds * keep
        ds = ((lens.T @ cat.delta_sigma) / lens.sum(0)[:, None]).ravel()
        out.append(np.concatenate([smf, wp, ds]))
    return np.stack(out)


def test_replicates_and_covariance_against_halo_by_halo_sums(small_catalog, small_model):
    jk = jackknife_covariance(small_model, small_catalog, THETA, n_side=2, progress=False)
    ref = _brute_force_replicates(small_model, small_catalog, 2)
    assert jk.replicates.shape == ref.shape == (8, small_model.layout.size)
    scale = np.abs(ref) + np.where([b.kind == "wp" for b in small_model.layout.blocks for _ in range(b.size)], 1.0, 0.0)
    assert np.max(np.abs(jk.replicates - ref) / scale) < 2e-3
    d = ref - ref.mean(0)
    np.testing.assert_allclose(np.diag(jk.covariance), np.diag(7 / 8 * d.T @ d), rtol=0.05)
    # the full-box prediction is the mean of the replicates to first order
    full = np.asarray(small_model.predict(THETA))
    smf = small_model.layout.of_kind("smf")[0].slice
    np.testing.assert_allclose(jk.replicates[:, smf].mean(0), full[smf], rtol=1e-9)
    with pytest.raises(ValueError, match="n_side must be an integer >= 2"):
        jackknife_covariance(small_model, small_catalog, THETA, n_side=1)
