"""The default catalog: synthetic, made once and cached as HDF5 in the cache folder
(``diffsham.cache.resolve_cache_dir``)."""
import os

from ..cache import remove_orphan_tmp_files, resolve_cache_dir
from .hdf5_io import read_catalog, write_catalog
from .lensing import DEFAULT_DS_RP_EDGES, analytic_delta_sigma
from .synthetic import SyntheticConfig, make_synthetic_catalog, synthetic_source

__all__ = ("synthetic_catalog_path", "load_synthetic_catalog")


def synthetic_catalog_path(config=SyntheticConfig(), cache_dir=None):
    """Where the catalog of a given config is cached (one file per config)."""
    cache_dir = resolve_cache_dir(cache_dir)
    c = config
    name = f"synthetic_L{c.lbox:g}_m{c.logmpeak_min:g}-{c.logmpeak_max:g}_seed{c.seed}_grid{c.n_grid}_z{c.redshift:g}"
    return os.path.join(cache_dir, name.replace(".", "p") + ".h5")


def load_synthetic_catalog(config=SyntheticConfig(), path=None, with_lensing=True, progress=True):
    """The synthetic catalog for ``config``, from the cache or made and cached now.

    Parameters
    ----------
    config : SyntheticConfig
    path : str, optional
        Cache file; by default ``synthetic_catalog_path(config)``.
    with_lensing : bool, optional
        Attach analytic DeltaSigma_i(R) profiles in ``DEFAULT_DS_RP_EDGES``.
    progress : bool, optional

    Returns
    -------
    cat : HaloCatalog
    """
    path = path or synthetic_catalog_path(config)
    remove_orphan_tmp_files(os.path.dirname(os.path.abspath(path)))
    if os.path.isfile(path):
        cat = read_catalog(path)
        if cat.source == synthetic_source(config) and (cat.delta_sigma is not None or not with_lensing):
            return cat
    cat = make_synthetic_catalog(config, progress=progress)
    if with_lensing:
        ds = analytic_delta_sigma(cat, DEFAULT_DS_RP_EDGES, progress=progress)
        cat = cat.with_delta_sigma(ds, DEFAULT_DS_RP_EDGES, "analytic: NFW 1-halo (Diemer & Joyce 2019 c) "
                                   "+ Tinker10 bias x linear 2-halo; subhalos offset in their host")
    write_catalog(path, cat)
    return cat

