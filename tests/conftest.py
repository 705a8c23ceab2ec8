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
def shared_data_dir():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"published SDSS measurements not found at {os.path.abspath(SHARED_DATA)}")
    return SHARED_DATA
