"""Exact, differentiable statistics from bin weights, and the tabulated fast path."""
from .delta_sigma import delta_sigma_from_weights
from .pair_counts import neighbour_sums, pair_cells, weighted_pair_counts
from .smf import smf_from_weight_sums
from .tabulate import Tabulation, combine_tabulations, load_or_tabulate, tabulate
from .weights import bin_weights
from .wprp import wp_exact, wp_from_counts, wp_setup

__all__ = ("bin_weights", "smf_from_weight_sums", "pair_cells", "neighbour_sums", "weighted_pair_counts", "wp_setup",
           "wp_exact", "wp_from_counts", "delta_sigma_from_weights", "Tabulation", "tabulate", "combine_tabulations",
           "load_or_tabulate")
