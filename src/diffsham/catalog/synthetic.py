"""A realistic synthetic halo catalog, made deterministically from a seed.

Method (each step is one function below):

1. **Abundance.** The number of objects above ``logmpeak_min`` is Poisson with the mean
   of the Bolshoi-Planck SHMF fit (``diffsham.sham.shmf.log_ncum_bpl``), and log Mpeak is
   drawn from it by inverse transform. The catalog therefore has *the* mass function the
   SHAM solver and SHAMNet assume, so the SMF predicted from it equals the target SMF.
2. **Hosts and subhalos.** Each object is a subhalo with probability
   ``subhalo_fraction(log Mpeak)`` = 0.3 / (1 + exp((log Mpeak - 13.5) / 0.7)), an
   approximation to the subhalo fractions by Mpeak in Bolshoi-Planck (~0.29 at 10^11,
   ~0.2 at 10^13, ~0.03 at 10^15 Msun/h).
3. **Host positions.** A lognormal density field on a periodic grid of ``n_grid`` cells
   per side whose correlation function is the linear one (Eisenstein & Hu power spectrum
   via colossus): a Gaussian field G with xi_G = ln(1 + xi_lin). A host of bias b (Tinker
   et al. 2010) falls in a cell with probability proportional to exp(b G), uniformly
   within it, so that host clustering is (1 + xi_lin)^(b^2) - 1 ~ b^2 xi_lin on large
   scales. Velocities are linear theory, v = f H psi, with psi the displacement of G.
4. **Halo exclusion.** Hosts whose R200m spheres overlap are not allowed: the lighter host
   of an overlapping pair is drawn again, until no pair overlaps.
5. **Subhalos** go into hosts at least ``sub_min_dex`` more massive, chosen with
   probability proportional to host mass (subhalo abundance scales with host mass), at a
   radius drawn from the host's NFW profile truncated at R200m (Diemer & Joyce 2019
   concentrations via colossus), with the host velocity plus an isotropic Gaussian of
   dispersion sqrt(G M / 2 R200m) per axis.
"""
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from ..sham.shmf import log_ncum_bpl
from .cosmology import BOLSHOI_PLANCK, growth_rate, power_linear, r200m, tinker10_bias
from .schema import HaloCatalog, validate_catalog

__all__ = ("SyntheticConfig", "make_synthetic_catalog", "synthetic_source", "subhalo_fraction", "sample_logmpeak",
           "nfw_concentration", "G_NEWTON")

G_NEWTON = 4.30091727e-9  # [Mpc (km/s)^2 / Msun]
_F_SUB_MAX, _F_SUB_X0, _F_SUB_WIDTH = 0.3, 13.5, 0.7


class SyntheticConfig(NamedTuple):
    """Settings of the synthetic catalog (defaults: the demo catalog)."""

    lbox: float = 250.0  # box side [Mpc/h]
    logmpeak_min: float = 11.0  # lightest object [log Msun/h]
    logmpeak_max: float = 16.0
    seed: int = 0
    n_grid: int = 128  # cells per side of the linear density field
    sub_min_dex: float = 0.3  # a subhalo's host is at least this much more massive
    redshift: float = 0.0


def synthetic_source(config):
    """The provenance string of a synthetic catalog (identifies its config in the cache)."""
    return "diffsham synthetic " + " ".join(f"{k}={v}" for k, v in config._asdict().items())


def subhalo_fraction(logmpeak):
    """Fraction of objects of a given log Mpeak [Msun/h] that are subhalos."""
    return _F_SUB_MAX / (1.0 + np.exp((np.asarray(logmpeak) - _F_SUB_X0) / _F_SUB_WIDTH))


def sample_logmpeak(rng, volume, logmpeak_min, logmpeak_max, redshift=0.0):
    """Draw log Mpeak of all objects in ``volume`` from the Bolshoi-Planck SHMF.

    Returns
    -------
    logmpeak : ndarray of shape (n, ), sorted from heaviest to lightest
    """
    grid = np.linspace(logmpeak_min, logmpeak_max, 20001)
    log_ncum = np.asarray(log_ncum_bpl(grid, redshift))
    ncum = 10.0**log_ncum
    n = rng.poisson((ncum[0] - ncum[-1]) * volume)
    target = ncum[-1] + rng.random(n) * (ncum[0] - ncum[-1])
    logm = np.interp(np.log10(target), log_ncum[::-1], grid[::-1])
    return np.sort(logm)[::-1]


