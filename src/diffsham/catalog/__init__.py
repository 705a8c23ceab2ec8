"""Halo catalogs: one schema, readers with validation, a synthetic default, lensing profiles."""
from .default import load_synthetic_catalog, synthetic_catalog_path
from .halotools_cache import read_halotools_cache
from .hdf5_io import catalog_header, iter_catalog_chunks, read_catalog, read_catalog_rows, write_catalog
from .hlist import read_hlist
from .lensing import DEFAULT_DS_RP_EDGES, analytic_delta_sigma, delta_sigma_from_particles
from .redshift_space import to_redshift_space
from .schema import CatalogError, HaloCatalog, apply_mass_cut, catalog_from_columns, validate_catalog
from .synthetic import SyntheticConfig, make_synthetic_catalog

__all__ = (
    "CatalogError", "HaloCatalog", "validate_catalog", "catalog_from_columns", "apply_mass_cut",
    "read_catalog", "write_catalog", "read_catalog_rows", "iter_catalog_chunks", "catalog_header",
    "read_halotools_cache", "read_hlist",
    "SyntheticConfig", "make_synthetic_catalog", "load_synthetic_catalog", "synthetic_catalog_path",
    "DEFAULT_DS_RP_EDGES", "analytic_delta_sigma", "delta_sigma_from_particles", "to_redshift_space",
)
