"""Exact, differentiable statistics from bin weights, and the tabulated fast path."""
from .delta_sigma import delta_sigma_from_weights
from .pair_counts import build_cell_lists, weighted_pair_counts
from .smf import smf_from_weight_sums
from .tabulate import Tabulation, load_or_tabulate, tabulate
from .weights import bin_weights
from .wprp import wp_exact, wp_from_counts, wp_setup

__all__ = ("bin_weights", "smf_from_weight_sums", "build_cell_lists", "weighted_pair_counts", "wp_setup",
           "wp_exact", "wp_from_counts", "delta_sigma_from_weights", "Tabulation", "tabulate", "load_or_tabulate")
