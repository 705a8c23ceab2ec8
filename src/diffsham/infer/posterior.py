"""The posterior of a spec: a NumPyro model over the named parameters, with the
prediction as a deterministic site, a multivariate normal likelihood whose Cholesky
factor is computed once, and the domain guard (outside the supported domain, or where
the SHAM solve did not converge, the log-density is -inf, never NaN).

``Posterior.potential`` gives BlackJAX and optax the same density on NumPyro's
unconstrained space, so every sampler samples one posterior. That space maps onto each
prior's interval by the soft clip of ``transforms.py`` (linear over the interval's
interior), not NumPyro's logistic sigmoid, which bends the posterior's straight
logphi-alpha-logmc ridge.
"""
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import numpy as jnp

from ..catalog import SyntheticConfig, load_synthetic_catalog, read_catalog, read_halotools_cache, read_hlist
from ..model import make_forward_model
from ..sham.params import PARAM_NAMES
from .data import load_data_vector, model_bins
from .transforms import bounded

__all__ = ("Posterior", "build_model", "build_posterior", "check_completeness", "load_spec_catalog",
           "prior_distribution")


def prior_distribution(prior, soft_clip=True):
    """The NumPyro distribution of a (checked) PriorSpec; None for a fixed parameter.

    Every prior is bounded (by the supported domain at least); its unconstrained map is
    the soft clip, or NumPyro's logistic sigmoid with ``soft_clip=False`` (the peer of
    ``benchmarks/bench_unconstrained_map.py``).
    """
    if prior.kind == "fixed":
        return None
    if prior.kind == "uniform":
        base = dist.Uniform(prior.lo, prior.hi)
    else:
        base = dist.TruncatedNormal(prior.loc, prior.scale, low=prior.lo, high=prior.hi)
    return bounded(base, prior.lo, prior.hi) if soft_clip else base


def load_spec_catalog(spec, progress=True):
    """The catalog a spec binds."""
    c = spec.catalog
    if c.kind == "synthetic":
        return load_synthetic_catalog(SyntheticConfig(lbox=c.lbox, logmpeak_min=c.logmpeak_min, seed=c.seed,
                                                      n_grid=c.n_grid, recipe=c.recipe,
                                                      cell_size=float(c.cell_size)), progress=progress, ds_rp_edges=c.ds_rp_edges)
    path = spec.resolve(c.path)
    if c.format == "halotools":
        return read_halotools_cache(path, **({"mass_column": c.mass_column} if c.mass_column else {}))
    if c.format == "hlist":
        return read_hlist(path, **({"mass_column": c.mass_column} if c.mass_column else {}))
    return read_catalog(path)


