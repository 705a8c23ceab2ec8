"""What a data vector holds: one block per statistic, each knowing its bins.

A forward model's data vector is the concatenation of blocks: the SMF (one value per
stellar-mass bin), then wp(rp) for each stellar-mass bin (one value per rp bin), then
DeltaSigma(R) for each stellar-mass bin. A :class:`Layout` names the blocks, splits a
vector into them, selects blocks and radial ranges (scale cuts), and gives labels that
ArviZ can use as coordinates.
"""
from typing import NamedTuple

import numpy as np

__all__ = ("Block", "Layout", "KINDS")

KINDS = ("smf", "wp", "delta_sigma")


class Block(NamedTuple):
    """One statistic in one stellar-mass bin (or the SMF over all its bins).

    Attributes
    ----------
    name : str
        ``"smf"``, or e.g. ``"wp[10.20,10.60]"``, ``"delta_sigma[10.60,11.00]"``.
    kind : {"smf", "wp", "delta_sigma"}
    sm_bin : tuple of float or None
        (lo, hi) log M* [Msun/h^2] of a wp or DeltaSigma block; None for the SMF.
    edges : ndarray
        Bin edges along the block: radial [Mpc/h] for wp and DeltaSigma; for the SMF,
        an (n, 2) array of its stellar-mass bins (which may overlap or leave gaps).
    centres : ndarray of shape (n, )
        Geometric centres of the radial bins, or the SMF bins' mid-points.
    start, stop : int
        The block is ``vector[start:stop]``.
    """

    name: str
    kind: str
    sm_bin: tuple | None
    edges: np.ndarray
    centres: np.ndarray
    start: int
    stop: int

    @property
    def slice(self):
        return slice(self.start, self.stop)

    @property
    def size(self):
        return self.stop - self.start


def _block_name(kind, sm_bin):
    return kind if sm_bin is None else f"{kind}[{sm_bin[0]:.2f},{sm_bin[1]:.2f}]"


