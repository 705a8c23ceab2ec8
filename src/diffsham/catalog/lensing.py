"""Per-halo excess surface density profiles DeltaSigma_i(R), computed once per catalog.

Every profile here is the *area-weighted mean over an annulus* rp_k < R <= rp_k+1,

    <DeltaSigma>_k = [ 2 int_{rp_k}^{rp_k+1} M2d(<R) dR / R  -  (M2d(<rp_k+1) - M2d(<rp_k)) ] / A_k,

with M2d(<R) the projected mass within R and A_k the annulus area: the definition of
halotools ``mean_delta_sigma``, so particle-based and analytic profiles are the same
quantity. Units: R in comoving Mpc/h, DeltaSigma in h Msun/pc^2; the line of sight is z.

Two ways to get them:

* ``delta_sigma_from_particles``: from particle positions and masses (periodic box, the
  whole box projected along z);
* ``analytic_delta_sigma``: for catalogs without particles (the synthetic one), an NFW
  1-halo term (Diemer & Joyce 2019 concentrations) plus a 2-halo term b(M) DeltaSigma_lin(R)
  from the linear correlation function. A subhalo sees its host's NFW profile, centred at
  the subhalo's projected offset from the host, plus the host's 2-halo term; its own
  (stripped) mass is neglected.
"""
import functools

import numpy as np
from scipy.spatial import cKDTree

from ..checks import check_positions, check_radial_edges
from .cosmology import BOLSHOI_PLANCK, r200m, rho_mean, tinker10_bias, xi_linear

__all__ = ("DEFAULT_DS_RP_EDGES", "annulus_mean_delta_sigma", "delta_sigma_from_particles", "nfw_sigma",
           "nfw_enclosed_2d", "nfw_delta_sigma", "offset_nfw_enclosed_2d", "linear_enclosed_2d",
           "analytic_delta_sigma")

# 15 bins of 0.2 dex from 0.03 to 30 Mpc/h (the range of SDSS lensing measurements)
DEFAULT_DS_RP_EDGES = np.logspace(-1.5, 1.5, 16)
PC2_PER_MPC2 = 1e12
_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)


def annulus_mean_delta_sigma(enclosed_2d, rp_edges):
    """Annulus-averaged DeltaSigma from a projected enclosed-mass function.

    Parameters
    ----------
    enclosed_2d : callable
        R of shape (n_r, ) -> M2d(<R) of shape (..., n_r) [Msun/h], vectorised over halos.
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]

    Returns
    -------
    delta_sigma : ndarray of shape (..., n_rp) [h Msun/pc^2]
    """
    edges = np.asarray(rp_edges, dtype=float)
    lo, hi = np.log(edges[:-1]), np.log(edges[1:])
    nodes = np.exp(0.5 * (hi + lo)[:, None] + 0.5 * (hi - lo)[:, None] * _GL_X)  # (n_rp, n_gl)
    m_nodes = enclosed_2d(nodes.ravel())
    m_nodes = m_nodes.reshape(m_nodes.shape[:-1] + nodes.shape)
    # int M(<R) dR / R = int M d ln R
    integral = np.sum(m_nodes * (0.5 * (hi - lo)[:, None] * _GL_W), axis=-1)
    m_edges = enclosed_2d(edges)
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    return (2.0 * integral - np.diff(m_edges, axis=-1)) / area / PC2_PER_MPC2