def nfw_concentration(logm, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Median c200m(M) of Diemer & Joyce (2019), tabulated on a grid and interpolated."""
    from colossus.halo import concentration

    from .cosmology import colossus_cosmology

    colossus_cosmology(cosmology)
    grid = np.linspace(9.0, 16.5, 76)
    c = concentration.concentration(10.0**grid, "200m", redshift, model="diemer19")
    return np.interp(np.asarray(logm), grid, c)


def make_synthetic_catalog(config=SyntheticConfig(), cosmology=BOLSHOI_PLANCK, progress=True):
    """Make the synthetic catalog described in the module docstring.

    Parameters
    ----------
    config : SyntheticConfig
    cosmology : dict, optional
        Om0, Ob0, h, ns, sigma8 (the SHMF fit is for Bolshoi-Planck; keep the default
        unless you know why not).
    progress : bool, optional
        Show a progress bar over the steps.

    Returns
    -------
    cat : HaloCatalog
        Same seed and config, same catalog.
    """
    from tqdm.auto import tqdm

    steps = tqdm(total=5, desc="synthetic catalog", disable=not progress)
    rng = np.random.default_rng(config.seed)
    lbox = float(config.lbox)
    logm = sample_logmpeak(rng, lbox**3, config.logmpeak_min, config.logmpeak_max, config.redshift)
    is_sub = rng.random(logm.size) < subhalo_fraction(logm)
    # a subhalo needs a host heavier by sub_min_dex; the few at the very top that have none are hosts
    _, orphan = _choose_hosts(rng, logm[is_sub], logm[~is_sub], config.sub_min_dex)
    is_sub[np.nonzero(is_sub)[0][orphan]] = False
    steps.update()

    field = _linear_field(rng, lbox, config.n_grid, config.redshift, cosmology)
    steps.update()
    host_logm = logm[~is_sub]
    host_pos, host_vel = _place_hosts(rng, host_logm, field, lbox, config.redshift, cosmology)
    steps.update()
    host_pos, host_vel = _exclude_overlaps(rng, host_logm, host_pos, host_vel, field, lbox, config.redshift,
                                           cosmology)
    steps.update()
    sub_logm = logm[is_sub]
    host_index, _ = _choose_hosts(rng, sub_logm, host_logm, config.sub_min_dex)
    sub_pos, sub_vel = _place_subhalos(rng, host_logm[host_index], host_pos[host_index], host_vel[host_index],
                                       lbox, config.redshift, cosmology)
    steps.update()
    steps.close()

    n_host = host_logm.size
    halo_id = np.arange(logm.size, dtype=np.int64)
    upid = np.concatenate([np.full(n_host, -1, dtype=np.int64), halo_id[host_index]])
    pos = np.concatenate([host_pos, sub_pos])
    vel = np.concatenate([host_vel, sub_vel])
    cat = HaloCatalog(
        x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], vx=vel[:, 0], vy=vel[:, 1], vz=vel[:, 2],
        logmpeak=np.concatenate([host_logm, sub_logm]), halo_id=halo_id, upid=upid,
        host_id=np.where(upid == -1, halo_id, upid), lbox=lbox, redshift=config.redshift,
        cosmology=dict(cosmology),
        source=synthetic_source(config),
    )
    return validate_catalog(cat)


class _Field(NamedTuple):
    gauss: np.ndarray  # the Gaussian field G of the lognormal density, (n, n, n)
    psi: np.ndarray  # linear displacement of G [Mpc/h], (3, n, n, n), for velocities


def _linear_field(rng, lbox, n, redshift, cosmology):
    """Gaussian field G whose lognormal transform exp(G - sigma^2/2) has the linear P(k).

    On the periodic grid: xi_lin(x) from P_lin, xi_G = ln(1 + xi_lin), P_G = FFT(xi_G),
    clipped at zero (the standard lognormal-mock construction).
    """
    kf = 2.0 * np.pi / lbox
    kx = np.fft.fftfreq(n, d=1.0 / n) * kf
    kz = np.fft.rfftfreq(n, d=1.0 / n) * kf
    kvec = np.meshgrid(kx, kx, kz, indexing="ij")
    k2 = kvec[0] ** 2 + kvec[1] ** 2 + kvec[2] ** 2
    k = np.sqrt(k2)
    pk = np.zeros_like(k)
    pk[k > 0] = power_linear(k[k > 0], redshift, cosmology)
    cell_volume = (lbox / n) ** 3
    xi_grid = np.fft.irfftn(pk, s=(n, n, n), axes=(0, 1, 2)) / cell_volume
    pk_gauss = np.maximum(np.fft.rfftn(np.log1p(xi_grid)).real * cell_volume, 0.0)
    pk_gauss[0, 0, 0] = 0.0
    gauss_k = np.fft.rfftn(rng.standard_normal((n, n, n))) * np.sqrt(pk_gauss / cell_volume)
    gauss = np.fft.irfftn(gauss_k, s=(n, n, n), axes=(0, 1, 2))
    k2[0, 0, 0] = 1.0
    psi = np.stack([np.fft.irfftn(1j * kj / k2 * gauss_k, s=(n, n, n), axes=(0, 1, 2)) for kj in kvec])
    return _Field(gauss, psi)


def _place_hosts(rng, logm, field, lbox, redshift, cosmology):
    """Positions with probability exp(b G - b^2 sigma_G^2 / 2) per cell, in mass bins of 0.05 dex.

    The halo field is then lognormal with xi_hh = (1 + xi_lin)^(b^2) - 1, which is
    b^2 xi_lin on large scales, b the Tinker et al. (2010) bias.
    """
    n = field.gauss.shape[0]
    flat = field.gauss.ravel()
    sigma2 = flat.var()
    pos = np.empty((logm.size, 3))
    bins = np.floor(logm / 0.05).astype(np.int64)
    unique_bins = np.unique(bins)
    biases = np.atleast_1d(tinker10_bias((unique_bins + 0.5) * 0.05, redshift, cosmology))
    for b, bias in zip(unique_bins, biases):
        sel = np.nonzero(bins == b)[0]
        cdf = np.cumsum(np.exp(bias * flat - 0.5 * bias**2 * sigma2))
        cells = np.minimum(np.searchsorted(cdf, rng.random(sel.size) * cdf[-1]), flat.size - 1)
        ijk = np.stack(np.unravel_index(cells, (n, n, n)), axis=1)
        pos[sel] = (ijk + rng.random((sel.size, 3))) * (lbox / n)
    vel = 100.0 * growth_rate(redshift, cosmology) * _interp_periodic(field.psi, pos, lbox)
    return pos, vel


def _exclude_overlaps(rng, logm, pos, vel, field, lbox, redshift, cosmology, max_iter=50):
    radius = r200m(logm, cosmology)
    for _ in range(max_iter):
        tree = cKDTree(pos, boxsize=lbox)
        pairs = tree.query_pairs(r=2.0 * radius.max(), output_type="ndarray") if logm.size < 2000 else \
            _candidate_pairs(tree, pos, radius)
        if pairs.size == 0:
            return pos, vel
        i, j = pairs[:, 0], pairs[:, 1]
        d = pos[i] - pos[j]
        d -= lbox * np.round(d / lbox)
        overlap = np.sqrt(np.sum(d**2, axis=1)) < radius[i] + radius[j]
        if not np.any(overlap):
            return pos, vel
        # hosts are sorted heaviest first, so the larger index is the lighter host
        move = np.unique(np.maximum(i[overlap], j[overlap]))
        new_pos, new_vel = _place_hosts(rng, logm[move], field, lbox, redshift, cosmology)
        pos[move], vel[move] = new_pos, new_vel
    raise RuntimeError(f"halo exclusion did not converge in {max_iter} iterations")


def _candidate_pairs(tree, pos, radius):
    # every overlapping pair has d < 2 * (radius of its heavier member)
    neighbours = tree.query_ball_point(pos, r=2.0 * radius)
    counts = np.fromiter((len(nb) for nb in neighbours), dtype=np.int64, count=len(neighbours))
    i = np.repeat(np.arange(len(neighbours)), counts)
    j = np.fromiter((x for nb in neighbours for x in nb), dtype=np.int64, count=int(counts.sum()))
    keep = j > i
    return np.stack([i[keep], j[keep]], axis=1)


def _choose_hosts(rng, sub_logm, host_logm, min_dex):
    """Host index per subhalo, probability proportional to host mass among eligible hosts."""
    # host_logm is sorted heaviest first: the eligible hosts of a subhalo are a prefix
    n_eligible = np.searchsorted(-host_logm, -(sub_logm + min_dex), side="right")
    orphan = n_eligible == 0
    cum_mass = np.cumsum(10.0 ** (host_logm - host_logm[0]))
    top = cum_mass[np.maximum(n_eligible - 1, 0)]
    idx = np.searchsorted(cum_mass, rng.random(sub_logm.size) * top, side="right")
    return np.minimum(idx, np.maximum(n_eligible - 1, 0)), orphan


def _place_subhalos(rng, host_logm, host_pos, host_vel, lbox, redshift, cosmology):
    conc = nfw_concentration(host_logm, redshift, cosmology)
    rvir = r200m(host_logm, cosmology)
    x_table = np.concatenate([[0.0], np.logspace(-4, np.log10(200.0), 2000)])
    m_table = np.log1p(x_table) - x_table / (1.0 + x_table)
    m_c = np.log1p(conc) - conc / (1.0 + conc)
    x = np.interp(rng.random(host_logm.size) * m_c, m_table, x_table)
    r = x * rvir / conc
    direction = rng.standard_normal((host_logm.size, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    sigma_v = np.sqrt(G_NEWTON * 10.0**host_logm / (2.0 * rvir))
    vel = host_vel + rng.standard_normal((host_logm.size, 3)) * sigma_v[:, None]
    return _wrap(host_pos + r[:, None] * direction, lbox), vel


def _interp_periodic(grid, pos, lbox):
    """Trilinear (cloud-in-cell) interpolation of grid(s) of shape (..., n, n, n) at pos."""
    n = grid.shape[-1]
    u = pos / (lbox / n) - 0.5
    i0 = np.floor(u).astype(np.int64)
    f = u - i0
    out = 0.0
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = ((f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
                     * (f[:, 2] if dz else 1 - f[:, 2]))
                ix, iy, iz = (i0[:, 0] + dx) % n, (i0[:, 1] + dy) % n, (i0[:, 2] + dz) % n
                val = grid[..., ix, iy, iz]
                out = out + (val.T if val.ndim > 1 else val) * (w[:, None] if val.ndim > 1 else w)
    return out


def _wrap(pos, lbox):
    pos = np.mod(pos, lbox)
    return np.where(pos >= lbox, 0.0, pos)