class Layout(NamedTuple):
    """The blocks of a data vector, in order.

    Build one with :meth:`from_bins`; ``ForwardModel.layout`` is one.
    """

    blocks: tuple

    @classmethod
    def from_bins(cls, smf_bins=None, wp_bins=None, ds_bins=None, rp_edges=None, ds_rp_edges=None):
        """Blocks for the SMF in ``smf_bins``, wp in each of ``wp_bins`` over ``rp_edges``
        and DeltaSigma in each of ``ds_bins`` over ``ds_rp_edges`` (any may be None)."""
        blocks, start = [], 0
        if smf_bins is not None:
            smf_bins = np.asarray(smf_bins, dtype=float)
            blocks.append(Block("smf", "smf", None, smf_bins, smf_bins.mean(axis=1), 0, smf_bins.shape[0]))
            start = smf_bins.shape[0]
        for kind, bins, edges in (("wp", wp_bins, rp_edges), ("delta_sigma", ds_bins, ds_rp_edges)):
            if bins is None:
                continue
            edges = np.asarray(edges, dtype=float)
            centres = np.sqrt(edges[1:] * edges[:-1])
            for lo, hi in np.asarray(bins, dtype=float):
                sm_bin = (float(lo), float(hi))
                blocks.append(Block(_block_name(kind, sm_bin), kind, sm_bin, edges, centres, start,
                                    start + centres.size))
                start += centres.size
        return cls(tuple(blocks))

    @property
    def size(self):
        """Length of the data vector."""
        return self.blocks[-1].stop if self.blocks else 0

    @property
    def names(self):
        return tuple(b.name for b in self.blocks)

    def __getitem__(self, name):
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r} in this layout; blocks: {list(self.names)}")

    def of_kind(self, kind):
        """The blocks of one statistic, in order."""
        if kind not in KINDS:
            raise ValueError(f"unknown statistic {kind!r}; choose from {KINDS}")
        return tuple(b for b in self.blocks if b.kind == kind)

    def sm_bins(self, kind):
        """(n_bins, 2) stellar-mass bins of a statistic, or None if it is absent."""
        blocks = self.of_kind(kind)
        if not blocks:
            return None
        if kind == "smf":
            return blocks[0].edges
        return np.array([b.sm_bin for b in blocks])

    def split(self, vector):
        """{block name: vector[..., block]}; the last axis of ``vector`` is the data vector."""
        vector = self._check(vector)
        return {b.name: vector[..., b.start:b.stop] for b in self.blocks}

    def stack(self, vector, kind):
        """The blocks of one statistic as an array of shape (..., n_sm_bins, n_r) (the
        SMF: (..., n_sm_bins))."""
        vector = self._check(vector)
        blocks = self.of_kind(kind)
        if kind == "smf":
            return vector[..., blocks[0].start:blocks[0].stop]
        return np.stack([vector[..., b.start:b.stop] for b in blocks], axis=-2)

    def select(self, names=None, kinds=None, r_range=None):
        """A scale cut: the blocks and radial ranges to keep.

        Parameters
        ----------
        names : sequence of str, optional
            Blocks to keep (default: all).
        kinds : sequence of str, optional
            Statistics to keep (default: all).
        r_range : dict, optional
            ``{kind or block name: (r_min, r_max)}``: keep the bins whose centre lies in
            [r_min, r_max] (for the SMF, the stellar-mass bins' mid-points).

        Returns
        -------
        layout : Layout
            The kept bins, compacted.
        index : ndarray of int
            Their positions in this layout's vector: ``layout`` describes ``vector[index]``.
        """
        names = None if names is None else set(names)
        unknown = [] if names is None else sorted(names - set(self.names))
        if unknown:
            raise ValueError(f"unknown blocks {unknown}; this layout has {list(self.names)}")
        if kinds is not None and any(k not in KINDS for k in kinds):
            raise ValueError(f"unknown statistics in {list(kinds)}; choose from {KINDS}")
        r_range = dict(r_range or {})
        bad = [k for k in r_range if k not in KINDS and k not in self.names]
        if bad:
            raise ValueError(f"r_range keys {bad} name no statistic or block of this layout")
        blocks, index, start = [], [], 0
        for b in self.blocks:
            if (names is not None and b.name not in names) or (kinds is not None and b.kind not in kinds):
                continue
            lo, hi = r_range.get(b.name, r_range.get(b.kind, (-np.inf, np.inf)))
            keep = (b.centres >= lo) & (b.centres <= hi)
            if not np.any(keep):
                continue
            edges = b.edges[keep] if b.kind == "smf" else None
            if b.kind != "smf":
                first, last = np.flatnonzero(keep)[[0, -1]]
                keep = np.zeros_like(keep)
                keep[first:last + 1] = True
                edges = b.edges[first:last + 2]
            n = int(keep.sum())
            blocks.append(b._replace(edges=edges, centres=b.centres[keep], start=start, stop=start + n))
            index.append(b.start + np.flatnonzero(keep))
            start += n
        if not blocks:
            raise ValueError("the selection keeps no data")
        return Layout(tuple(blocks)), np.concatenate(index)

    def labels(self):
        """One label per element, e.g. ``"wp[10.20,10.60] r=0.123"``: ArviZ coordinates."""
        out = []
        for b in self.blocks:
            for c, e in zip(b.centres, range(b.size)):
                out.append(f"smf[{b.edges[e][0]:.2f},{b.edges[e][1]:.2f}]" if b.kind == "smf"
                           else f"{b.name} r={c:.4g}")
        return out

    def coords(self, dim="data"):
        """``({dim: labels}, {"block": ..., "r": ...})``: coordinates for ArviZ, and the
        block name and bin centre of every element."""
        block = np.concatenate([[b.name] * b.size for b in self.blocks])
        r = np.concatenate([b.centres for b in self.blocks])
        return {dim: self.labels()}, {"block": block, "r": r}

    def _check(self, vector):
        vector = np.asarray(vector) if not hasattr(vector, "shape") else vector
        if vector.shape[-1] != self.size:
            raise ValueError(f"a data vector of this layout has {self.size} elements "
                             f"({', '.join(f'{b.name}: {b.size}' for b in self.blocks)}), got {vector.shape[-1]}")
        return vector