def delta_sigma_from_particles(halo_positions, particle_positions, particle_mass, rp_edges, lbox,
                               chunk_size=20000):
    """DeltaSigma_i(R) of every halo from particles, projecting the whole box along z.

    Parameters
    ----------
    halo_positions : ndarray of shape (n_halos, 3) [Mpc/h]
    particle_positions : ndarray of shape (n_particles, 3) [Mpc/h]
    particle_mass : float or ndarray of shape (n_particles, )
        Effective mass per particle (actual mass / downsampling rate) [Msun/h].
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h], positive and increasing,
        rp_edges[-1] < lbox / 2
    lbox : float
        Periodic box side [Mpc/h].
    chunk_size : int, optional
        Halos per neighbour query (bounds the memory).

    Returns
    -------
    delta_sigma : ndarray of shape (n_halos, n_rp) [h Msun/pc^2]
    """
    halos = check_positions(halo_positions, lbox, "halo_positions")
    ptcl = check_positions(particle_positions, lbox, "particle_positions")
    edges = check_radial_edges(rp_edges, lbox, allow_zero=False)
    mass = np.broadcast_to(np.asarray(particle_mass, dtype=float), (ptcl.shape[0],))
    if not np.all(np.isfinite(mass)) or np.any(mass < 0):
        raise ValueError("particle_mass must be finite and non-negative")
    n_rp = edges.size - 1
    log_r2 = np.log(edges**2)
    dlog = np.log(edges[1:] / edges[:-1])
    # f_k(d): +2 ln(r_k+1/r_k) for d <= r_k; -(1 - ln(r_k+1^2/d^2)) for r_k < d <= r_k+1
    tree = cKDTree(ptcl[:, :2], boxsize=lbox)
    out = np.zeros((halos.shape[0], n_rp))
    for start in range(0, halos.shape[0], chunk_size):
        xy = halos[start:start + chunk_size, :2]
        neighbours = tree.query_ball_point(xy, r=edges[-1])
        counts = np.fromiter((len(nb) for nb in neighbours), dtype=np.int64, count=len(neighbours))
        if counts.sum() == 0:
            continue
        i = np.repeat(np.arange(len(neighbours)), counts)
        j = np.concatenate([np.asarray(nb, dtype=np.int64) for nb in neighbours if nb])
        d = xy[i] - ptcl[j, :2]
        d -= lbox * np.round(d / lbox)
        d2 = np.sum(d**2, axis=1)
        inside = d2 <= edges[-1] ** 2
        i, j, d2 = i[inside], j[inside], d2[inside]
        m = mass[j]
        k = np.searchsorted(edges**2, d2, side="left") - 1  # bin with r_k < d <= r_k+1; -1 inside r_0
        annulus = k >= 0
        acc = np.zeros((xy.shape[0], n_rp))
        np.add.at(acc, (i[annulus], k[annulus]), -m[annulus] * (1.0 - (log_r2[k[annulus] + 1] - np.log(d2[annulus]))))
        # particles inside r_k contribute to every bin k' > k: a cumulative sum over bins
        inner = np.zeros((xy.shape[0], n_rp + 1))
        np.add.at(inner, (i, k + 1), m)
        inner_cum = np.cumsum(inner, axis=1)[:, :n_rp]  # mass within r_k for each bin k
        acc += inner_cum * 2.0 * dlog
        out[start:start + chunk_size] = acc
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    return out / area / PC2_PER_MPC2


def _nfw_scale(logm, conc, cosmology):
    """(rho_s [h^2 Msun/Mpc^3], r_s [Mpc/h]) of an NFW halo of mass M200m and concentration c."""
    rs = r200m(logm, cosmology) / conc
    mc = np.log1p(conc) - conc / (1.0 + conc)
    return 10.0 ** np.asarray(logm) / (4.0 * np.pi * rs**3 * mc), rs


def _nfw_f(x):
    """F(x) of Bartelmann (1996): arccosh(1/x)/sqrt(1-x^2) (x<1), arccos(1/x)/sqrt(x^2-1) (x>1)."""
    x = np.asarray(x, dtype=float)
    out = np.ones_like(x)
    lt, gt = x < 1.0 - 1e-6, x > 1.0 + 1e-6
    out[lt] = np.arccosh(1.0 / x[lt]) / np.sqrt(1.0 - x[lt] ** 2)
    out[gt] = np.arccos(1.0 / x[gt]) / np.sqrt(x[gt] ** 2 - 1.0)
    near = ~(lt | gt)  # second-order expansion about x = 1
    dx = x[near] - 1.0
    out[near] = 1.0 - 2.0 / 3.0 * dx + 7.0 / 15.0 * dx**2
    return out


def _nfw_sigma_dimensionless(x):
    """Sigma / (2 rho_s r_s) = (1 - F(x)) / (x^2 - 1), -> 1/3 at x = 1."""
    x = np.asarray(x, dtype=float)
    out = np.full_like(x, 1.0 / 3.0)
    far = np.abs(x - 1.0) > 1e-4
    out[far] = (1.0 - _nfw_f(x[far])) / (x[far] ** 2 - 1.0)
    near = ~far
    out[near] = 1.0 / 3.0 - 0.4 * (x[near] - 1.0)
    return out


def nfw_sigma(r, logm, conc, cosmology=BOLSHOI_PLANCK):
    """Projected surface density of an untruncated NFW halo [h Msun/pc^2].

    r : ndarray of shape (n_r, ) [Mpc/h]; logm, conc : ndarray of shape (n_halos, ) or scalars.
    Returns an array of shape (n_halos, n_r) (or (n_r, ) for scalar halo arguments).
    """
    rhos, rs = _nfw_scale(np.asarray(logm)[..., None], np.asarray(conc)[..., None], cosmology)
    return 2.0 * rhos * rs * _nfw_sigma_dimensionless(np.asarray(r) / rs) / PC2_PER_MPC2


