"""``make_forward_model``: config -> tables -> a pure kernel, and the checked public entry.

The public methods (``predict``, ``predict_with_info``, ``jacobian``) take a
``ShamParams``, a ``ShamUParams``, an array of shape (5, ) or a batch of shape (..., 5).
Called eagerly, they check their input first (NaN, wrong shape, scatter <= 0: a
ValueError naming the parameter; outside the supported domain: a warning, or a
DomainError with ``strict=True``), warn where the SHAM solve did not converge, and
raise rather than return a non-finite data vector. Called inside ``jit``, ``grad`` or
``vmap`` they skip the checks and run the pure kernel; a sampler's log-density uses
``kernel`` and ``tables`` directly, with ``ModelInfo.ok``.
"""
import warnings
from typing import NamedTuple

import jax
import numpy as np
from jax import numpy as jnp

from ..catalog.schema import CatalogError
from ..precision import enable_float64, require_float64
from ..sham.params import SUPPORTED_HI, SUPPORTED_LO, as_theta, check_params
from ..sham.shmf import DEFAULT_LOGMH_EDGES
from ..stats.tabulate import load_or_tabulate, tabulation_key
from ..stats.weights import check_sm_edges
from ..stats.wprp import wp_setup
from .abundance import halo_grid_for, mass_summary, resolve_abundance
from .config import ModelConfig, resolve_config
from .core import ModelStatics, ModelTables, make_kernel
from .domain import box_corners, check_supported_domain
from .layout import Layout
from .smhm import make_smhm

__all__ = ("ForwardModel", "make_forward_model", "SMHM_LOGMPEAK_RANGE", "ModelPlan", "plan_forward_model",
           "exact_tables", "tabulated_tables", "model_from_plan")

# log Mpeak [Msun/h] where the SMHM is defined (the cells of the SHMF grid)
SMHM_LOGMPEAK_RANGE = (float(DEFAULT_LOGMH_EDGES[0]), float(DEFAULT_LOGMH_EDGES[-1]))


