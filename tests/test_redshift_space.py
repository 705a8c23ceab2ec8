"""Redshift-space positions against the formula worked by hand."""
import numpy as np
import pytest

from diffsham.catalog import catalog_from_columns
from diffsham.catalog.redshift_space import hubble_rate, to_redshift_space
from diffsham.catalog.schema import CatalogError


def _catalog(z, vz, redshift=0.0, cosmology=None):
    n = len(z)
    cols = dict(x=np.full(n, 1.0), y=np.full(n, 2.0), z=np.asarray(z, float), vx=np.full(n, 500.0),
                vy=np.full(n, -300.0), vz=np.asarray(vz, float), mpeak=np.full(n, 1e12),
                halo_id=np.arange(n), upid=np.full(n, -1))
    return catalog_from_columns(cols, lbox=100.0, origin="test", redshift=redshift,
                                cosmology={"Om0": 0.3} if cosmology is None else cosmology)


def test_displacement_and_periodic_wrap():
    # z = 0: H = 100 km/s/(Mpc/h), so 250 km/s moves 2.5 Mpc/h; -1000 km/s from 5 wraps to 95
    cat = to_redshift_space(_catalog([10.0, 5.0, 99.0], [250.0, -1000.0, 200.0]))
    np.testing.assert_allclose(cat.z, [12.5, 95.0, 1.0])
    np.testing.assert_array_equal(cat.x, 1.0)  # other axes untouched
    # z = 1, Om0 = 0.3: H = 100 sqrt(0.3 * 8 + 0.7) = 176.07; shift = 352.14 * 2 / 176.07 = 4
    h1 = 100 * np.sqrt(2.4 + 0.7)
    assert hubble_rate(1.0, 0.3) == pytest.approx(h1)
    moved = to_redshift_space(_catalog([50.0], [2.0 * h1], redshift=1.0))
    np.testing.assert_allclose(moved.z, [54.0])
    along_x = to_redshift_space(_catalog([50.0], [0.0]), axis="x")
    np.testing.assert_allclose(along_x.x, [6.0])  # vx = 500 km/s at z = 0


def test_needs_om0_and_a_known_axis():
    with pytest.raises(CatalogError, match="redshift space needs the cosmology's Om0"):
        to_redshift_space(_catalog([1.0], [0.0], cosmology={"h": 0.7}))
    with pytest.raises(ValueError, match="line-of-sight axis must be one of"):
        to_redshift_space(_catalog([1.0], [0.0]), axis="w")


def test_forward_model_in_redshift_space(small_catalog, small_model):
    """``space = "redshift"`` changes wp only: the SMF and DeltaSigma do not depend on
    positions, and wp changes by far more than its tabulation error (1e-3)."""
    from diffsham.model import make_forward_model

    from diffsham.sham.params import DEFAULT_SHAM_PARAMS

    theta = np.asarray(DEFAULT_SHAM_PARAMS)
    layout = small_model.layout
    bins = {k: layout.sm_bins(k) for k in ("smf", "wp", "delta_sigma")}
    rsd = make_forward_model(small_catalog, bins["smf"], bins["wp"], bins["delta_sigma"],
                             config=small_model.config.replace(space="redshift"), progress=False)
    real, red = np.asarray(small_model.predict(theta)), np.asarray(rsd.predict(theta))
    for block in layout.blocks:
        a, b = real[block.slice], red[block.slice]
        if block.kind == "wp":
            assert np.max(np.abs(b - a) / (np.abs(a) + 1.0)) > 1e-2, block.name
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, err_msg=block.name)
