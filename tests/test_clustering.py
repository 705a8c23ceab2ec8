"""The nonlinear halo clustering target and the lognormal node fields that realise it."""
import os

import numpy as np
import pytest
from scipy import integrate

from diffsham.catalog import clustering as cl
from diffsham.catalog.cosmology import BOLSHOI_PLANCK, power_linear, tinker10_bias, xi_linear
from diffsham.catalog.lognormal import _psd_root_keeping_diagonal, make_node_fields, node_mixture, sample_cells
from diffsham.catalog.quality import xi_auto, xi_target_box
from diffsham.sham.shmf import log_ncum_bpl

DARKEMU = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "darkemu_xi_hh_bolshoi_planck_z0.csv")


def test_fftlog_correlation_matches_colossus():
    """The Hankel transform (FFTLog) of colossus' linear spectrum equals colossus' own xi_lin."""
    r = np.geomspace(0.3, 60.0, 25)
    ours = cl.xi_from_power(r, lambda k: power_linear(k))
    np.testing.assert_allclose(ours, xi_linear(r), rtol=0.01)


def test_camb_spectra_have_the_cosmology_and_a_nonlinear_boost():
    """sigma8 of CAMB's linear spectrum, by an independent top-hat integral, is the cosmology's;
    HMcode-2020 equals linear theory on large scales and exceeds it where halos form."""
    def integrand(lnk):
        k = np.exp(lnk)
        x = 8.0 * k
        w = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
        return k**3 * cl.power_linear_camb(k) * w**2 / (2.0 * np.pi**2)

    sigma8 = np.sqrt(integrate.quad(integrand, np.log(1e-4), np.log(50.0), limit=400)[0])
    assert abs(sigma8 / BOLSHOI_PLANCK["sigma8"] - 1.0) < 2e-3, sigma8
    k = np.array([0.003, 0.01, 0.02])
    np.testing.assert_allclose(cl.power_nonlinear(k) / cl.power_linear_camb(k), 1.0, rtol=0.015)
    # Mead et al. (2021, fig. 2): the z = 0 boost is ~2-3 at k = 0.5 h/Mpc and ~5-7 at k = 1
    boost = cl.power_nonlinear(np.array([0.5, 1.0])) / cl.power_linear_camb(np.array([0.5, 1.0]))
    assert 1.8 < boost[0] < 3.2 and 4.0 < boost[1] < 8.0, boost


def test_target_power_transforms_back_to_the_target():
    """power_halo_target is the spectrum of zeta xi_NL: its FFTLog transform returns xi_halo_halo."""
    r = np.geomspace(0.5, 40.0, 15)
    back = cl.xi_from_power(r, cl.power_halo_target)
    np.testing.assert_allclose(back, cl.xi_halo_halo(r, 1.0, 1.0), rtol=0.02)
    # zeta -> 1 on large scales (Tinker et al. 2005): the target is b^2 xi_NL there
    np.testing.assert_allclose(cl.tinker05_zeta(cl.xi_nonlinear(np.array([40.0, 60.0]))), 1.0, atol=0.01)


def _darkemu_table():
    lines = [line for line in open(DARKEMU) if not line.startswith("#")]
    return lines[0].strip().split(","), np.loadtxt(lines[1:], delimiter=",")


def _bin_bias(lo, hi):
    """Tinker 2010 bias averaged over the bin with the model SHMF's abundance."""
    m = np.linspace(lo, hi, 201)
    dn = -np.gradient(10.0 ** np.asarray(log_ncum_bpl(m, 0.0)), m)
    return float(np.sum(dn * tinker10_bias(m)) / np.sum(dn))


@pytest.mark.parametrize("name", [
    "xi_hh_13.0-13.5", "xi_hh_13.5-14.0", "xi_hh_14.0-14.5",
    pytest.param("xi_hh_12.5-13.0", marks=pytest.mark.xfail(
        strict=True, reason="Tinker 2010's bias is 8% above the Dark Emulator's here: xi 14% high at 5-30 Mpc/h")),
    pytest.param("xi_hh_12.182-12.5", marks=pytest.mark.xfail(
        strict=True, reason="Tinker 2010's bias is 9% above the Dark Emulator's here: xi 20% high at 5-30 Mpc/h")),
])
def test_target_against_the_dark_emulator(name):
    """b_i b_j zeta xi_NL against the N-body-calibrated Dark Emulator (Nishimichi et al. 2019),
    within 10% from 0.5 Mpc/h (or 2.5 times the heavier halos' R200m, inside which halos exclude
    each other and the target does not apply) to 30 Mpc/h."""
    from diffsham.catalog.cosmology import r200m

    names, table = _darkemu_table()
    lo, hi = map(float, name[len("xi_hh_"):].split("-"))
    r = table[:, 0]
    sel = (r >= max(0.5, 2.5 * r200m(hi))) & (r <= 30.0)
    b = _bin_bias(lo, hi)
    ratio = b * b * cl.xi_halo_halo(r[sel], 1.0, 1.0) / table[sel, names.index(name)]
    assert np.all(np.abs(ratio - 1.0) < 0.10), dict(zip(np.round(r[sel], 2), np.round(ratio, 3)))