class ForwardModel:
    """theta -> predicted data vector, with its layout, config and pure core.

    Attributes
    ----------
    kernel : callable
        Pure ``kernel(theta of shape (5, ), tables) -> (vector, ModelInfo)``. Close
        over ``tables`` rather than passing them to a jitted function: passing large
        tables as arguments costs ~1.5 ms a call at 10^6 halos.
    tables : ModelTables
    layout : Layout
    config : ModelConfig
    abundance : {"model", "catalog"}
        The halo abundance SHAM is solved for ("auto" resolved).
    smhm : callable
        Pure ``smhm(theta, logm, halo_grid) -> (<log M*>, SmhmInfo)`` of the backend.
    logmpeak_min : float
        The catalog's lightest (sub)halo [log Msun/h]: galaxies of lighter halos are
        missing from every prediction (``diffsham.model.completeness``).
    ds_lenses : {"all", "centrals"}
        The lenses of DeltaSigma.
    statics : ModelStatics
        What the kernel was built with (``diffsham.model.jackknife`` reuses it).
    halo_axis : str or None
        The mesh axis the kernel sums its halos over, where they are split over the
        processes of jax.distributed (``diffsham.distributed.make_slab_forward_model``,
        exact path); None where each process holds the whole catalog or its tables.
    """

    def __init__(self, kernel, tables, layout, config, abundance, smhm, logmpeak_min=None, ds_lenses="all",
                 statics=None, halo_axis=None):
        self.kernel, self.tables, self.layout, self.config, self.abundance = kernel, tables, layout, config, abundance
        self.smhm, self.logmpeak_min, self.ds_lenses, self.statics = smhm, logmpeak_min, ds_lenses, statics
        self.halo_axis = halo_axis
        self._mu = jax.jit(jax.vmap(lambda t, m: smhm(t, m, tables.halo_grid)[0], in_axes=(0, None)))
        # closed over, not passed: at 10^6 halos passing the 67 MB of tables as jit
        # arguments costs ~1.5 ms a call (measured), closing over them nothing
        self._one = jax.jit(lambda t: kernel(t, tables))
        self._batch = jax.jit(jax.vmap(lambda t: kernel(t, tables)))
        self._jac_one = jax.jit(lambda t: _jac(kernel, t, tables))
        self._jac_batch = jax.jit(jax.vmap(lambda t: _jac(kernel, t, tables)))

    def __repr__(self):
        return (f"ForwardModel({self.layout.size} data: {', '.join(self.layout.names)}; smhm={self.config.smhm}, "
                f"abundance={self.abundance}, path={self.config.path}, ds_lenses={self.ds_lenses})")

    def _theta(self, params, strict):
        """(theta, eager): checked float64 theta for eager calls, untouched when traced."""
        values = check_params(params)
        if values is None:  # traced: the pure kernel, no checks
            return as_theta(params), False
        check_supported_domain(values, strict=strict, stacklevel=4)
        require_float64("the forward model")
        return jnp.asarray(values), True

    def _run(self, one, batch, params, strict):
        theta, eager = self._theta(params, strict)
        if theta.ndim == 1:
            out = one(theta)
        else:
            lead = theta.shape[:-1]
            out = batch(theta.reshape(-1, theta.shape[-1]))
            out = jax.tree_util.tree_map(lambda a: a.reshape(lead + a.shape[1:]), out)
        if eager:
            self._report(theta, out[-1])
        return out

    def _report(self, theta, info):
        converged, finite = np.asarray(info.converged), np.asarray(info.finite)
        if not np.all(converged):
            where = np.asarray(theta)[~converged] if theta.ndim > 1 else np.asarray(theta)
            warnings.warn(f"the SHAM solve did not converge (stopped after {np.max(np.asarray(info.n_iter))} steps) "
                          f"at theta = {np.round(where, 4).tolist()}: its derivatives are not to be trusted there; "
                          f"the supported domain is {list(zip(SUPPORTED_LO, SUPPORTED_HI))}", stacklevel=4)
        if not np.all(finite):
            raise ValueError(f"the prediction is not finite at theta = {np.round(np.asarray(theta), 4).tolist()} "
                             "(a stellar-mass bin holds no galaxy there?)")

    def predict(self, params, strict=False):
        """The data vector, shape (n_data, ) or (..., n_data) for a batch of parameters."""
        return self._run(self._one, self._batch, params, strict)[0]

    def predict_with_info(self, params, strict=False):
        """(data vector, ModelInfo): the prediction and how its SHAM solve went."""
        return self._run(self._one, self._batch, params, strict)

    def mean_log_sm(self, params, logm):
        """<log M*> [Msun/h^2] at log Mpeak ``logm`` for parameters of shape (5, ) or
        (n, 5): the SMHM this model uses (for its halo abundance)."""
        theta, _ = self._theta(params, False)
        out = self._mu(jnp.atleast_2d(theta), jnp.asarray(logm, dtype=float))
        return out[0] if theta.ndim == 1 else out

    def jacobian(self, params, strict=False):
        """(data vector, d vector / d theta of shape (n_data, 5)), in forward mode."""
        return self._run(self._jac_one, self._jac_batch, params, strict)[:2]


def _jac(kernel, theta, tables):
    """Forward mode in the five parameters; the value rides along (has_aux)."""

    def f(t):
        vector, info = kernel(t, tables)
        return vector, (vector, info)

    jac, (value, info) = jax.jacfwd(f, has_aux=True)(theta)
    return value, jac, info


def _check_catalog_masses(masses):
    lo, hi = SMHM_LOGMPEAK_RANGE
    if masses.logm_min < lo or masses.logm_max > hi:
        # the summary's cells span exactly this range
        n_out = masses.n_halos - int(np.sum(masses.counts))
        raise CatalogError(f"catalog ({masses.source}): {n_out} of {masses.n_halos} halos have log Mpeak outside "
                           f"[{lo:g}, {hi:g}], where the SMHM is defined (min {masses.logm_min:.3f}, max "
                           f"{masses.logm_max:.3f}); cut them explicitly with "
                           f"diffsham.catalog.apply_mass_cut(cat, {lo:g})")


def _check_bins_can_be_populated(masses, layout, smhm, halo_grid):
    """A stellar-mass bin no halo can reach anywhere in the supported domain is an error."""
    corners = box_corners()
    ends = jnp.asarray([masses.logm_min, masses.logm_max])
    mus = np.array([np.asarray(smhm(jnp.asarray(t), ends, halo_grid)[0]) for t in corners])
    sig = np.max(SUPPORTED_HI[3:])
    reach_lo, reach_hi = mus[:, 0].min() - 3 * sig, mus[:, 1].max() + 3 * sig
    for kind in ("smf", "wp", "delta_sigma"):
        bins = layout.sm_bins(kind)
        if bins is None:
            continue
        for lo, hi in bins:
            if hi <= reach_lo or lo >= reach_hi:
                raise ValueError(
                    f"{kind} stellar-mass bin [{lo:g}, {hi:g}] can hold no galaxy of this catalog: over the "
                    f"supported domain its halos (log Mpeak {ends[0]:.2f}-{ends[1]:.2f}) reach log M* "
                    f"{reach_lo:.2f}-{reach_hi:.2f} at most")