def nfw_enclosed_2d(r, logm, conc, cosmology=BOLSHOI_PLANCK):
    """Projected mass of an untruncated NFW halo within radius r [Msun/h]; shapes as nfw_sigma."""
    rhos, rs = _nfw_scale(np.asarray(logm)[..., None], np.asarray(conc)[..., None], cosmology)
    x = np.asarray(r) / rs
    return 4.0 * np.pi * rhos * rs**3 * (np.log(0.5 * x) + _nfw_f(x))


def nfw_delta_sigma(r, logm, conc, cosmology=BOLSHOI_PLANCK):
    """DeltaSigma(R) = M2d(<R) / (pi R^2) - Sigma(R) of an NFW halo at radii r [h Msun/pc^2]."""
    r = np.asarray(r, dtype=float)
    mean_inside = nfw_enclosed_2d(r, logm, conc, cosmology) / (np.pi * r**2) / PC2_PER_MPC2
    return mean_inside - nfw_sigma(r, logm, conc, cosmology)


def offset_nfw_enclosed_2d(r, r_off, logm, conc, cosmology=BOLSHOI_PLANCK):
    """Projected mass of an NFW halo within a circle of radius r centred r_off from it.

    In units of r_s it is 4 pi rho_s r_s^3 H(r / r_s, r_off / r_s); H is computed once by
    ``_offset_enclosed_quadrature`` on a grid in log(r / r_off), log(r_off / r_s) and
    interpolated bilinearly.

    Parameters
    ----------
    r : ndarray of shape (n_r, ) [Mpc/h]
    r_off, logm, conc : ndarray of shape (n_halos, )

    Returns
    -------
    m2d : ndarray of shape (n_halos, n_r) [Msun/h]
    """
    rhos, rs = _nfw_scale(np.asarray(logm)[:, None], np.asarray(conc)[:, None], cosmology)
    v_grid, log_uoff_grid, table = _offset_table()
    # offsets below 1e-4 r_s are centred halos for any practical purpose
    log_uoff = np.clip(np.log(np.maximum(np.asarray(r_off, dtype=float)[:, None], 1e-300) / rs),
                       log_uoff_grid[0], log_uoff_grid[-1])
    v = np.log(np.asarray(r, dtype=float)[None, :] / rs) - log_uoff
    fv = np.clip((v - v_grid[0]) / (v_grid[1] - v_grid[0]), 0, v_grid.size - 1.000001)
    fo = np.clip((log_uoff - log_uoff_grid[0]) / (log_uoff_grid[1] - log_uoff_grid[0]), 0,
                 log_uoff_grid.size - 1.000001)
    fo = np.broadcast_to(fo, fv.shape)
    iv, io = fv.astype(np.int64), fo.astype(np.int64)
    tv, to = fv - iv, fo - io
    h = ((1 - tv) * (1 - to) * table[io, iv] + tv * (1 - to) * table[io, iv + 1]
         + (1 - tv) * to * table[io + 1, iv] + tv * to * table[io + 1, iv + 1])
    return 4.0 * np.pi * rhos * rs**3 * np.exp(h)


@functools.lru_cache(maxsize=1)
def _offset_table():
    # in v = log(u / u_off) the circle starts to contain the centre at v = 0, a grid node,
    # so the kink of H there does not spoil the bilinear interpolation
    v = np.linspace(-18.0, 18.0, 901)
    log_uoff = np.linspace(np.log(1e-4), np.log(1e3), 241)
    h = np.stack([_offset_enclosed_quadrature(np.exp(v + lo), np.exp(lo)) for lo in log_uoff])
    return v, log_uoff, np.log(h)


def _offset_enclosed_quadrature(u, u_off, n_nodes=48):
    """H(u, u_off): NFW projected mass within radius u of a point u_off from the centre,
    in units of 4 pi rho_s r_s^3 (lengths in units of r_s).

    With host-centred polar coordinates, the circle fully contains host radii below
    u - u_off and part of each ring s between |u - u_off| and u + u_off, subtending the
    angle 2 arccos((s^2 + u_off^2 - u^2) / (2 s u_off)) inside it.
    """
    u = np.asarray(u, dtype=float)
    inner = np.maximum(u - u_off, 1e-300)
    full = np.where(u > u_off, np.log(0.5 * inner) + _nfw_f(inner), 0.0)
    a, b = np.abs(u - u_off), u + u_off
    # s = (a+b)/2 - (b-a)/2 cos(t): uniform nodes in t absorb the square-root ends of the angle
    t, w = np.polynomial.legendre.leggauss(n_nodes)
    t = 0.5 * np.pi * (t + 1.0)
    s = 0.5 * (a + b)[:, None] - 0.5 * (b - a)[:, None] * np.cos(t)
    ds_dt = 0.5 * (b - a)[:, None] * np.sin(t)
    cos_phi = np.clip((s**2 + u_off**2 - u[:, None] ** 2) / (2.0 * s * u_off), -1.0, 1.0)
    # Sigma = 2 rho_s r_s g(s); ring mass s ds * angle * Sigma, over 4 pi rho_s r_s^3
    ring = s * 2.0 * _nfw_sigma_dimensionless(s) * 2.0 * np.arccos(cos_phi) / (4.0 * np.pi)
    return full + np.sum(ring * ds_dt * w, axis=1) * 0.5 * np.pi