def test_psd_root_keeps_each_nodes_spectrum():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 4, 4))
    psd = a @ np.swapaxes(a, 1, 2)
    root = _psd_root_keeping_diagonal(psd)
    np.testing.assert_allclose(root @ np.swapaxes(root, 1, 2), psd, rtol=1e-9, atol=1e-9)
    bad = psd.copy()
    bad[:, 0, 3] = bad[:, 3, 0] = 1.5 * np.sqrt(bad[:, 0, 0] * bad[:, 3, 3])  # correlation 1.5: not PSD
    root = _psd_root_keeping_diagonal(bad)
    fixed = root @ np.swapaxes(root, 1, 2)
    np.testing.assert_allclose(np.einsum("cii->ci", fixed), np.einsum("cii->ci", bad), rtol=1e-9)
    assert np.all(np.linalg.eigvalsh(fixed) > -1e-9 * np.abs(fixed).max())
    # the offending correlation is brought to at most 1, and the matrix stays close elsewhere
    d = np.sqrt(np.einsum("cii->ci", bad))
    corr_fixed, corr_bad = fixed / (d[:, :, None] * d[:, None, :]), bad / (d[:, :, None] * d[:, None, :])
    assert np.all(corr_fixed[:, 0, 3] <= 1.0 + 1e-9) and np.all(corr_fixed[:, 0, 3] > 0.5)
    assert np.median(np.abs(corr_fixed - corr_bad)[:, 1, 2]) < 0.2


def test_xi_target_box_equals_the_box_mode_sum():
    """With the linear spectrum, xi_target_box (continuous xi less the box's missing long modes)
    equals quality.xi_linear_box, the direct sum over the box's modes, within 1%; and xi_cross
    of a point set with itself is xi_auto up to the self-pairs it counts."""
    from diffsham.catalog.quality import xi_cross, xi_linear_box

    edges = np.array([8.0, 12.0, 18.0, 30.0])
    ours = xi_target_box(edges, 250.0, xi_linear, power_linear)
    np.testing.assert_allclose(ours, xi_linear_box(edges, 250.0), rtol=0.01)
    pos = np.random.default_rng(3).random((3000, 3)) * 50.0
    r_edges = np.array([1.0, 2.0, 4.0])
    n = len(pos)
    np.testing.assert_allclose(xi_cross(pos, pos, 50.0, r_edges) + 1.0,
                               (xi_auto(pos, 50.0, r_edges) + 1.0) * (n - 1) / n, rtol=1e-12)


def test_node_mixture_interpolates_linearly_in_bias():
    rng = np.random.default_rng(2)
    nodes = np.array([0.8, 1.2, 2.0])
    bias = np.full(200000, 1.5)
    node = node_mixture(rng, bias, nodes)
    assert set(np.unique(node)) == {1, 2}
    p = (1.5 - 1.2) / (2.0 - 1.2)
    assert abs(np.mean(node == 2) - p) < 4.0 * np.sqrt(p * (1 - p) / bias.size)
    # the mean bias of the draws is the halo's
    assert abs(np.mean(nodes[node]) - 1.5) < 4.0 * 0.8 * np.sqrt(p * (1 - p) / bias.size)


def test_points_carry_the_target_beyond_one_and_a_half_cells():
    """Points placed uniformly in cells have the lattice's xi interpolated trilinearly (the
    triangle kernel of two uniform offsets): with the lattice set by _lattice_target, that
    interpolant (scipy's map_coordinates, order 1) averaged over random separations in a shell
    equals the target's shell average within 1% from 1.5 cells out."""
    from scipy.ndimage import map_coordinates

    from diffsham.catalog.lognormal import _lattice_target

    n, dx = 64, 1.0

    def xi(r):
        return cl.xi_halo_halo(r, 1.0, 1.0)

    lattice = _lattice_target(xi, n, dx).astype(np.float64)
    rng = np.random.default_rng(0)
    for lo, hi in ((1.5, 2.0), (2.0, 3.0), (3.0, 5.0), (5.0, 8.0)):
        r = (lo**3 + rng.random(200000) * (hi**3 - lo**3)) ** (1.0 / 3.0)
        direction = rng.standard_normal((r.size, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        offsets = (direction * r[:, None] / dx).T % n
        interpolated = map_coordinates(lattice, offsets, order=1, mode="grid-wrap")
        assert abs(interpolated.mean() / xi(r).mean() - 1.0) < 0.01, (lo, hi)


def test_node_fields_realise_their_target():
    """Points drawn from two nodes (no exclusion), averaged over 12 seeds of a 160 Mpc/h box with
    2 Mpc/h cells: their auto- and cross-correlations are b_i b_j zeta xi_NL as the box holds it
    (xi_target_box) at 3-12 Mpc/h (1.5-6 cells). One seed scatters by 6-14% there (lognormal
    fields are heavy-tailed), the mean of 12 by 2-4%: the bound, 12%, is 3 of those. (In an
    80 Mpc/h box the same fields fall 6-14% short: the box's own mean density fluctuates.)"""
    from diffsham.catalog.quality import xi_cross

    lbox, n, nodes, n_points = 160.0, 80, np.array([0.8, 1.2]), 20000
    edges = np.geomspace(3.0, 12.0, 5)
    target = xi_target_box(edges, lbox, lambda r: cl.xi_halo_halo(r, 1.0, 1.0), cl.power_halo_target)
    auto0, auto1, cross = [], [], []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        fields = make_node_fields(rng, nodes, lambda r: cl.xi_halo_halo(r, 1.0, 1.0), cl.power_linear_camb, lbox, n)
        p0 = sample_cells(rng, fields, np.zeros(n_points, dtype=int))
        p1 = sample_cells(rng, fields, np.ones(n_points, dtype=int))
        auto0.append(xi_auto(p0, lbox, edges))
        auto1.append(xi_auto(p1, lbox, edges))
        cross.append(xi_cross(p0, p1, lbox, edges))
    for measured, b2 in ((auto0, nodes[0] ** 2), (auto1, nodes[1] ** 2), (cross, nodes[0] * nodes[1])):
        ratio = np.mean(measured, axis=0) / (b2 * target)
        assert np.all(np.abs(ratio - 1.0) < 0.12), ratio
