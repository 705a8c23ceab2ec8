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
3b. **The N-body recipe** (``recipe = "nbody"``) changes steps 2 to 5:

   - the subhalo fraction is ``subhalo_fraction_bolshoi``, a fit to Bolshoi's (Campbell
     et al. 2018, MNRAS 477, 359, figure "sub_fraction_and_completeness");
   - hosts are drawn from correlated lognormal fields of a few bias nodes on cells of at
     most ``cell_size`` (``diffsham.catalog.lognormal``) whose target is the nonlinear
     halo-halo correlation b_i b_j zeta(r) xi_mm^NL(r) (HMcode-2020 via CAMB, Tinker et
     al. 2005's zeta; ``diffsham.catalog.clustering``), with linear-theory velocities of
     the matter;
   - halo exclusion (step 4) first pushes an overlapping lighter host radially out of the
     heavier one's reach (1-1.2 times the contact distance), so that it keeps its
     environment; only hosts still overlapping after 8 rounds are drawn again;
   - subhalos follow the number-density profile of N-body subhalos, less concentrated
     than the dark matter: Einasto with alpha = 0.678 and r_-2 = 0.81 r_200c (Springel et
     al. 2008, MNRAS 391, 1685, the Aquarius subhalos), truncated at the host's R200m
     (``sample_subhalo_radius``).
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
from .lognormal import make_node_fields, node_mixture, sample_cells
from .schema import HaloCatalog, validate_catalog

__all__ = ("SyntheticConfig", "RECIPES", "check_synthetic_config", "make_synthetic_catalog", "synthetic_source",
           "subhalo_fraction",
           "subhalo_fraction_bolshoi", "sample_subhalo_radius", "sample_logmpeak", "nfw_concentration", "G_NEWTON")

RECIPES = ("linear", "nbody")
NBODY_RECIPE_VERSION = 1  # raise when the N-body recipe's output changes (cached catalogs are then remade)

G_NEWTON = 4.30091727e-9  # [Mpc (km/s)^2 / Msun]
_F_SUB_MAX, _F_SUB_X0, _F_SUB_WIDTH = 0.3, 13.5, 0.7
_NODE_RATIO = 1.35  # largest ratio of neighbouring bias nodes (recipe "nbody")
_N_PUSH = 8  # rounds of halo exclusion that push hosts apart before any is drawn again (recipe "nbody")
# least-squares fit of A / (1 + exp((x - x0) / w)) to Campbell et al. (2018)'s Bolshoi subhalo
# fractions at 10^10.6-10^14.3 Msun/h (Poisson errors plus 0.3%); within 3% of every point up
# to 10^13, within 8% to 10^13.5
_F_SUB_BOLSHOI = (0.2857, 12.984, 1.0274)
# Springel et al. (2008), section 4.3: subhalo number density ~ Einasto(alpha, r_-2 = 0.81 r_200c)
_SUB_EINASTO_ALPHA, _SUB_EINASTO_R2 = 0.678, 0.81


class SyntheticConfig(NamedTuple):
    """Settings of the synthetic catalog (defaults: the demo catalog)."""

    lbox: float = 250.0  # box side [Mpc/h]
    logmpeak_min: float = 11.0  # lightest object [log Msun/h]
    logmpeak_max: float = 16.0
    seed: int = 0
    n_grid: int = 128  # cells per side of the linear density field (recipe "linear")
    recipe: str = "linear"  # "linear" (steps 2-5), or "nbody" (step 3b)
    cell_size: float = 1.0  # [Mpc/h] the largest cell of the nonlinear fields (recipe "nbody")
    sub_min_dex: float = 0.3  # a subhalo's host is at least this much more massive
    redshift: float = 0.0


def check_synthetic_config(config):
    """Raise ValueError, naming the field, for a recipe or cell size that cannot be made.

    cell_size (the N-body recipe's) must be a number with 8 to 512 cells per box side: fewer
    cannot hold the target, more would not fit in memory (T fields of n^3 float32 cells).
    """
    if config.recipe not in RECIPES:
        raise ValueError(f"SyntheticConfig.recipe must be one of {RECIPES}, not {config.recipe!r}")
    if config.recipe == "nbody":
        size = config.cell_size
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not np.isfinite(size) or size <= 0:
            raise ValueError(f"SyntheticConfig.cell_size must be a positive length [Mpc/h], not {size!r}")
        if not 8 <= config.lbox / size <= 512:
            raise ValueError(f"SyntheticConfig.cell_size {size} gives {config.lbox / size:.4g} cells per side of the "
                             f"{config.lbox} Mpc/h box; the N-body recipe needs 8 to 512")


def synthetic_source(config):
    """The provenance string of a synthetic catalog (identifies its config in the cache).

    The N-body recipe's settings are named only where it is used, so linear catalogs
    keep the source (and cache entries) they had before it existed. The N-body recipe
    also carries its version (``NBODY_RECIPE_VERSION``), raised whenever what it makes
    changes, so that catalogs cached by an earlier version are made again.
    """
    check_synthetic_config(config)
    items = config._asdict()
    if config.recipe == "nbody":
        items["cell_size"] = float(config.cell_size)  # 1 and 1.0 are the same catalog
    if config.recipe == "linear":
        items.pop("recipe"), items.pop("cell_size")
    else:
        items.pop("n_grid")
        items["recipe"] = f"nbody-v{NBODY_RECIPE_VERSION}"
    return "diffsham synthetic " + " ".join(f"{k}={v}" for k, v in items.items())


def subhalo_fraction(logmpeak):
    """Fraction of objects of a given log Mpeak [Msun/h] that are subhalos."""
    return _F_SUB_MAX / (1.0 + np.exp((np.asarray(logmpeak) - _F_SUB_X0) / _F_SUB_WIDTH))


def subhalo_fraction_bolshoi(logmpeak):
    """Fraction of objects of a given log Mpeak [Msun/h] that are subhalos in Bolshoi.

    A / (1 + exp((log Mpeak - x0) / w)) with (A, x0, w) = (0.2857, 12.984, 1.0274), fitted to
    the subhalo fractions of all Rockstar (sub)halos in Bolshoi at z = 0 (Campbell et al.
    2018, MNRAS 477, 359, figure "sub_fraction_and_completeness", top panel) over
    10^10.6-10^14.3 Msun/h. Below 10^10.5 Bolshoi's fraction falls with its resolution;
    this one stays near 0.28. Bolshoi's cosmology is WMAP5-like (Omega_m = 0.27), not this
    catalog's Bolshoi-Planck: the fraction is taken as it is.
    """
    a, x0, w = _F_SUB_BOLSHOI
    return a / (1.0 + np.exp((np.asarray(logmpeak) - x0) / w))


def sample_subhalo_radius(rng, host_logm, redshift=0.0, cosmology=BOLSHOI_PLANCK):
    """Distances of subhalos from their hosts' centres [Mpc/h], one per host given.

    The number density of subhalos follows an Einasto profile,
    n(r) ~ exp(-(2 / alpha) ((r / r_-2)^alpha - 1)), alpha = 0.678, r_-2 = 0.81 r_200c
    (Springel et al. 2008, MNRAS 391, 1685, the Aquarius subhalos; independent of subhalo
    mass), truncated at the host's R200m. r_200c is found from the host's NFW profile with
    the Diemer & Joyce (2019) c200m. The cumulative count within u = r / r_-2 is the
    regularised incomplete gamma P(3 / alpha, (2 / alpha) u^alpha), inverted exactly.

    Parameters
    ----------
    rng : numpy.random.Generator
    host_logm : ndarray of shape (n, ) log M200m [Msun/h]

    Returns
    -------
    r : ndarray of shape (n, ) [Mpc/h], each within its host's R200m
    """
    from scipy.special import gammainc, gammaincinv

    host_logm = np.asarray(host_logm, dtype=float)
    rvir = r200m(host_logm, cosmology)
    r_minus2 = _SUB_EINASTO_R2 * rvir * _r200c_over_r200m(nfw_concentration(host_logm, redshift, cosmology),
                                                        redshift, cosmology)
    alpha = _SUB_EINASTO_ALPHA
    shape = 3.0 / alpha
    q_max = gammainc(shape, (2.0 / alpha) * (rvir / r_minus2) ** alpha)
    t = gammaincinv(shape, rng.random(host_logm.size) * q_max)
    return r_minus2 * (0.5 * alpha * t) ** (1.0 / alpha)


def _nfw_mu(x):
    return np.log1p(x) - x / (1.0 + x)


def _r200c_over_r200m(conc, redshift, cosmology):
    """R200c / R200m of NFW halos of concentration c200m: the radius where the mean enclosed
    density falls to 200 rho_crit = 200 rho_m / Omega_m(z)."""
    om = cosmology["Om0"] * (1 + redshift) ** 3
    om = om / (om + 1.0 - cosmology["Om0"])
    y = np.linspace(0.3, 1.0, 2801)  # r / R200m
    c_grid = np.geomspace(0.5, 100.0, 400)  # the ratio depends on c alone: tabulate, then interpolate
    # mean density within y R200m over 200 rho_m: mu(c y) / mu(c) / y^3, decreasing in y
    ratio = _nfw_mu(c_grid[:, None] * y) / _nfw_mu(c_grid)[:, None] / y**3
    idx = np.argmax(ratio < 1.0 / om, axis=1)  # the first y below the threshold
    rows = np.arange(c_grid.size)
    f_lo, f_hi = ratio[rows, idx - 1], ratio[rows, idx]
    y_c = y[idx - 1] + (y[idx] - y[idx - 1]) * (f_lo - 1.0 / om) / (f_lo - f_hi)
    return np.interp(np.log(np.asarray(conc, dtype=float)), np.log(c_grid), y_c)


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

    check_synthetic_config(config)
    steps = tqdm(total=5, desc="synthetic catalog", disable=not progress)
    rng = np.random.default_rng(config.seed)
    lbox = float(config.lbox)
    logm = sample_logmpeak(rng, lbox**3, config.logmpeak_min, config.logmpeak_max, config.redshift)
    nbody = config.recipe == "nbody"
    is_sub = rng.random(logm.size) < (subhalo_fraction_bolshoi(logm) if nbody else subhalo_fraction(logm))
    # a subhalo needs a host heavier by sub_min_dex; the few at the very top that have none are hosts
    _, orphan = _choose_hosts(rng, logm[is_sub], logm[~is_sub], config.sub_min_dex)
    is_sub[np.nonzero(is_sub)[0][orphan]] = False
    steps.update()

    host_logm = logm[~is_sub]
    if nbody:
        host_bias = tinker10_bias(host_logm, config.redshift, cosmology)
        fields = _node_fields(rng, host_bias, lbox, _nonlinear_grid_size(config), config.redshift, cosmology)

        def place(rows):
            return _place_hosts_nonlinear(rng, host_bias[rows], fields, config.redshift, cosmology)
    else:
        field = _linear_field(rng, lbox, config.n_grid, config.redshift, cosmology)

        def place(rows):
            return _place_hosts(rng, host_logm[rows], field, lbox, config.redshift, cosmology)
    steps.update()
    host_pos, host_vel = place(np.arange(host_logm.size))
    steps.update()
    host_pos, host_vel = _exclude_overlaps(rng, host_logm, host_pos, host_vel, place, lbox, cosmology,
                                           n_push=_N_PUSH if nbody else 0)
    steps.update()
    sub_logm = logm[is_sub]
    host_index, _ = _choose_hosts(rng, sub_logm, host_logm, config.sub_min_dex)
    sub_pos, sub_vel = _place_subhalos(rng, host_logm[host_index], host_pos[host_index], host_vel[host_index],
                                       lbox, config.redshift, cosmology, einasto=nbody)
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


def _exclude_overlaps(rng, logm, pos, vel, place, lbox, cosmology, n_push=0, max_iter=60):
    """Separate hosts whose R200m spheres overlap, until none do.

    The lighter host of each overlapping pair is drawn again with ``place(rows) -> (pos,
    vel)``; or, for the first ``n_push`` rounds, pushed radially out of the heavier one's
    reach to 1-1.2 times the contact distance, keeping its velocity, so that it stays in
    its environment. (A lognormal field's densest cells hold more hosts than fit in them;
    drawing those again emptied the peaks: 10^11.5-10^12.5 hosts fell to 0.55-0.9 of the
    target at 0.5-13 Mpc/h, benchmarks/RESULTS.md.) The push leaves a pile-up of pairs at
    1-1.2 times contact: ~2.6 times the pair density at 1.2-2 times contact.
    """
    radius = r200m(logm, cosmology)
    for it in range(max_iter):
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
        if it >= n_push:
            move = np.unique(np.maximum(i[overlap], j[overlap]))
            pos[move], vel[move] = place(move)
            continue
        heavy, light = np.minimum(i[overlap], j[overlap]), np.maximum(i[overlap], j[overlap])
        light, first = np.unique(light, return_index=True)
        heavy = heavy[first]
        d = pos[light] - pos[heavy]
        d -= lbox * np.round(d / lbox)
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        d = np.where(norm > 1e-9 * lbox, d, rng.standard_normal(d.shape))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        reach = (radius[heavy] + radius[light]) * (1.0 + 0.2 * rng.random(light.size))
        pos[light] = _wrap(pos[heavy] + reach[:, None] * d, lbox)
    raise RuntimeError(f"halo exclusion did not converge in {max_iter} iterations")


def _nonlinear_grid_size(config):
    """The FFT-friendly number of cells per side giving cells of at most ``config.cell_size``."""
    from scipy import fft

    return fft.next_fast_len(int(np.ceil(config.lbox / config.cell_size)), real=True)


def _node_fields(rng, host_bias, lbox, n, redshift, cosmology):
    """Bias nodes from the least to the most biased host, neighbours at most _NODE_RATIO apart."""
    from .clustering import power_linear_camb, xi_halo_halo

    b_lo, b_hi = float(np.min(host_bias)), float(np.max(host_bias))
    n_nodes = max(2, int(np.ceil(np.log(b_hi / b_lo) / np.log(_NODE_RATIO))) + 1)
    return make_node_fields(rng, np.geomspace(b_lo, b_hi, n_nodes), lambda r: xi_halo_halo(r, 1.0, 1.0, redshift, cosmology),
                            lambda k: power_linear_camb(k, redshift, cosmology), lbox, n)


def _place_hosts_nonlinear(rng, bias, fields, redshift, cosmology):
    """Positions from the bias nodes' lognormal fields (node_mixture), velocities from linear theory."""
    pos = sample_cells(rng, fields, node_mixture(rng, bias, fields.bias))
    vel = 100.0 * growth_rate(redshift, cosmology) * _interp_periodic(fields.psi, pos, fields.lbox)
    return pos, vel


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


def _place_subhalos(rng, host_logm, host_pos, host_vel, lbox, redshift, cosmology, einasto=False):
    """Subhalos around their hosts: radii from the hosts' NFW mass profiles, or (einasto) from
    the N-body subhalos' profile (``sample_subhalo_radius``); isotropic directions."""
    rvir = r200m(host_logm, cosmology)
    if einasto:
        r = sample_subhalo_radius(rng, host_logm, redshift, cosmology)
    else:
        conc = nfw_concentration(host_logm, redshift, cosmology)
        x_table = np.concatenate([[0.0], np.logspace(-4, np.log10(200.0), 2000)])
        m_c = _nfw_mu(conc)
        x = np.interp(rng.random(host_logm.size) * m_c, _nfw_mu(x_table), x_table)
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
