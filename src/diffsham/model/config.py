"""The forward model's settings: one hashable object, one-to-one with a spec's ``[model]`` table."""
import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np

__all__ = ("ModelConfig", "resolve_config", "DEFAULT_RP_EDGES", "DEFAULT_PI_MAX", "SMHM_BACKENDS", "ABUNDANCES", "PATHS", "SPACES")

DEFAULT_RP_EDGES = tuple(float(e) for e in np.logspace(-1, np.log10(30.0), 16))
DEFAULT_PI_MAX = 40.0

SMHM_BACKENDS = ("shamnet", "shamnet_alone", "solver")
ABUNDANCES = ("auto", "model", "catalog")
PATHS = ("tabulated", "exact")
SPACES = ("real", "redshift")


@dataclass(frozen=True)
class ModelConfig:
    """How theta becomes a data vector (the bins of the statistics are given separately).

    Attributes
    ----------
    smhm : {"shamnet", "shamnet_alone", "solver"}
        ``"shamnet"``: the exact solver converged from SHAMNet's prediction (exact SHAM,
        the default); ``"shamnet_alone"``: the network alone (faster, ~0.007 dex RMS in
        the SMF, model SHMF only); ``"solver"``: the solver from zero-scatter matching.
    abundance : {"auto", "model", "catalog"}
        The halo abundance SHAM is solved for. ``"model"``: the Bolshoi-Planck SHMF;
        ``"catalog"``: the catalog's own (sub)halo mass function; ``"auto"``: "model"
        for a synthetic catalog drawn from the model SHMF whose abundance agrees with
        it, "catalog" for every other catalog.
    path : {"tabulated", "exact"}
        Estimators: contractions over fine log Mpeak bins (for inference), or per-halo
        weights and exact pair counts (the reference).
    rp_edges : tuple of float
        wp's projected-separation bin edges [Mpc/h].
    pi_max : float
        Line-of-sight integration limit of wp [Mpc/h].
    dlogm : float
        Width of the tabulation's log Mpeak bins [dex].
    cache_dir : str or None
        Where tabulations are cached (``diffsham.cache.resolve_cache_dir``).
    pair_backend : {"auto", "numba", "jax"}
        Pair counter of the exact path.
    space : {"real", "redshift"}
        Positions wp is counted from: ``"redshift"`` moves each halo along z by its
        peculiar velocity (``diffsham.catalog.to_redshift_space``), as a measured wp
        sees it; both paths use them. The SMF and DeltaSigma do not depend on it.
    """

    smhm: str = "shamnet"
    abundance: str = "auto"
    path: str = "tabulated"
    rp_edges: tuple = DEFAULT_RP_EDGES
    pi_max: float = DEFAULT_PI_MAX
    dlogm: float = 0.02
    cache_dir: str | None = None
    pair_backend: str = "auto"
    space: str = "real"

    def __post_init__(self):
        for name, allowed in (("smhm", SMHM_BACKENDS), ("abundance", ABUNDANCES), ("path", PATHS), ("space", SPACES),
                              ("pair_backend", ("auto", "numba", "jax"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"model config: unknown {name} {getattr(self, name)!r}; choose from {allowed}")
        try:
            edges = tuple(float(e) for e in np.asarray(self.rp_edges, dtype=float).ravel())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model config: rp_edges must be a sequence of numbers, got {self.rp_edges!r}") from exc
        object.__setattr__(self, "rp_edges", edges)
        if len(edges) < 2 or not np.all(np.isfinite(edges)) or edges[0] < 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"model config: rp_edges must be >= 0 and strictly increasing, got {list(edges)}")
        for name in ("pi_max", "dlogm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
                raise ValueError(f"model config: {name} must be a positive number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not (0 < self.dlogm <= 0.1):
            raise ValueError(f"model config: dlogm must lie in (0, 0.1] dex, got {self.dlogm}")

    @classmethod
    def from_dict(cls, table, where="[model]"):
        """From a spec's ``[model]`` table; an unknown key is an error naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**table)

    def to_dict(self):
        return dataclasses.asdict(self)

    def catalog_in_space(self, cat):
        """``cat`` as the statistics see it: moved to redshift space when ``space`` says so."""
        if self.space != "redshift":
            return cat
        from ..catalog.redshift_space import to_redshift_space

        return to_redshift_space(cat)

    def replace(self, **changes):
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown model settings {unknown}")
        return dataclasses.replace(self, **changes)

    def digest(self):
        """A short hash of every setting but the cache folder (which changes no number)."""
        d = self.to_dict()
        d.pop("cache_dir")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def resolve_config(config=None, settings=None):
    """``config`` (default: ``ModelConfig()``) with the field overrides ``settings``."""
    config = config or ModelConfig()
    return config.replace(**settings) if settings else config
