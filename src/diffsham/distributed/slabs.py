"""The box split into slabs along x, on the column grid of the pair enumeration.

A process owns the halos of a block of whole x-columns (``stats.cells``): columns of
side >= rp_max / subdivide, so that every pair closer than rp_max lies in one column
and a neighbour at most ``subdivide`` columns away. Pairs are enumerated from the
stencil's upper half (``pair_kernels``): each pair once, from the member whose column
comes first. A slab's pairs thus reach only into the ``subdivide`` columns above it in
x: that is its ghost shell (at least rp_max wide), and nothing below it is needed.
Slabs span the box in y and z, so pi_max adds nothing to the shell. Counting a pair
only from an owned member then counts every pair of the box exactly once.
"""
from typing import NamedTuple

from ..catalog.hdf5_io import read_catalog_rows
from ..catalog.redshift_space import to_redshift_space
from ..stats.cells import column_index, columns_per_side

__all__ = ("SlabDecomposition", "read_slab")


class SlabDecomposition(NamedTuple):
    """``n_parts`` slabs of whole x-columns, as even as the columns allow.

    Attributes
    ----------
    lbox : float [Mpc/h]
    n_side : int
        Columns per side of the pair enumeration.
    subdivide : int
        Columns per search length: the ghost shell's width in columns.
    n_parts : int
    """

    lbox: float
    n_side: int
    subdivide: int
    n_parts: int

    @classmethod
    def for_binning(cls, lbox, rp_max, n_parts, subdivide=2):
        """The decomposition for pair counts out to ``rp_max`` [Mpc/h].

        Raises
        ------
        ValueError
            More parts than columns, or a box too small for distinct stencil columns.
        """
        n_side = columns_per_side(lbox, rp_max, subdivide)
        n_parts = int(n_parts)
        if n_side < 2 * subdivide + 1:
            raise ValueError(f"a {lbox:g} Mpc/h box has {n_side} columns per side for rp_max = {rp_max:g} Mpc/h: "
                             f"too few to split (at least {2 * subdivide + 1} needed)")
        if not 1 <= n_parts <= n_side:
            raise ValueError(f"{n_parts} slabs asked for; the box has {n_side} columns along x "
                             f"(of {lbox / n_side:.3g} Mpc/h for rp_max = {rp_max:g})")
        return cls(float(lbox), n_side, int(subdivide), n_parts)

    def columns(self, part):
        """The x-columns [first, stop) of slab ``part``."""
        if not 0 <= part < self.n_parts:
            raise ValueError(f"slab {part} does not exist (0 .. {self.n_parts - 1})")
        return part * self.n_side // self.n_parts, (part + 1) * self.n_side // self.n_parts

    @property
    def ghost_width(self):
        """Width of the ghost shell [Mpc/h]: ``subdivide`` columns (>= rp_max)."""
        return self.subdivide * self.lbox / self.n_side

    def select(self, x, part):
        """(owned, ghost): boolean masks of the points at ``x`` [Mpc/h] that slab ``part``
        owns, and that it holds as pair partners only (its ghost shell, periodic)."""
        first, stop = self.columns(part)
        col = column_index(x, self.lbox, self.n_side)
        owned = (col >= first) & (col < stop)
        ghost = ((col - stop) % self.n_side < self.subdivide) & ~owned
        return owned, ghost

    def holds(self, x, part):
        """Mask of the points slab ``part`` reads: its own and its ghosts."""
        owned, ghost = self.select(x, part)
        return owned | ghost



def read_slab(path, decomposition, part, *, space="real", chunk_rows=2**20):
    """The halos slab ``part`` holds, read chunk by chunk from a catalog file.

    Returns
    -------
    cat : HaloCatalog
        Its own halos and its ghosts (in ``space``: moved along z for "redshift", which
        leaves x, and so the slabs, as they are).
    owned : ndarray of bool
        Which of them it owns.
    """
    cat, _ = read_catalog_rows(path, lambda chunk: decomposition.holds(chunk["x"], part), chunk_rows)
    if space == "redshift":
        cat = to_redshift_space(cat)
    return cat, decomposition.select(cat.x, part)[0]