def linear_enclosed_2d(redshift=0.0, cosmology=BOLSHOI_PLANCK, pi_max=100.0):
    """M2d(<R) of the linear matter excess, rho_m int xi_lin dpi (|pi| < pi_max), as a function of R."""
    rho = rho_mean(cosmology)
    r_grid = np.logspace(-3, np.log10(200.0), 400)
    pi_nodes, pi_w = np.polynomial.legendre.leggauss(96)
    u = 0.5 * (pi_nodes + 1.0)
    pi = pi_max * u**2  # more nodes at small pi, where xi varies fastest
    dpi = pi_max * u * pi_w
    xi = xi_linear(np.sqrt(r_grid[:, None] ** 2 + pi[None, :] ** 2).ravel(), redshift, cosmology)
    sigma = 2.0 * rho * np.sum(xi.reshape(r_grid.size, -1) * dpi, axis=1)  # [h Msun/Mpc^2]
    integrand = 2.0 * np.pi * r_grid**2 * sigma  # d M / d ln R
    m_grid = np.concatenate([[np.pi * r_grid[0] ** 2 * sigma[0]],
                             np.pi * r_grid[0] ** 2 * sigma[0]
                             + np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(np.log(r_grid)))])
    return lambda r: np.interp(np.log(r), np.log(r_grid), m_grid)


def analytic_delta_sigma(cat, rp_edges=DEFAULT_DS_RP_EDGES, chunk_size=20000, progress=True):
    """Analytic DeltaSigma_i(R) for every halo of a catalog (NFW 1-halo + linear 2-halo).

    Parameters
    ----------
    cat : HaloCatalog
    rp_edges : ndarray of shape (n_rp + 1, ) [Mpc/h]
    chunk_size : int, optional
    progress : bool, optional

    Returns
    -------
    delta_sigma : ndarray of shape (n_halos, n_rp) [h Msun/pc^2]
    """
    from tqdm.auto import tqdm

    from .synthetic import nfw_concentration

    cosmology = cat.cosmology or BOLSHOI_PLANCK
    edges = np.asarray(rp_edges, dtype=float)
    index = {int(h): i for i, h in enumerate(cat.halo_id)} if np.any(~cat.is_host) else {}
    host_row = np.array([index.get(int(h), -1) for h in cat.host_id]) if index else np.arange(cat.n_halos)
    if np.any(host_row < 0):
        raise ValueError(f"{int(np.sum(host_row < 0))} subhalos have a host_id not in the catalog; "
                         "analytic profiles need the host")
    host_logm = cat.logmpeak[host_row]
    conc = nfw_concentration(host_logm, cat.redshift, cosmology)
    offset = np.stack([cat.x - cat.x[host_row], cat.y - cat.y[host_row]], axis=1)
    offset -= cat.lbox * np.round(offset / cat.lbox)
    r_off = np.sqrt(np.sum(offset**2, axis=1))
    m_lin = linear_enclosed_2d(cat.redshift, cosmology)
    ds_lin = annulus_mean_delta_sigma(m_lin, edges)
    bias = tinker10_bias(host_logm, cat.redshift, cosmology)
    out = np.empty((cat.n_halos, edges.size - 1))
    for start in tqdm(range(0, cat.n_halos, chunk_size), desc="DeltaSigma profiles", disable=not progress):
        sl = slice(start, start + chunk_size)
        sub = ~cat.is_host[sl]
        one_halo = annulus_mean_delta_sigma(lambda r: nfw_enclosed_2d(r, host_logm[sl], conc[sl], cosmology), edges)
        if np.any(sub):
            rows = np.nonzero(sub)[0] + start
            one_halo[sub] = annulus_mean_delta_sigma(
                lambda r: offset_nfw_enclosed_2d(r, r_off[rows], host_logm[rows], conc[rows], cosmology), edges)
        out[sl] = one_halo + bias[sl, None] * ds_lin
    return out
