"""Checks that a catalog is realistic: abundance against a model SHMF, host bias against
linear theory, subhalo fractions. Used by the tests and by ``diffsham catalog info``."""
import numpy as np
from scipy.spatial import cKDTree

from ..sham.shmf import log_ncum_bpl
from .cosmology import BOLSHOI_PLANCK, power_linear, tinker10_bias

__all__ = ("cumulative_abundance", "xi_auto", "xi_cross", "xi_linear_box", "xi_target_box", "host_bias")


def cumulative_abundance(cat, logm):
    """(measured n(>M), Bolshoi-Planck fit n(>M), counts) at thresholds logm [h^3 Mpc^-3]."""
    logm = np.atleast_1d(np.asarray(logm, dtype=float))
    counts = np.array([np.sum(cat.logmpeak > m) for m in logm])
    return counts / cat.volume, 10.0 ** np.asarray(log_ncum_bpl(logm, cat.redshift)), counts


def xi_auto(pos, lbox, r_edges):
    """Real-space auto-correlation xi(r) of points in a periodic box (DD / RR_analytic - 1)."""
    pos = np.asarray(pos, dtype=float)
    tree = cKDTree(pos, boxsize=lbox)
    cum = tree.count_neighbors(tree, np.asarray(r_edges, dtype=float)).astype(float) - pos.shape[0]
    dd = np.diff(cum)
    n = pos.shape[0]
    rr = n * (n - 1) / lbox**3 * 4.0 / 3.0 * np.pi * np.diff(np.asarray(r_edges) ** 3)
    return dd / rr - 1.0


def xi_cross(pos1, pos2, lbox, r_edges):
    """Real-space cross-correlation of two point sets in a periodic box (D1D2 / R1R2_analytic - 1).

    Parameters
    ----------
    pos1 : ndarray of shape (n1, 3) [Mpc/h]
    pos2 : ndarray of shape (n2, 3) [Mpc/h]
    lbox : float [Mpc/h]
    r_edges : ndarray of shape (n_r + 1, ) [Mpc/h]

    Returns
    -------
    xi : ndarray of shape (n_r, )
    """
    t1, t2 = cKDTree(np.asarray(pos1, dtype=float), boxsize=lbox), cKDTree(np.asarray(pos2, dtype=float), boxsize=lbox)
    dd = np.diff(t1.count_neighbors(t2, np.asarray(r_edges, dtype=float)).astype(float))
    rr = len(pos1) * len(pos2) / lbox**3 * 4.0 / 3.0 * np.pi * np.diff(np.asarray(r_edges) ** 3)
    return dd / rr - 1.0


def _shell_j0(k, lo, hi):
    """Shell average of j0(k r) over lo < r < hi (volume weighted)."""
    def integral(r):  # int_0^r j0(k s) s^2 ds * k^3
        return np.sin(k * r) - k * r * np.cos(k * r)

    return 3.0 * (integral(hi) - integral(lo)) / (k**3 * (hi**3 - lo**3))


def xi_target_box(r_edges, lbox, xi, power, k_cut=None, n_fine=64):
    """A continuous correlation function as a periodic box holds it, averaged over shells.

    xi(r) shell-averaged, less what the modes longer than the box carry: a box has no
    modes between k = 0 and its fundamental, so its xi is lower by the difference between
    the integral of P(k) j0(k r) over |k| < k_cut and the sum over the box's modes there.
    That is the reference for clustering measured in one box.

    Parameters
    ----------
    r_edges : ndarray of shape (n + 1, ) [Mpc/h]
    lbox : float [Mpc/h]
    xi : callable, r -> xi(r)
    power : callable, k -> P(k), the spectrum of xi
    k_cut : float, optional
        Below it the box's modes replace the integral (default: 16 fundamentals).

    Returns
    -------
    xi_box : ndarray of shape (n, )
    """
    r_edges = np.asarray(r_edges, dtype=float)
    kf = 2.0 * np.pi / lbox
    k_cut = 16.0 * kf if k_cut is None else k_cut
    m = int(np.ceil(k_cut / kf))
    n1 = np.arange(-m, m + 1) * kf
    k_modes = np.sqrt(n1[:, None, None] ** 2 + n1[None, :, None] ** 2 + n1[None, None, :] ** 2).ravel()
    k_modes = k_modes[(k_modes > 0) & (k_modes < k_cut)]
    p_modes = power(k_modes)
    k_int = np.linspace(k_cut * 1e-6, k_cut, 20001)
    p_int = power(k_int)
    out = []
    for lo, hi in zip(r_edges[:-1], r_edges[1:]):
        r = np.geomspace(lo, hi, n_fine)
        mean_xi = np.trapezoid(xi(r) * r**2, r) / np.trapezoid(r**2, r)
        deficit = (np.trapezoid(k_int**2 * p_int * _shell_j0(k_int, lo, hi), k_int) / (2.0 * np.pi**2)
                   - np.sum(p_modes * _shell_j0(k_modes, lo, hi)) / lbox**3)
        out.append(mean_xi - deficit)
    return np.array(out)


def xi_linear_box(r_edges, lbox, redshift=0.0, cosmology=BOLSHOI_PLANCK, n_modes=128):
    """Linear xi averaged over shells r_edges, from the Fourier modes of a periodic box.

    What a box of side lbox can hold: the sum over its modes k = 2 pi n / lbox (|n_i| <
    n_modes / 2) of P_lin(k) times the shell average of j0(k r), divided by the volume.
    This is the right reference for clustering measured in that box (no modes longer than
    the box, no averaging error from evaluating xi at a bin centre).
    """
    r_edges = np.asarray(r_edges, dtype=float)
    kf = 2.0 * np.pi / lbox
    k1 = np.fft.fftfreq(n_modes, d=1.0 / n_modes) * kf
    k = np.sqrt(k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + k1[None, None, :] ** 2).ravel()
    k = k[k > 0]
    pk = power_linear(k, redshift, cosmology)
    out = []
    for lo, hi in zip(r_edges[:-1], r_edges[1:]):
        out.append(np.sum(pk * _shell_j0(k, lo, hi)) / lbox**3)
    return np.array(out)


def host_bias(cat, logm_edges, r_edges=np.array([8.0, 12.0, 18.0, 30.0])):
    """Measured large-scale bias of hosts in mass bins and the Tinker et al. (2010) value.

    The measured bias is sqrt(mean(xi_hh / xi_lin)) over the r bins, with xi_lin the
    linear correlation of the box's modes averaged over each shell (``xi_linear_box``).
    Tinker's bias is averaged over the hosts of each bin.

    Returns
    -------
    measured, predicted : ndarray of shape (n_bins, )
    """
    cosmology = cat.cosmology or BOLSHOI_PLANCK
    xi_lin = xi_linear_box(r_edges, cat.lbox, cat.redshift, cosmology)
    hosts = cat.is_host
    measured, predicted = [], []
    for lo, hi in zip(logm_edges[:-1], logm_edges[1:]):
        sel = hosts & (cat.logmpeak >= lo) & (cat.logmpeak < hi)
        xi = xi_auto(cat.positions[sel], cat.lbox, r_edges)
        measured.append(np.sqrt(np.mean(xi / xi_lin)))
        predicted.append(np.mean(tinker10_bias(cat.logmpeak[sel], cat.redshift, cosmology)))
    return np.array(measured), np.array(predicted)
