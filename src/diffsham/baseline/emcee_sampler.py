"""emcee on a Monte Carlo likelihood for a wall-time budget, and what its chain is worth.

emcee's integrated autocorrelation time is estimated with ``tol=0`` on the last half of
the chain (the kept half). Where the kept chain is shorter than 50 tau that estimate is a
lower bound on tau, so the ESS and ESS per second are upper bounds (``reliable`` is
False). A walker that never moves in the kept half has an autocorrelation of one at
every lag there, and emcee's estimate (0 / 0, or rounding noise over a variance of zero)
means nothing: where any walker is frozen, tau is taken as at least the kept length, one
sample per walker, again an upper bound.
"""
import time
from typing import NamedTuple

import numpy as np

__all__ = ("EmceeResult", "run_emcee")


class EmceeResult(NamedTuple):
    """One emcee run.

    Attributes
    ----------
    chain : ndarray of shape (kept steps, walkers, n_free)
        The kept (last) half of the chain.
    steps, calls : int
        Ensemble steps and likelihood calls of the whole run.
    wall_s : float
    tau : ndarray of shape (n_free, )
        Integrated autocorrelation time in steps (see the module docstring).
    reliable : bool
        Whether the kept chain is longer than 50 tau for every parameter.
    min_ess, min_ess_per_s : float
        Minimum over the parameters of kept samples / tau, and that per second of wall time.
    acceptance : float
        Mean acceptance fraction over the walkers.
    frozen_walkers : int
        Walkers that never moved in the kept half.
    """

    chain: np.ndarray
    steps: int
    calls: int
    wall_s: float
    tau: np.ndarray
    reliable: bool
    min_ess: float
    min_ess_per_s: float
    acceptance: float
    frozen_walkers: int

    def summary(self):
        """Mean, 16th and 84th percentiles of each parameter over the kept chain, (3, n_free)."""
        flat = self.chain.reshape(-1, self.chain.shape[-1])
        return np.vstack([flat.mean(0), np.percentile(flat, [16, 84], axis=0)])


def run_emcee(log_prob, start, scale, *, budget_s, n_walkers=32, seed=0, max_steps=None):
    """Run emcee's ensemble sampler until ``budget_s`` seconds (or ``max_steps`` steps) pass.

    Parameters
    ----------
    log_prob : callable
        ``log_prob(free) -> float``; a ``MonteCarloLikelihood`` (its ``n_calls`` and
        ``log_prior`` are used when it has them).
    start, scale : ndarray of shape (n_free, )
        Walkers start at ``start + scale * N(0, 1)``; a draw outside the prior is replaced
        by ``start``.
    budget_s : float
    n_walkers : int
    seed : int
    max_steps : int, optional

    Returns
    -------
    EmceeResult
    """
    import emcee

    start, scale = np.asarray(start, dtype=float), np.asarray(scale, dtype=float)
    if start.shape != scale.shape or start.ndim != 1:
        raise ValueError(f"start and scale must be 1-d of one length, got {start.shape} and {scale.shape}")
    ndim = start.size
    if n_walkers < 2 * ndim:
        raise ValueError(f"emcee needs at least 2 x {ndim} walkers, got {n_walkers}")
    rng = np.random.default_rng(seed)
    p0 = start + scale * rng.standard_normal((n_walkers, ndim))
    log_prior = getattr(log_prob, "log_prior", None)
    if log_prior is not None:
        p0 = np.array([p if np.isfinite(log_prior(p)) else start for p in p0])
    sampler = emcee.EnsembleSampler(n_walkers, ndim, log_prob)
    # emcee's setter takes a state tuple and ignores anything else silently
    sampler.random_state = np.random.RandomState(seed).get_state()
    calls_before = getattr(log_prob, "n_calls", 0)
    t0 = time.perf_counter()
    state = p0
    while time.perf_counter() - t0 < budget_s and (max_steps is None or sampler.iteration < max_steps):
        state = sampler.run_mcmc(state, 1, progress=False)
    wall = time.perf_counter() - t0
    chain = sampler.get_chain()
    steps = chain.shape[0]
    kept = chain[steps // 2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.asarray(sampler.get_autocorr_time(tol=0, discard=steps // 2), dtype=float)
    frozen = int(np.sum(np.all(kept == kept[:1], axis=(0, 2))))
    tau = np.where(np.isfinite(tau), tau, kept.shape[0])
    tau = np.maximum(tau, kept.shape[0] if frozen else 1.0)
    ess = kept.shape[0] * n_walkers / tau
    calls = getattr(log_prob, "n_calls", calls_before + (steps + 1) * n_walkers) - calls_before  # + the start
    return EmceeResult(chain=kept, steps=steps, calls=int(calls), wall_s=wall, tau=tau,
                       reliable=bool(kept.shape[0] > 50 * tau.max()), min_ess=float(ess.min()),
                       min_ess_per_s=float(ess.min() / wall), acceptance=float(np.mean(sampler.acceptance_fraction)),
                       frozen_walkers=frozen)
