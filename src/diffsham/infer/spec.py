"""Likelihood specs: one TOML file binds the catalog, the forward model, the observables
with their data and covariance, the priors, the likelihood options and the sampler's
defaults. Read with tomllib; files are data, paths are relative to the spec file.

Every problem is a ``SpecError`` naming the file, the key and what is wrong.
"""
import dataclasses
import hashlib
import os
import tomllib
from dataclasses import dataclass, field

from ..model.config import ModelConfig
from ..sham.params import PARAM_NAMES, SUPPORTED_HI, SUPPORTED_LO
from ..survey import SOURCES

__all__ = ("SpecError", "FitSpec", "ObservableSpec", "PriorSpec", "SamplerSpec", "CatalogSpec", "read_spec",
           "parse_spec")

KINDS = ("smf", "wp", "delta_sigma")
PRIOR_KINDS = ("uniform", "normal", "truncated_normal", "fixed")
SAMPLERS = ("nuts", "hmc", "pathfinder-nuts", "numpyro-nuts")


class SpecError(ValueError):
    """A likelihood spec that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class CatalogSpec:
    """``kind = "synthetic"`` (SyntheticConfig fields, and ``ds_rp_edges``, the radial
    bins [Mpc/h] of its analytic lensing profiles, by default
    ``diffsham.catalog.DEFAULT_DS_RP_EDGES``; ``recipe = "nbody"`` with ``cell_size``
    for nonlinear host clustering and N-body subhalos) or ``kind = "file"`` (path, format,
    mass_column)."""

    kind: str = "synthetic"
    lbox: float = 250.0
    logmpeak_min: float = 11.5
    seed: int = 0
    n_grid: int = 64
    recipe: str = "linear"
    cell_size: float = 1.0
    path: str | None = None
    format: str = "diffsham"
    mass_column: str | None = None
    ds_rp_edges: tuple | None = None


@dataclass(frozen=True)
class ObservableSpec:
    """One statistic: its stellar-mass bins, data file, covariance (optional when the
    ``[likelihood]`` table gives a joint one), units and scale cut.

    Data files are whitespace-separated text. Columns: ``sm_lo sm_hi value`` for the SMF
    [h^3 Mpc^-3 dex^-1], ``sm_lo sm_hi r value`` for wp [Mpc/h] and DeltaSigma
    [h Msun/pc^2] (r the bin centre [Mpc/h]), unless ``columns`` says otherwise.

    Or a published survey table, read by its loader (``diffsham.survey``) and converted to
    h = 1 on load: ``source`` (one of ``SOURCES``), with ``data_dir`` (the folder of the
    tables; default ``../shared/data`` beside the repository), ``sample`` (Yang 2012)
    and ``mstar_h`` (Mandelbaum 2016: the h its stellar masses assume, required). The
    rows kept are those in the spec's ``sm_bins`` (the SMF: inside their range), and the
    covariance is the table's.

    ``lenses`` (DeltaSigma only): ``"all"`` galaxies, or ``"centrals"``, the galaxies of
    host halos (upid = -1), for samples of isolated galaxies such as Mandelbaum et al.
    2016's.
    """

    kind: str
    sm_bins: tuple
    data: str | None = None
    covariance: str | None = None
    columns: tuple = ()
    h: float = 1.0
    r_min: float = 0.0
    r_max: float = float("inf")
    model_error: float = 0.0
    source: str | None = None
    data_dir: str | None = None
    sample: str | None = None
    mstar_h: float | None = None
    lenses: str = "all"


@dataclass(frozen=True)
class PriorSpec:
    kind: str = "uniform"
    lo: float | None = None
    hi: float | None = None
    loc: float | None = None
    scale: float | None = None
    value: float | None = None


@dataclass(frozen=True)
class SamplerSpec:
    method: str = "nuts"
    chains: int = 4
    warmup: int = 500
    samples: int = 1000
    seed: int = 0
    dense_mass: bool = True
    # 0.95, not Stan's 0.8: with a step size pooled over chains, lower targets let
    # trajectories run along the logphi-alpha-logmc ridge into the prior box's walls,
    # where the log density falls by thousands, and diverge there. Default mock, 4 x 500
    # draws, soft clip, seed 0: 4 divergences at 0.9, none at 0.95; seed 1 had 6 at 0.95,
    # so 0.95 lowers the rate, it does not make it zero (RESULTS.md)
    target_accept: float = 0.95
    max_tree_depth: int = 10
    num_integration_steps: int = 16
    checkpoint_every: int = 100
    init: str = "map"
    init_dispersion: float = 0.5
    step_size_floor: float = 1e-5
    max_seconds_per_iteration: float = 60.0
    # chains split over this many local devices (diffsham.infer.devices); the draws equal
    # a one-device run's with the same seed, to rounding
    devices: int = 1


@dataclass(frozen=True)
class FitSpec:
    path: str
    text: str
    catalog: CatalogSpec
    model: ModelConfig
    observables: tuple
    priors: dict
    covariance: str | None = None
    hartlap_n_mocks: int | None = None
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    truth: dict | None = None
    # the largest fraction of a stellar-mass bin's galaxies that may come from halos below
    # the catalog's cut, anywhere in the prior box, before a warning names the bin
    max_incompleteness: float = 0.01
    # "jackknife": add the box's jackknife covariance of the prediction (n_side^3 cubes)
    box_covariance: str = "none"
    jackknife_n_side: int = 3

    @property
    def folder(self):
        return os.path.dirname(os.path.abspath(self.path))

    def resolve(self, relative):
        """A path of the spec, relative to the spec file."""
        return relative if os.path.isabs(relative) else os.path.normpath(os.path.join(self.folder, relative))

    def digest(self):
        """A hash of the spec's text, the files it names (data and covariances) and the
        survey tables its sources read (as loaded and cut)."""
        from .data import survey_table

        h = hashlib.sha256(self.text.encode())
        for i, o in enumerate(self.observables):
            if o.source is not None:
                rows, cov = survey_table(o, self, f"{self.path}: [observables[{i}]]")
                h.update(rows.tobytes())
                h.update(cov.tobytes())
        for f in [o.data for o in self.observables] + [o.covariance for o in self.observables] + [self.covariance]:
            if f and os.path.isfile(self.resolve(f)):
                with open(self.resolve(f), "rb") as fh:
                    h.update(fh.read())
        return h.hexdigest()[:16]


def _table(where, table, cls, path):
    if not isinstance(table, dict):
        raise SpecError(f"{path}: [{where}] must be a table, got {type(table).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SpecError(f"{path}: unknown keys {unknown} in [{where}]; known keys are {sorted(known)}")
    try:
        return cls(**table)
    except TypeError as exc:
        raise SpecError(f"{path}: [{where}]: {exc}") from exc


def read_spec(path):
    """Read and check a likelihood spec (see the module docstring)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SpecError(f"{path}: no such spec file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = tomllib.loads(raw.decode())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc})") from exc
    return parse_spec(doc, path, raw.decode())


