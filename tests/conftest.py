import os

import jax
import pytest

# diffsham sets no JAX option at import; the tests call low-level kernels directly, so
# they ask for float64 themselves, as a user calling those kernels would
jax.config.update("jax_enable_x64", True)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(scope="session", autouse=True)
def cache_under_tmp(tmp_path_factory):
    """Every cache the tests write (catalogs, tabulations) lies under pytest's tmp_path."""
    previous = os.environ.get("DIFFSHAM_CACHE")
    os.environ["DIFFSHAM_CACHE"] = str(tmp_path_factory.mktemp("diffsham_cache"))
    yield
    if previous is None:
        os.environ.pop("DIFFSHAM_CACHE", None)
    else:
        os.environ["DIFFSHAM_CACHE"] = previous


@pytest.fixture(scope="session")
def small_catalog():
    """A 40 Mpc/h synthetic box (log Mpeak >= 11.3) with analytic lensing profiles."""
    from diffsham.catalog import DEFAULT_DS_RP_EDGES, SyntheticConfig, analytic_delta_sigma, make_synthetic_catalog

    cat = make_synthetic_catalog(SyntheticConfig(lbox=40.0, logmpeak_min=11.3, seed=9, n_grid=32), progress=False)
    return cat.with_delta_sigma(analytic_delta_sigma(cat, progress=False), DEFAULT_DS_RP_EDGES, "analytic")


@pytest.fixture(scope="session")
def small_model(small_catalog):
    """The default forward model (SHAMNet refined, tabulated) of ``small_catalog``: SMF,
    wp and DeltaSigma in two stellar-mass bins."""
    import numpy as np

    from diffsham.model import make_forward_model

    sm_bins = np.array([[9.8, 10.4], [10.4, 11.0]])
    smf_bins = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)
    return make_forward_model(small_catalog, smf_bins, sm_bins, sm_bins, rp_edges=np.logspace(-1, 1, 9), pi_max=12.0,
                              dlogm=0.01, progress=False)


@pytest.fixture(scope="session")
def shared_data_dir():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"published SDSS measurements not found at {os.path.abspath(SHARED_DATA)}")
    return SHARED_DATA
