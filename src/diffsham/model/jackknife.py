"""The simulation box's own sample variance: a delete-one jackknife of the prediction.

The box is cut into n_side^3 equal cubes. Replicate k is the prediction from the halos
outside cube k as first members of pairs, the whole box as second members (the
tabulation's row shards, ``tabulate(..., rows=...)``, so the n_side^3 shards together
cost one tabulation):

* SMF: sum_{i not in k} w_ib / (V (N - 1) / N) per dex;
* wp: DD over ordered pairs whose first member lies outside k, RR = 1/2 (W_b,-k W_b -
  sum_{i not in k} w_ib^2) times the shell volume over V;
* DeltaSigma: sum_{i not in k} w_ib DeltaSigma_i / sum_{i not in k} w_ib over the lenses.

C = (N - 1) / N sum_k (x_k - mean)(x_k - mean)^T. At one parameter point (a fit's MAP):
the covariance of the prediction is taken as fixed over the posterior.

A shard's pair tables do not hold sum Delta_second, so its pair counts use the
symmetric form (2 W'^T P1 W), correct to first order in the offset inside a bin (0.01
dex at dlogm 0.02): an error far below the jackknife's own.
"""
from typing import NamedTuple

import numpy as np
from jax import numpy as jnp

from ..stats.smf import smf_from_weight_sums
from ..stats.tabulate import tabulate
from ..stats.wprp import wp_from_counts
from .core import bin_weights_and_slopes, weight_sums_from_tables

__all__ = ("JackknifeCovariance", "subvolume_labels", "jackknife_covariance")


class JackknifeCovariance(NamedTuple):
    """covariance (n, n), replicates (N, n), and n_side (N = n_side^3), over the
    model's full data vector."""

    covariance: np.ndarray
    replicates: np.ndarray
    n_side: int


def subvolume_labels(pos, lbox, n_side):
    """The cube (0 ... n_side^3 - 1) of each position, shape (n, )."""
    cell = np.minimum((np.asarray(pos) / (lbox / n_side)).astype(int), n_side - 1)
    return (cell[:, 0] * n_side + cell[:, 1]) * n_side + cell[:, 2]


def _minus(tables, shard, centrals):
    out = {name: getattr(tables, name) - jnp.asarray(getattr(shard, name)) for name in ("n", "s1", "s2", "p0", "p1",
                                                                                         "p11")}
    if tables.ds0 is not None:
        prefix = "host_" if centrals else ""
        out.update(ds0=tables.ds0 - jnp.asarray(getattr(shard, prefix + "ds0")),
                   ds1=tables.ds1 - jnp.asarray(getattr(shard, prefix + "ds1")))
    if centrals:
        out.update({f"lens_{m}": getattr(tables, f"lens_{m}") - jnp.asarray(getattr(shard, f"host_{m}"))
                    for m in ("n", "s1", "s2")})
    return tables._replace(**out)


def jackknife_covariance(model, cat, theta, *, n_side=3, progress=True):
    """The delete-one jackknife covariance of ``model``'s prediction at ``theta``.

    Parameters
    ----------
    model : ForwardModel
        Tabulated path.
    cat : HaloCatalog
        The catalog the model was built from, in real space (moved to redshift space
        here when the model's config says so).
    theta : array of shape (5, )
    n_side : int
        Cubes per side; N = n_side^3 replicates (at least 8).
    progress : bool

    Returns
    -------
    JackknifeCovariance
    """
    from tqdm.auto import tqdm

    if model.config.path != "tabulated" or model.statics is None:
        raise ValueError("the jackknife needs a model on the tabulated path")
    if not (isinstance(n_side, int) and n_side >= 2):
        raise ValueError(f"n_side must be an integer >= 2, got {n_side!r}")
    cfg, statics, tables = model.config, model.statics, model.tables
    cat = cfg.catalog_in_space(cat)
    theta = jnp.asarray(theta, dtype=float)
    w, dw, _ = bin_weights_and_slopes(model.smhm, theta, tables)
    full = weight_sums_from_tables(statics, tables, w, dw)
    n_sub = n_side**3
    labels = subvolume_labels(cat.positions, cat.lbox, n_side)
    centrals = model.ds_lenses == "centrals"
    volume = statics.volume * (n_sub - 1) / n_sub
    replicates = []
    for k in tqdm(range(n_sub), desc="jackknife", disable=not progress):
        shard = tabulate(cat, cfg.rp_edges, cfg.pi_max, cfg.dlogm, progress=False, rows=np.flatnonzero(labels == k))
        smf, wp, ds = weight_sums_from_tables(statics, _minus(tables, shard, centrals), w, dw)
        out = []
        if smf is not None:
            out.append(smf_from_weight_sums(smf, volume, statics.smf_bins))
        if wp is not None:
            w_sum, w2_sum, dd = wp
            out.append(wp_from_counts(dd, w_sum, w2_sum, statics.rp_edges, statics.pi_max, statics.lbox,
                                      w_sum_second=full[1][0]).ravel())
        if ds is not None:
            out.append((ds[1] / ds[0][:, None]).ravel())
        replicates.append(np.asarray(jnp.concatenate(out)))
    x = np.stack(replicates)
    d = x - x.mean(axis=0)
    return JackknifeCovariance((n_sub - 1) / n_sub * d.T @ d, x, n_side)
