"""diffsham: exact, differentiable galaxy statistics from subhalo abundance matching.

Units are h=1 throughout: halo masses in Msun/h, stellar masses in Msun/h^2,
number densities in h^3 Mpc^-3, lengths in Mpc/h.
"""
import jax

# The statistics, the solver and the likelihood are written for float64.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
