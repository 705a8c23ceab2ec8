import numpy as np
import pytest

from diffsham.sham.shmf import halo_grid_from_catalog, halo_grid_from_model, log_ncum_bpl


def test_bolshoi_planck_check_values_from_design():
    got = log_ncum_bpl(np.arange(10.0, 16.0))
    assert np.allclose(got, [0.021, -1.196, -2.294, -3.322, -4.616, -6.933], atol=6e-4)


def test_model_grid_cells_add_up_to_the_cumulative():
    edges = np.linspace(11.0, 14.0, 301)
    grid = halo_grid_from_model(edges)
    total = 10 ** log_ncum_bpl(11.0) - 10 ** log_ncum_bpl(14.0)
    assert np.isclose(np.sum(grid.dn), total, rtol=1e-12)
    assert np.allclose(grid.logmh, 0.5 * (edges[1:] + edges[:-1]))


def test_catalog_grid_is_a_histogram_per_volume():
    rng = np.random.default_rng(1)
    logm = rng.uniform(11, 13, 5000)
    edges = np.linspace(11, 13, 21)
    grid = halo_grid_from_catalog(logm, 1e6, edges)
    counts = [np.sum((logm >= a) & (logm < b)) for a, b in zip(edges[:-1], edges[1:])]
    assert np.allclose(np.asarray(grid.dn) * 1e6, counts)


@pytest.mark.parametrize(
    "logm, volume, edges, match",
    [
        (np.array([11.0, np.nan]), 1.0, np.linspace(10, 12, 3), "NaN"),
        (np.array([11.0]), -1.0, np.linspace(10, 12, 3), "volume"),
        (np.array([11.0]), 1.0, np.array([12.0, 11.0]), "increasing"),
        (np.zeros((2, 2)), 1.0, np.linspace(10, 12, 3), "1-d"),
    ],
)
def test_catalog_grid_rejects_bad_input(logm, volume, edges, match):
    with pytest.raises(ValueError, match=match):
        halo_grid_from_catalog(logm, volume, edges)
