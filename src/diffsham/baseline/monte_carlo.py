"""One Monte Carlo mock per likelihood call: what a user without exact expectations does.

Each call draws log M* = <log M*>(Mpeak) + sigma(Mpeak) z for every halo, z from the
unit-variance triweight kernel of the estimators (3 (2B - 1), B ~ Beta(4, 4)), and then:

* the SMF: galaxies counted in each bin over the box's volume and the bin's width;
* wp: the galaxies of each bin counted in pairs by Corrfunc's DDrppi (or halotools'
  ``npairs_xy_z`` where Corrfunc is not installed), with analytic randoms,
  RR = N (N - 1) / 2 x shell / V, the estimator of the exact path;
* DeltaSigma: the mean profile of the bin's galaxies (central galaxies only where the
  model's lenses are centrals).

The SMHM is the model's own (``ForwardModel.mean_log_sm``), evaluated on a 0.002-dex grid
of log Mpeak and interpolated to the halos, as a user would (the network at every halo
costs more than the pair counts; the interpolation moves <log M*> by < 1e-4 dex): the
comparison is between a noisy estimate of the statistics and their exact expectation,
nothing else. The mean of
many mocks is the exact prediction (``tests/test_baseline.py``).
"""
import numpy as np

from ..sham.params import PARAM_NAMES
from ..sham.scatter import scatter_sigma
from ..stats.wprp import wp_from_counts

__all__ = ("draw_log_mstar", "make_interpolated_smhm", "make_monte_carlo_predictor", "MonteCarloLikelihood",
           "SMHM_GRID_DEX")

SMHM_GRID_DEX = 0.002


def draw_log_mstar(mu, sigma, rng):
    """One log M* per halo from the triweight kernel: mu + sigma 3 (2B - 1), B ~ Beta(4, 4).

    Parameters
    ----------
    mu, sigma : ndarray of shape (n, )
    rng : numpy.random.Generator

    Returns
    -------
    log_mstar : ndarray of shape (n, )
    """
    return mu + sigma * 3.0 * (2.0 * rng.beta(4.0, 4.0, np.shape(mu)) - 1.0)


def make_interpolated_smhm(model, logm, dex=SMHM_GRID_DEX):
    """``mu(theta) -> <log M*>`` at every ``logm`` (shape (n, )), from the model's SMHM on a
    ``dex``-spaced grid over their range, linearly interpolated: one grid size, one
    compilation, and no network evaluation per halo."""
    logm = np.asarray(logm, dtype=float)
    grid = np.arange(logm.min(), logm.max() + dex, dex)
    return lambda theta: np.interp(logm, grid, np.asarray(model.mean_log_sm(theta, grid)))


def _pair_counter(kind, lbox, edges, pi_max, nthreads):
    """``count(pos) -> unordered pairs per rp bin with |pi| < pi_max``."""
    if kind in ("auto", "corrfunc"):
        try:
            from Corrfunc.theory.DDrppi import DDrppi

            def count(pos):
                res = DDrppi(1, nthreads, pi_max, edges, *pos.T, periodic=True, boxsize=lbox)
                dd = np.zeros(edges.size - 1)
                np.add.at(dd, np.searchsorted(edges, res["rmin"]), res["npairs"])
                return 0.5 * dd  # Corrfunc counts ordered pairs

            return count
        except ImportError:
            if kind == "corrfunc":
                raise
    from halotools.mock_observables import npairs_xy_z

    def count(pos):
        cum = npairs_xy_z(pos, pos, edges, np.array([0.0, pi_max]), period=lbox, num_threads=nthreads)[:, 1]
        return 0.5 * np.diff(cum)  # ordered pairs within each rp bin

    return count


