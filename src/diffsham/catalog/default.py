"""The default catalog: synthetic, made once and cached as HDF5 in the cache folder
(``diffsham.cache.resolve_cache_dir``)."""
import hashlib
import os

import numpy as np

from ..cache import remove_orphan_tmp_files, resolve_cache_dir
from .hdf5_io import read_catalog, write_catalog
from .lensing import DEFAULT_DS_RP_EDGES, analytic_delta_sigma
from .synthetic import SyntheticConfig, check_synthetic_config, make_synthetic_catalog, synthetic_source

__all__ = ("synthetic_catalog_path", "load_synthetic_catalog")


def synthetic_catalog_path(config=SyntheticConfig(), cache_dir=None, ds_rp_edges=None):
    """Where the catalog of a given config is cached (one file per config and, where
    they are not the default, lensing radii)."""
    check_synthetic_config(config)
    cache_dir = resolve_cache_dir(cache_dir)
    c = config
    grid = f"grid{c.n_grid}" if c.recipe == "linear" else f"nbody{float(c.cell_size):g}"
    name = f"synthetic_L{c.lbox:g}_m{c.logmpeak_min:g}-{c.logmpeak_max:g}_seed{c.seed}_{grid}_z{c.redshift:g}"
    if ds_rp_edges is not None and not _same_edges(ds_rp_edges, DEFAULT_DS_RP_EDGES):
        name += "_ds" + hashlib.sha256(np.asarray(ds_rp_edges, dtype=float).tobytes()).hexdigest()[:8]
    return os.path.join(cache_dir, name.replace(".", "p") + ".h5")


def _same_edges(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=0.0)


def load_synthetic_catalog(config=SyntheticConfig(), path=None, with_lensing=True, progress=True, ds_rp_edges=None):
    """The synthetic catalog for ``config``, from the cache or made and cached now.

    Parameters
    ----------
    config : SyntheticConfig
    path : str, optional
        Cache file; by default ``synthetic_catalog_path(config)``.
    with_lensing : bool, optional
        Attach analytic DeltaSigma_i(R) profiles.
    progress : bool, optional
    ds_rp_edges : ndarray of shape (n_r + 1, ), optional
        The radial bins of those profiles [Mpc/h]; default ``DEFAULT_DS_RP_EDGES``.

    Returns
    -------
    cat : HaloCatalog
    """
    edges = DEFAULT_DS_RP_EDGES if ds_rp_edges is None else np.asarray(ds_rp_edges, dtype=float)
    path = path or synthetic_catalog_path(config, ds_rp_edges=edges)
    remove_orphan_tmp_files(os.path.dirname(os.path.abspath(path)))
    if os.path.isfile(path):
        cat = read_catalog(path)
        if cat.source == synthetic_source(config) and (not with_lensing or (
                cat.delta_sigma is not None and _same_edges(cat.delta_sigma_rp_edges, edges))):
            return cat
    cat = make_synthetic_catalog(config, progress=progress)
    if with_lensing:
        ds = analytic_delta_sigma(cat, edges, progress=progress)
        cat = cat.with_delta_sigma(ds, edges, "analytic: NFW 1-halo (Diemer & Joyce 2019 c) "
                                   "+ Tinker10 bias x linear 2-halo; subhalos offset in their host")
    write_catalog(path, cat)
    return cat

