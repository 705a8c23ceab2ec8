"""diffsham: exact, differentiable galaxy statistics from subhalo abundance matching.

Units are h=1 throughout: halo masses in Msun/h, stellar masses in Msun/h^2,
number densities in h^3 Mpc^-3, lengths in Mpc/h.

Importing diffsham changes no JAX setting and computes nothing; the model builders
switch float64 on (``diffsham.precision``).
"""
__version__ = "0.1.0"
