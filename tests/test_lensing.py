"""Per-halo DeltaSigma profiles against halotools, colossus and brute-force integrals."""
import numpy as np
import pytest

from diffsham.catalog import SyntheticConfig, analytic_delta_sigma, delta_sigma_from_particles, make_synthetic_catalog
from diffsham.catalog.lensing import (DEFAULT_DS_RP_EDGES, annulus_mean_delta_sigma, linear_enclosed_2d,
                                      nfw_delta_sigma, nfw_enclosed_2d, nfw_sigma, offset_nfw_enclosed_2d)


def test_particles_match_halotools_per_object():
    mock_observables = pytest.importorskip("halotools.mock_observables",
                                           reason="halotools is the reference (pip install '.[test]')")
    rng = np.random.default_rng(0)
    lbox = 40.0
    halos = rng.random((150, 3)) * lbox
    ptcl = rng.random((20000, 3)) * lbox
    # clumps around halos so every bin has signal, some straddling the periodic boundary
    ptcl[:6000] = (halos[rng.integers(0, 150, 6000)] + rng.normal(0, 0.3, (6000, 3))) % lbox
    mass = 1e9 + rng.random(20000) * 1e10
    edges = np.logspace(-1.3, 1, 12)
    mine = delta_sigma_from_particles(halos, ptcl, mass, edges, lbox, chunk_size=37)
    ref = mock_observables.mean_delta_sigma(halos, ptcl, mass, edges, period=lbox, per_object=True) / 1e12
    np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


def test_particles_bad_input():
    pos = np.random.default_rng(0).random((10, 3)) * 10
    with pytest.raises(ValueError, match="half the box"):
        delta_sigma_from_particles(pos, pos, 1.0, [0.1, 6.0], 10.0)
    with pytest.raises(ValueError, match="outside the box"):
        delta_sigma_from_particles(pos + 5, pos, 1.0, [0.1, 1.0], 10.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        delta_sigma_from_particles(pos, pos, 1.0, [1.0, 0.1], 10.0)


def test_nfw_matches_colossus():
    profile_nfw = pytest.importorskip("colossus.halo.profile_nfw")
    from diffsham.catalog.cosmology import colossus_cosmology

    colossus_cosmology()
    r = np.logspace(-2.5, 1, 40)
    for logm, c in ((11.5, 12.0), (13.0, 7.0), (15.0, 4.0)):
        p = profile_nfw.NFWProfile(M=10**logm, c=c, z=0.0, mdef="200m")
        # colossus: kpc/h and Msun h / kpc^2; here Mpc/h and h Msun / pc^2
        np.testing.assert_allclose(nfw_delta_sigma(r, logm, c), p.deltaSigma(r * 1e3) / 1e6, rtol=1e-6)
        np.testing.assert_allclose(nfw_sigma(r, logm, c), p.surfaceDensity(r * 1e3) / 1e6, rtol=1e-6)


def test_offset_profile_against_brute_force_grid():
    logm, conc, r_off = np.array([12.5]), np.array([7.0]), 0.12
    radii = np.array([0.03, 0.1, 0.14, 0.3, 0.8])
    table = offset_nfw_enclosed_2d(radii, np.array([r_off]), logm, conc)[0]
    g = np.linspace(-1.2, 1.2, 2401)
    x, y = np.meshgrid(g, g)
    sigma = nfw_sigma(np.sqrt(x**2 + y**2).ravel() + 1e-6, 12.5, 7.0).reshape(x.shape) * 1e12
    brute = np.array([sigma[(x - r_off) ** 2 + y**2 < r**2].sum() * (g[1] - g[0]) ** 2 for r in radii])
    np.testing.assert_allclose(table, brute, rtol=5e-3)
    # no offset: the centred profile
    centred = annulus_mean_delta_sigma(lambda r: nfw_enclosed_2d(r, logm, conc), DEFAULT_DS_RP_EDGES)
    tiny = annulus_mean_delta_sigma(lambda r: offset_nfw_enclosed_2d(r, np.array([1e-6]), logm, conc),
                                    DEFAULT_DS_RP_EDGES)
    np.testing.assert_allclose(tiny, centred, rtol=2e-3)


def test_annulus_mean_of_point_profile():
    """The annulus mean equals the area-weighted average of the point DeltaSigma(R)."""
    edges = np.array([0.05, 0.1, 0.5, 2.0])
    mine = annulus_mean_delta_sigma(lambda r: nfw_enclosed_2d(r, 13.0, 6.0), edges)
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        r = np.geomspace(lo, hi, 4001)
        f = nfw_delta_sigma(r, 13.0, 6.0) * r * r
        ref = np.trapezoid(f, np.log(r)) * 2 / (hi**2 - lo**2)
        assert mine[k] == pytest.approx(ref, rel=1e-5)


def test_catalog_profiles_host_and_two_halo_limits():
    cat = make_synthetic_catalog(SyntheticConfig(lbox=60.0, logmpeak_min=11.5, seed=2, n_grid=64), progress=False)
    ds = analytic_delta_sigma(cat, progress=False)
    assert ds.shape == (cat.n_halos, DEFAULT_DS_RP_EDGES.size - 1) and np.all(np.isfinite(ds))
    from diffsham.catalog.cosmology import tinker10_bias
    from diffsham.catalog.synthetic import nfw_concentration

    i = int(np.argmax(cat.is_host))
    one_halo = annulus_mean_delta_sigma(
        lambda r: nfw_enclosed_2d(r, cat.logmpeak[i:i + 1], nfw_concentration(cat.logmpeak[i:i + 1])),
        DEFAULT_DS_RP_EDGES)[0]
    two_halo = tinker10_bias(cat.logmpeak[i]) * annulus_mean_delta_sigma(linear_enclosed_2d(), DEFAULT_DS_RP_EDGES)
    np.testing.assert_allclose(ds[i], one_halo + two_halo, rtol=1e-10)
    # a subhalo far from its host's centre sees a negative DeltaSigma inside its offset
    sub = ~cat.is_host
    assert np.any(sub)
    assert np.median(ds[sub, 0]) < np.median(ds[cat.is_host, 0])
