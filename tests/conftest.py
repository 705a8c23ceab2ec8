import os

import pytest

import diffsham  # noqa: F401  (enables float64 before any test builds arrays)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(scope="session")
def shared_data_dir():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"published SDSS measurements not found at {os.path.abspath(SHARED_DATA)}")
    return SHARED_DATA