class Posterior:
    """A spec's forward model, data and priors, as a NumPyro model.

    Attributes
    ----------
    spec : FitSpec
    model : ForwardModel
    data : DataVector
    soft_clip : bool
        The unconstrained map (see ``prior_distribution``); keyword-only.
    free : tuple of str
        The sampled parameters, in ``PARAM_NAMES`` order.
    fixed : dict
        The fixed ones and their values.
    """

    def __init__(self, spec, model, data, *, soft_clip=True):
        self.spec, self.model, self.data = spec, model, data
        self.free = tuple(n for n in PARAM_NAMES if spec.priors[n].kind != "fixed")
        self.fixed = {n: spec.priors[n].value for n in PARAM_NAMES if spec.priors[n].kind == "fixed"}
        if not self.free:
            raise ValueError(f"{spec.path}: every parameter is fixed; nothing to sample")
        self._priors = {n: prior_distribution(spec.priors[n], soft_clip) for n in self.free}
        self._chol = jnp.asarray(np.linalg.cholesky(data.covariance))
        self._obs = jnp.asarray(data.values)
        self._index = jnp.asarray(data.index)

    def theta(self, values):
        """Full parameter array (..., 5) from a dict of the free parameters."""
        parts = [jnp.asarray(values[n]) if n in values else jnp.full(jnp.shape(values[self.free[0]]), self.fixed[n])
                 for n in PARAM_NAMES]
        return jnp.stack(parts, axis=-1)

    def predict(self, theta):
        """(prediction at the data's elements, ModelInfo); pure, jittable."""
        vector, info = self.model.kernel(theta, self.model.tables)
        return vector[self._index], info

    def numpyro_model(self, obs=None):
        """The NumPyro model: priors, the deterministic prediction, the guard, the likelihood.

        ``obs``: a data vector of shape (n, ) in place of the spec's (default: the spec's).
        """
        observed = self._obs if obs is None else obs
        values = {n: numpyro.sample(n, d) for n, d in self._priors.items()}
        prediction, info = self.predict(self.theta(values))
        ok = info.ok
        # where the point is outside the support the prediction may be NaN: the factor
        # makes the density -inf, and the likelihood sees a harmless stand-in
        safe = jnp.where(ok, prediction, observed)
        numpyro.deterministic("prediction", safe)
        numpyro.factor("support", jnp.where(ok, 0.0, -jnp.inf))
        numpyro.sample("data", dist.MultivariateNormal(safe, scale_tril=self._chol), obs=observed)

    def potential(self, u, obs=None):
        """-log density at unconstrained ``u`` (dict of the free parameters).

        ``obs``: a data vector (n, ) in place of the spec's. It is an argument, so one
        compiled function serves many data sets (``benchmarks/bench_calibration.py``
        vmaps it over noisy realisations). Built on NumPyro's ``potential_energy``
        directly: ``initialize_model`` would run the model eagerly (~17 s here).
        """
        from numpyro.infer.util import potential_energy

        return potential_energy(self.numpyro_model, (), {"obs": obs}, u)

    def log_prior(self, values):
        """log prior density at the free parameters ``values`` (dict of floats), on the
        parameters (not the unconstrained space)."""
        return float(sum(self._priors[n].log_prob(jnp.asarray(v, dtype=float)) for n, v in values.items()))

    def draw_prior(self, key, n):
        """n draws of the free parameters from their priors: dict of (n, )."""
        import jax

        keys = jax.random.split(key, len(self.free))
        return {name: self._priors[name].sample(k, (n,)) for name, k in zip(self.free, keys)}

    def to_unconstrained(self, values):
        from numpyro.distributions.transforms import biject_to

        return {n: biject_to(self._priors[n].support).inv(jnp.asarray(values[n])) for n in self.free}

    def from_unconstrained(self, u):
        from numpyro.distributions.transforms import biject_to

        return {n: biject_to(self._priors[n].support)(u[n]) for n in self.free}


def build_model(spec, progress=True, catalog=None):
    """The forward model of a spec: its catalog, its [model] table, its observables' bins.

    Under ``jax.distributed`` with several processes, a catalog file in the diffsham
    format is split over them (``diffsham.distributed.make_slab_forward_model``: the
    tabulation, or the exact path's pair sums); any other catalog is read whole by each.
    """
    import jax

    smf_bins, wp_bins, ds_bins = model_bins(spec)
    lenses = {o.kind: o.lenses for o in spec.observables}.get("delta_sigma", "all")
    if catalog is None and spec.catalog.kind == "file" and spec.catalog.format == "diffsham" and \
            jax.process_count() > 1:
        from ..distributed import make_slab_forward_model

        return make_slab_forward_model(spec.resolve(spec.catalog.path), smf_bins, wp_bins, ds_bins,
                                       config=spec.model, ds_lenses=lenses,
                                       progress=progress and jax.process_index() == 0)
    # under jax.distributed, process 0 makes the caches (catalog, tabulation) that the others then read
    first, after = _in_turn("the catalog and its tabulation cached")
    first()
    cat = catalog if catalog is not None else load_spec_catalog(spec, progress)
    model = make_forward_model(cat, smf_bins, wp_bins, ds_bins, config=spec.model, progress=progress,
                               ds_lenses=lenses)
    after()
    return model