DS_LENSES = ("all", "centrals")


class ModelPlan(NamedTuple):
    """What every estimator path shares, settled before any table is built
    (``plan_forward_model``)."""

    config: ModelConfig
    smf_bins: np.ndarray | None
    wp_bins: np.ndarray | None
    ds_bins: np.ndarray | None
    layout: Layout
    abundance: str
    halo_grid: object  # HaloGrid of JAX arrays
    all_bins: np.ndarray
    n_bins: tuple
    centrals: bool
    net: object
    ds_lenses: str


def plan_forward_model(masses, lbox, ds_rp_edges, smf_bins, wp_bins, ds_bins, *, config, net, ds_lenses, settings):
    """Check the bins and settings against a catalog's masses and settle the layout,
    abundance and halo grid (see ``make_forward_model``).

    Parameters
    ----------
    masses : MassSummary
    lbox : float
    ds_rp_edges : ndarray or None
        The radii of the catalog's DeltaSigma profiles (None: it has none).
    """
    enable_float64()
    config = resolve_config(config, settings)
    if smf_bins is None and wp_bins is None and ds_bins is None:
        raise ValueError("ask for at least one statistic: smf_bins, wp_bins or ds_bins")
    smf_bins = None if smf_bins is None else check_sm_edges(smf_bins, "smf_bins")
    wp_bins = None if wp_bins is None else check_sm_edges(wp_bins, "wp_bins")
    ds_bins = None if ds_bins is None else check_sm_edges(ds_bins, "ds_bins")
    if ds_bins is not None and ds_rp_edges is None:
        raise ValueError("ds_bins asked for, but the catalog carries no DeltaSigma profiles")
    if ds_lenses not in DS_LENSES:
        raise ValueError(f"ds_lenses must be one of {DS_LENSES}, got {ds_lenses!r}")
    _check_catalog_masses(masses)
    from ..shamnet.io import load_shamnet

    net = net or load_shamnet()
    layout = Layout.from_bins(smf_bins, wp_bins, ds_bins, np.asarray(config.rp_edges, dtype=float), ds_rp_edges)
    abundance = resolve_abundance(masses, config.abundance)
    if config.smhm == "shamnet_alone" and abundance == "catalog":
        warnings.warn("the network alone was trained for the model SHMF: with the catalog's own abundance it gives "
                      "only an approximate SMHM; use smhm='shamnet' (refined) for exact SHAM", stacklevel=3)
    halo_grid = halo_grid_for(masses, abundance)
    _check_bins_can_be_populated(masses, layout, make_smhm("shamnet_alone", net, "direct"), halo_grid)
    return ModelPlan(config, smf_bins, wp_bins, ds_bins, layout, abundance,
                     halo_grid._replace(logmh=jnp.asarray(halo_grid.logmh), dn=jnp.asarray(halo_grid.dn)),
                     np.concatenate([b for b in (smf_bins, wp_bins, ds_bins) if b is not None]),
                     tuple(0 if b is None else b.shape[0] for b in (smf_bins, wp_bins, ds_bins)),
                     ds_bins is not None and ds_lenses == "centrals", net, ds_lenses)


