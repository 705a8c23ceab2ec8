"""Redshift-space positions: each (sub)halo moved along a line of sight by its peculiar
velocity, as a survey sees it (the distant-observer approximation, one axis).

    s = x_los + v_los (1 + z) / H(z),    H(z) = 100 E(z) km/s/(Mpc/h),

with E(z) = sqrt(Om0 (1 + z)^3 + 1 - Om0) (flat LCDM), wrapped into the periodic box.
A measured wp integrates redshift-space separations to pi_max, so survey fits predict
it from these positions; DeltaSigma, which projects the matter, is unaffected.
"""
from dataclasses import replace

import numpy as np

from .schema import CatalogError, validate_catalog

__all__ = ("to_redshift_space", "hubble_rate", "redshift_space_coordinate")

_AXES = ("x", "y", "z")


def hubble_rate(redshift, om0):
    """H(z) in km/s/(Mpc/h) for flat LCDM."""
    return 100.0 * np.sqrt(om0 * (1.0 + redshift) ** 3 + 1.0 - om0)


def to_redshift_space(cat, axis="z"):
    """A copy of ``cat`` with its ``axis`` coordinate in redshift space.

    Parameters
    ----------
    cat : HaloCatalog
        Its ``cosmology`` must give Om0; its ``redshift`` is the snapshot's.
    axis : {"x", "y", "z"}
        The line of sight.

    Returns
    -------
    HaloCatalog
        Positions along ``axis`` displaced and wrapped into [0, lbox); ``source`` says so.
    """
    if axis not in _AXES:
        raise ValueError(f"line-of-sight axis must be one of {_AXES}, got {axis!r}")
    if "Om0" not in cat.cosmology:
        raise CatalogError(f"{cat.source or 'catalog'}: redshift space needs the cosmology's Om0; the catalog's "
                           f"cosmology gives {sorted(cat.cosmology)}")
    moved = redshift_space_coordinate(getattr(cat, axis), getattr(cat, "v" + axis), cat.redshift,
                                      cat.cosmology["Om0"], cat.lbox)
    return validate_catalog(replace(cat, **{axis: moved}, source=f"{cat.source} [redshift space along {axis}]"))


def redshift_space_coordinate(coord, velocity, redshift, om0, lbox):
    """The line-of-sight coordinate ``coord`` [Mpc/h] moved by ``velocity`` [km/s] and
    wrapped into [0, lbox): per halo, so a catalog can be moved chunk by chunk."""
    moved = np.mod(coord + velocity * (1.0 + redshift) / hubble_rate(redshift, om0), lbox)
    return np.where(moved >= lbox, 0.0, moved)  # mod can round up to lbox itself