def _in_turn(what):
    """(before, after): with several jax.distributed processes, a barrier that process 0
    meets after its work and the others before theirs; no-ops in one process."""
    import jax

    if jax.process_count() == 1:
        return (lambda: None), (lambda: None)
    from jax.experimental import multihost_utils

    def barrier():
        multihost_utils.sync_global_devices(what)

    nothing = lambda: None  # noqa: E731
    return (nothing, barrier) if jax.process_index() == 0 else (barrier, nothing)


def check_completeness(spec, model):
    """Warn, naming each bin, where more than ``spec.max_incompleteness`` of a bin's
    galaxies can come from halos below the catalog's cut somewhere in the prior box.
    Returns {block name: worst fraction}."""
    import warnings

    from ..model.completeness import worst_fraction_below_cut
    from ..model.smhm import make_smhm
    from ..shamnet.io import load_shamnet

    if model.logmpeak_min is None:
        return {}
    box = [(p.value, p.value) if p.kind == "fixed" else (p.lo, p.hi) for p in (spec.priors[n] for n in PARAM_NAMES)]
    lo, hi = (np.array(side) for side in zip(*box))
    smhm = make_smhm("shamnet_alone", load_shamnet(), "direct")  # the network: a bound, not the exact solve
    worst = {}
    for kind in ("smf", "wp", "delta_sigma"):
        bins = model.layout.sm_bins(kind)
        if bins is None:
            continue
        for (b_lo, b_hi), f in zip(bins, worst_fraction_below_cut(smhm, bins, model.logmpeak_min, lo, hi)):
            worst[f"{kind}[{b_lo:g}, {b_hi:g}]"] = float(f)
    over = {k: f for k, f in worst.items() if f > spec.max_incompleteness}
    if over:
        warnings.warn(f"{spec.path}: the catalog (log Mpeak >= {model.logmpeak_min:.2f}) is incomplete for "
                      + ", ".join(f"{k} (up to {100 * f:.1f}%)" for k, f in over.items())
                      + f" of the galaxies over the prior (threshold [likelihood] max_incompleteness = "
                      f"{spec.max_incompleteness:g}); a catalog with a lower cut is needed for data of real galaxies",
                      RuntimeWarning, stacklevel=2)
    return worst


def build_posterior(spec, progress=True, catalog=None, model=None):
    """Catalog -> forward model -> (completeness check) -> data -> Posterior for a spec.

    With ``[likelihood] box_covariance = "jackknife"`` the box's own jackknife covariance
    of the prediction (``diffsham.model.jackknife``, at the MAP of the posterior without
    it) is added to the data covariance.
    """
    if spec.box_covariance == "jackknife" and catalog is None:
        catalog = load_spec_catalog(spec, progress)
    model = model if model is not None else build_model(spec, progress, catalog)
    check_completeness(spec, model)
    posterior = Posterior(spec, model, load_data_vector(spec, model))
    if spec.box_covariance != "jackknife":
        return posterior
    import jax

    from ..model.jackknife import jackknife_covariance
    from .samplers import find_map

    x, _, unravel = find_map(posterior, posterior.potential, jax.random.PRNGKey(spec.sampler.seed))
    if x is None:
        raise RuntimeError(f"{spec.path}: no MAP point found to evaluate the jackknife covariance at")
    theta = posterior.theta(posterior.from_unconstrained(unravel(jnp.asarray(x))))
    jk = jackknife_covariance(model, catalog, theta, n_side=spec.jackknife_n_side, progress=progress)
    data = posterior.data
    box = jk.covariance[np.ix_(data.index, data.index)]
    return Posterior(spec, model, data._replace(covariance=data.covariance + box, box_covariance=box))