def parse_spec(doc, path="<spec>", text=""):
    """A FitSpec from a parsed TOML document."""
    top = {"catalog", "model", "observables", "priors", "likelihood", "sampler", "truth"}
    unknown = sorted(set(doc) - top)
    if unknown:
        raise SpecError(f"{path}: unknown top-level keys {unknown}; known are {sorted(top)}")
    catalog = _table("catalog", doc.get("catalog", {}), CatalogSpec, path)
    if catalog.kind not in ("synthetic", "file"):
        raise SpecError(f"{path}: [catalog] kind must be 'synthetic' or 'file', got {catalog.kind!r}")
    if catalog.kind == "file" and not catalog.path:
        raise SpecError(f"{path}: [catalog] kind = 'file' needs a path")
    if catalog.kind == "file" and (catalog.recipe, catalog.cell_size) != ("linear", 1.0):
        raise SpecError(f"{path}: [catalog] recipe and cell_size choose how a synthetic catalog is made; "
                        "a catalog file is read as it is")
    if catalog.kind == "synthetic":
        from ..catalog.synthetic import SyntheticConfig, check_synthetic_config

        try:
            check_synthetic_config(SyntheticConfig(lbox=catalog.lbox, recipe=catalog.recipe, cell_size=catalog.cell_size))
        except ValueError as exc:
            raise SpecError(f"{path}: [catalog] {str(exc).replace('SyntheticConfig.', '')}") from None
    if catalog.ds_rp_edges is not None:
        edges = catalog.ds_rp_edges
        if catalog.kind != "synthetic":
            raise SpecError(f"{path}: [catalog] ds_rp_edges sets the radii of a synthetic catalog's lensing profiles; "
                            "a catalog file carries its own")
        if (not isinstance(edges, (list, tuple)) or len(edges) < 2
                or not all(isinstance(e, (int, float)) and not isinstance(e, bool) and e > 0 for e in edges)
                or any(b <= a for a, b in zip(edges, edges[1:]))):
            raise SpecError(f"{path}: [catalog] ds_rp_edges must be two or more increasing positive radii [Mpc/h], "
                            f"got {edges!r}")
        catalog = dataclasses.replace(catalog, ds_rp_edges=tuple(float(e) for e in edges))
    try:
        model = ModelConfig.from_dict(doc.get("model", {}), where=f"{path}: [model]")
    except ValueError as exc:
        raise SpecError(str(exc) if str(exc).startswith(path) else f"{path}: [model]: {exc}") from exc
    obs_tables = doc.get("observables")
    if not obs_tables or not isinstance(obs_tables, list):
        raise SpecError(f"{path}: at least one [[observables]] block is needed")
    observables = []
    for i, t in enumerate(obs_tables):
        where = f"observables[{i}]"
        t = dict(t)
        if "columns" in t:
            t["columns"] = tuple(t["columns"])
        if "sm_bins" not in t:
            raise SpecError(f"{path}: [{where}] needs sm_bins = [[lo, hi], ...]")
        try:
            t["sm_bins"] = tuple(tuple(float(x) for x in b) for b in t["sm_bins"])
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{path}: [{where}] sm_bins must be a list of [lo, hi] pairs") from exc
        o = _table(where, t, ObservableSpec, path)
        if o.kind not in KINDS:
            raise SpecError(f"{path}: [{where}] kind must be one of {KINDS}, got {o.kind!r}")
        if any(len(b) != 2 or b[1] <= b[0] for b in o.sm_bins):
            raise SpecError(f"{path}: [{where}] sm_bins must be [lo, hi] pairs with lo < hi, got {o.sm_bins}")
        if o.source is not None:
            if o.source not in SOURCES:
                raise SpecError(f"{path}: [{where}] source must be one of {sorted(SOURCES)}, got {o.source!r}")
            if SOURCES[o.source][0] != o.kind:
                raise SpecError(f"{path}: [{where}] source {o.source!r} holds {SOURCES[o.source][0]}, not {o.kind}")
            if o.data is not None or o.covariance is not None:
                raise SpecError(f"{path}: [{where}] give either a source or data/covariance files, not both")
            if (o.sample is not None) != (o.source == "yang2012"):
                raise SpecError(f"{path}: [{where}] sample is a key of source 'yang2012' only, and it needs one")
            if (o.mstar_h is not None) != (o.source == "mandelbaum2016"):
                raise SpecError(f"{path}: [{where}] mstar_h (the h of the paper's stellar masses) is a key of source "
                                "'mandelbaum2016' only, and it needs one")
        if o.lenses not in ("all", "centrals") or (o.lenses != "all" and o.kind != "delta_sigma"):
            raise SpecError(f"{path}: [{where}] lenses must be 'all' or 'centrals', and 'centrals' is for delta_sigma "
                            f"only; got {o.lenses!r} for {o.kind}")
        if o.h <= 0 or o.model_error < 0 or o.r_min >= o.r_max:
            raise SpecError(f"{path}: [{where}] needs h > 0, model_error >= 0 and r_min < r_max")
        observables.append(o)
    kinds = [o.kind for o in observables]
    if len(set(kinds)) != len(kinds):
        raise SpecError(f"{path}: each statistic may appear in one [[observables]] block only, got {kinds}")
    order = {k: i for i, k in enumerate(KINDS)}
    observables.sort(key=lambda o: order[o.kind])
    if "space" not in doc.get("model", {}) and any(o.kind == "wp" and o.source is not None for o in observables):
        # a measured wp integrates redshift-space separations: the default for survey data
        model = model.replace(space="redshift")
    priors = {}
    prior_tables = doc.get("priors", {})
    unknown = sorted(set(prior_tables) - set(PARAM_NAMES))
    if unknown:
        raise SpecError(f"{path}: unknown parameters {unknown} in [priors]; the parameters are {list(PARAM_NAMES)}")
    for i, name in enumerate(PARAM_NAMES):
        prior = _table(f"priors.{name}", prior_tables.get(name, {}), PriorSpec, path)
        priors[name] = _check_prior(prior, name, SUPPORTED_LO[i], SUPPORTED_HI[i], path)
    like = dict(doc.get("likelihood", {}))
    like_keys = ["covariance", "hartlap_n_mocks", "max_incompleteness", "box_covariance", "jackknife_n_side"]
    unknown = sorted(set(like) - set(like_keys))
    if unknown:
        raise SpecError(f"{path}: unknown keys {unknown} in [likelihood]; known are {like_keys}")
    max_incompleteness = like.get("max_incompleteness", FitSpec.max_incompleteness)
    if isinstance(max_incompleteness, bool) or not isinstance(max_incompleteness, (int, float)) or not (
            0 < max_incompleteness <= 1):
        raise SpecError(f"{path}: [likelihood] max_incompleteness must be a number in (0, 1], got {max_incompleteness!r}")
    box_covariance = like.get("box_covariance", FitSpec.box_covariance)
    if box_covariance not in ("none", "jackknife"):
        raise SpecError(f"{path}: [likelihood] box_covariance must be 'none' or 'jackknife', got {box_covariance!r}")
    n_side = like.get("jackknife_n_side", FitSpec.jackknife_n_side)
    if isinstance(n_side, bool) or not isinstance(n_side, int) or not 2 <= n_side <= 8:
        raise SpecError(f"{path}: [likelihood] jackknife_n_side must be an integer in [2, 8], got {n_side!r}")
    if box_covariance == "jackknife" and model.path != "tabulated":
        raise SpecError(f"{path}: [likelihood] box_covariance = 'jackknife' needs [model] path = 'tabulated'")
    sampler = _table("sampler", doc.get("sampler", {}), SamplerSpec, path)
    if sampler.method not in SAMPLERS:
        raise SpecError(f"{path}: [sampler] method must be one of {SAMPLERS}, got {sampler.method!r}")
    if sampler.init not in ("prior", "map"):
        raise SpecError(f"{path}: [sampler] init must be 'prior' or 'map', got {sampler.init!r}")
    check_devices(sampler, path)
    truth = doc.get("truth")
    if truth is not None:
        bad = sorted(set(truth) - set(PARAM_NAMES))
        if bad:
            raise SpecError(f"{path}: unknown parameters {bad} in [truth]")
    return FitSpec(path=path, text=text, catalog=catalog, model=model, observables=tuple(observables), priors=priors,
                   covariance=like.get("covariance"), hartlap_n_mocks=like.get("hartlap_n_mocks"), sampler=sampler,
                   truth=truth, max_incompleteness=float(max_incompleteness), box_covariance=box_covariance,
                   jackknife_n_side=n_side)


