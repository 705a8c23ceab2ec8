import numpy as np

from diffsham.sham.params import (
    DEFAULT_SHAM_PARAMS,
    SHAM_PBOUNDS,
    get_bounded_sham_params,
    get_unbounded_sham_params,
)
from diffsham.sham.scatter import scatter_sigma


def test_defaults_lie_inside_bounds():
    for value, (lo, hi) in zip(DEFAULT_SHAM_PARAMS, SHAM_PBOUNDS):
        assert lo < value < hi


def test_unbounded_twin_round_trips_and_stays_in_bounds():
    u = get_unbounded_sham_params(DEFAULT_SHAM_PARAMS)
    back = get_bounded_sham_params(u)
    assert np.allclose(back, DEFAULT_SHAM_PARAMS, rtol=1e-12)
    extreme = get_bounded_sham_params(np.array([-30.0, 30.0, -30.0, 30.0, 0.0]))
    for value, (lo, hi) in zip(extreme, SHAM_PBOUNDS):
        assert lo <= value <= hi


def test_scatter_limits_and_midpoint():
    s = scatter_sigma(np.array([5.0, 12.0, 20.0]), 0.4, 0.2)
    assert np.allclose(s, [0.4, 0.3, 0.2], atol=1e-3)
