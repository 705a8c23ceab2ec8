"""The conventional way to fit, for comparison: a Monte Carlo mock per likelihood call
(one stellar mass drawn per halo, galaxies selected per bin, the SMF counted, wp from a
pair counter, DeltaSigma from the selected galaxies' profiles), sampled gradient-free by
emcee."""
from .emcee_sampler import EmceeResult, run_emcee
from .monte_carlo import MonteCarloLikelihood, draw_log_mstar, make_monte_carlo_predictor

__all__ = ("EmceeResult", "run_emcee", "MonteCarloLikelihood", "draw_log_mstar", "make_monte_carlo_predictor")