def check_devices(sampler, where):
    """The chain-sharding settings of a SamplerSpec make sense (not whether the devices exist)."""
    devices = sampler.devices
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise SpecError(f"{where}: [sampler] devices must be a positive integer, got {devices!r}")
    if devices > 1 and sampler.method == "numpyro-nuts":
        raise SpecError(f"{where}: [sampler] devices > 1 splits BlackJAX chains; numpyro-nuts runs on one device")
    if sampler.chains % devices:
        raise SpecError(f"{where}: [sampler] {sampler.chains} chains cannot be split evenly over {devices} devices")


def _check_prior(prior, name, lo, hi, path):
    where = f"{path}: [priors.{name}]"
    if prior.kind not in PRIOR_KINDS:
        raise SpecError(f"{where} kind must be one of {PRIOR_KINDS}, got {prior.kind!r}")
    outside = f"outside the supported domain [{lo:g}, {hi:g}] of {name} (where the SHAM solve converges)"
    if prior.kind == "fixed":
        if prior.value is None:
            raise SpecError(f"{where} kind = 'fixed' needs a value")
        if not lo <= prior.value <= hi:
            raise SpecError(f"{where} value {prior.value} lies {outside}")
        return prior
    if prior.kind in ("normal", "truncated_normal"):
        if prior.loc is None or prior.scale is None or not prior.scale > 0:
            raise SpecError(f"{where} kind = '{prior.kind}' needs loc and scale > 0")
    p_lo = lo if prior.lo is None else prior.lo
    p_hi = hi if prior.hi is None else prior.hi
    if p_lo < lo or p_hi > hi:
        raise SpecError(f"{where} bounds [{p_lo:g}, {p_hi:g}] reach {outside}")
    if not p_lo < p_hi:
        raise SpecError(f"{where} needs lo < hi, got [{p_lo:g}, {p_hi:g}]")
    # every prior is bounded by the supported domain: a normal prior is truncated to it
    return dataclasses.replace(prior, lo=float(p_lo), hi=float(p_hi))