def make_monte_carlo_predictor(model, cat, *, pair_counter="auto", nthreads=1):
    """``predict(theta, rng) -> data vector`` of one Monte Carlo mock, in ``model``'s layout.

    Parameters
    ----------
    model : ForwardModel
        Its SMHM, bins, rp binning, pi_max, space and lenses are used.
    cat : HaloCatalog
        The catalog the model was built from (real space; moved to redshift space here
        when the model's config says so).
    pair_counter : {"auto", "corrfunc", "halotools"}
    nthreads : int
    """
    if cat.n_halos != model.tables.logm.shape[0] and model.config.path == "exact":
        raise ValueError("the catalog is not the one the model was built from")
    cat = model.config.catalog_in_space(cat)
    layout = model.layout
    edges = np.asarray(model.config.rp_edges, dtype=float)
    pi_max, lbox, volume = float(model.config.pi_max), float(cat.lbox), float(cat.lbox) ** 3
    count = _pair_counter(pair_counter, lbox, edges, pi_max, nthreads)
    logm = np.asarray(cat.logmpeak)
    smhm = make_interpolated_smhm(model, logm)
    pos = np.asarray(cat.positions)
    lens = np.asarray(cat.is_host) if model.ds_lenses == "centrals" else np.ones(cat.n_halos, bool)
    profiles = None if cat.delta_sigma is None else np.asarray(cat.delta_sigma)

    def predict(theta, rng):
        theta = np.asarray(theta, dtype=float)
        mu = smhm(theta)
        logsm = draw_log_mstar(mu, np.asarray(scatter_sigma(logm, theta[3], theta[4])), rng)
        out = np.empty(layout.size)
        for block in layout.blocks:
            if block.kind == "smf":
                lo, hi = block.edges[:, 0], block.edges[:, 1]
                n = np.sum((logsm[:, None] >= lo) & (logsm[:, None] < hi), axis=0)
                out[block.slice] = n / volume / (hi - lo)
                continue
            lo, hi = block.sm_bin
            sel = (logsm >= lo) & (logsm < hi)
            if block.kind == "wp":
                n = float(np.sum(sel))
                dd = count(pos[sel])[:, None]
                wp = np.asarray(wp_from_counts(dd, np.array([n]), np.array([n]), edges, pi_max, lbox))[0]
                out[block.slice] = wp[np.searchsorted(edges[:-1], block.edges[:-1])]
            else:
                sel &= lens
                mean = profiles[sel].mean(axis=0) if np.any(sel) else np.full(profiles.shape[1], np.nan)
                out[block.slice] = mean[np.searchsorted(np.asarray(cat.delta_sigma_rp_edges)[:-1], block.edges[:-1])]
        return out

    return predict


class MonteCarloLikelihood:
    """The log posterior a gradient-free sampler (emcee) calls: a Monte Carlo mock per call
    and the posterior's Gaussian likelihood and priors.

    Parameters
    ----------
    posterior : Posterior
        Data, covariance, priors and the forward model (for its SMHM and bins).
    cat : HaloCatalog
        The posterior's catalog.
    seed : int
    common_random_numbers : bool
        False: fresh draws every call (a noisy likelihood). True: the same draws (from
        ``seed``) every call (common random numbers: smooth-looking in theta, biased).
    pair_counter, nthreads : see ``make_monte_carlo_predictor``

    Attributes
    ----------
    n_calls : int
        Likelihood evaluations so far (outside the prior's support excluded).
    """

    def __init__(self, posterior, cat, *, seed=0, common_random_numbers=False, pair_counter="auto", nthreads=1):
        self.posterior = posterior
        self.predict = make_monte_carlo_predictor(posterior.model, cat, pair_counter=pair_counter, nthreads=nthreads)
        self.seed, self.common_random_numbers = seed, common_random_numbers
        self._rng = np.random.default_rng(seed)
        data = posterior.data
        self._obs, self._index = np.asarray(data.values), np.asarray(data.index)
        self._chol = np.linalg.cholesky(data.covariance)
        specs = posterior.spec.priors
        self._bounds = np.array([(specs[n].lo, specs[n].hi) for n in posterior.free])
        self.n_calls = 0

    def theta(self, free):
        """The full (5, ) parameter array from the free parameters, in ``posterior.free`` order."""
        values = dict(zip(self.posterior.free, np.asarray(free, dtype=float)))
        return np.array([values.get(n, self.posterior.fixed.get(n)) for n in PARAM_NAMES], dtype=float)

    def log_prior(self, free):
        free = np.asarray(free, dtype=float)
        if not (np.all(np.isfinite(free)) and np.all(free > self._bounds[:, 0]) and np.all(free < self._bounds[:, 1])):
            return -np.inf
        return self.posterior.log_prior(dict(zip(self.posterior.free, free)))

    def __call__(self, free):
        lp = self.log_prior(free)
        if not np.isfinite(lp):
            return -np.inf
        rng = np.random.default_rng(self.seed) if self.common_random_numbers else self._rng
        prediction = self.predict(self.theta(free), rng)[self._index]
        self.n_calls += 1
        if not np.all(np.isfinite(prediction)):
            return -np.inf
        z = np.linalg.solve(self._chol, self._obs - prediction)
        return lp - 0.5 * float(z @ z)