def make_forward_model(cat, smf_bins=None, wp_bins=None, ds_bins=None, *, config=None, net=None, tabulation=None,
                       progress=True, ds_lenses="all", **settings):
    """Build the forward model for a catalog and a choice of statistics.

    Parameters
    ----------
    cat : HaloCatalog
        Every halo must lie in log Mpeak [10, 16.5], where the SMHM is defined.
    smf_bins, wp_bins, ds_bins : ndarray of shape (n, 2), optional
        (lo, hi) log M* [Msun/h^2] bins of each statistic; None leaves it out.
    config : ModelConfig, optional
    net : ShamNet, optional
        Default: the shipped weights.
    tabulation : Tabulation, optional
        Reuse one (complete: combine shards first, or from
        ``diffsham.distributed.tabulate_distributed``); by default loaded from the cache or built.
    progress : bool
    ds_lenses : {"all", "centrals"}
        The lenses of DeltaSigma: every galaxy, or central galaxies only (those of host
        halos, upid = -1), as for samples of isolated galaxies.
    **settings
        Overrides of ``config`` fields, e.g. ``path="exact"``, ``rp_edges=...``.

    Returns
    -------
    model : ForwardModel
    """
    plan = plan_forward_model(mass_summary(cat), cat.lbox, cat.delta_sigma_rp_edges, smf_bins, wp_bins, ds_bins,
                              config=config, net=net, ds_lenses=ds_lenses, settings=settings)
    config = plan.config
    cat = config.catalog_in_space(cat)
    rp_edges = np.asarray(config.rp_edges, dtype=float)
    if config.path == "tabulated":
        tab = tabulation or load_or_tabulate(cat, rp_edges, config.pi_max, config.dlogm, cache_dir=config.cache_dir,
                                             progress=progress)
        if tabulation is not None and tab.key != tabulation_key(cat, rp_edges, config.pi_max, config.dlogm):
            raise ValueError("the tabulation was built from another catalog or binning (its key does not match)")
        tables, statics = tabulated_tables(plan, tab)
        kernel = make_kernel(statics, make_smhm(config.smhm, plan.net, "direct"))
    else:
        cells = None
        if plan.wp_bins is not None:
            setup = wp_setup(cat.positions, cat.lbox, rp_edges, config.pi_max, backend=config.pair_backend)
            cells, rp_edges = setup.cells, setup.rp_edges
        tables, statics = exact_tables(plan, cat, cells, rp_edges)
        kernel = make_kernel(statics, make_smhm(config.smhm, plan.net, "grid"))
    return model_from_plan(plan, kernel, tables, statics, float(cat.logmpeak.min()))


def tabulated_tables(plan, tab):
    """(ModelTables, ModelStatics) of the tabulated path from a complete Tabulation."""
    if not tab.complete:
        raise ValueError(f"the tabulation covers {int(tab.n.sum())} of {tab.n_total} halos: a shard; "
                         "combine all shards with combine_tabulations first")
    arrays = {name: None if getattr(tab, name) is None else jnp.asarray(getattr(tab, name))
              for name in ("n", "s1", "s2", "p0", "p1", "p11", "ds0", "ds1")}
    if plan.centrals:
        arrays.update({f"lens_{m}": jnp.asarray(getattr(tab, f"host_{m}")) for m in ("n", "s1", "s2")},
                      ds0=jnp.asarray(tab.host_ds0), ds1=jnp.asarray(tab.host_ds1))
    tables = ModelTables(plan.halo_grid, jnp.asarray(tab.logm_centres), jnp.asarray(plan.all_bins), **arrays)
    statics = ModelStatics("tabulated", plan.n_bins, plan.smf_bins, tab.lbox**3, tab.lbox, tab.rp_edges,
                           plan.config.pi_max)
    return tables, statics


def exact_tables(plan, cat, cells, rp_edges, own=None):
    """(ModelTables, ModelStatics) of the exact path for the halos of ``cat``; ``own``
    (1 for the halos whose one-point sums are this share's) when ``cat`` is a share."""
    tables = ModelTables(plan.halo_grid, jnp.asarray(cat.logmpeak), jnp.asarray(plan.all_bins),
                         profiles=None if plan.ds_bins is None else jnp.asarray(cat.delta_sigma),
                         lens_mask=jnp.asarray(cat.is_host, dtype=float) if plan.centrals else None,
                         own=None if own is None else jnp.asarray(own, dtype=float))
    statics = ModelStatics("exact", plan.n_bins, plan.smf_bins, cat.volume, cat.lbox, rp_edges, plan.config.pi_max,
                           cells)
    return tables, statics


def model_from_plan(plan, kernel, tables, statics, logmpeak_min, halo_axis=None):
    """The ForwardModel of a plan, its kernel and tables."""
    return ForwardModel(kernel, tables, plan.layout, plan.config, plan.abundance,
                        make_smhm(plan.config.smhm, plan.net, "direct"), logmpeak_min=logmpeak_min,
                        ds_lenses=plan.ds_lenses, statics=statics, halo_axis=halo_axis)
