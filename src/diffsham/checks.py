"""Argument checks shared by the catalog and statistics code: messages a user understands."""
import numpy as np

__all__ = ("check_positions", "check_radial_edges")


def check_positions(pos, lbox, name="positions"):
    """(n, 3) finite positions inside the periodic box [0, lbox); ValueError otherwise."""
    if not (np.isscalar(lbox) and np.isfinite(lbox) and lbox > 0):
        raise ValueError(f"lbox must be a positive number, got {lbox!r}")
    pos = np.asarray(pos, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3), got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"{name} have {int(np.sum(~np.all(np.isfinite(pos), axis=1)))} rows with NaN or "
                         "infinite values")
    outside = np.any((pos < 0) | (pos >= lbox), axis=1)
    if np.any(outside):
        raise ValueError(f"{name}: {int(outside.sum())} points lie outside the box [0, {lbox:g})")
    return pos


def check_radial_edges(edges, lbox, name="rp_edges", allow_zero=True):
    """Strictly increasing, non-negative (or positive) edges below half the box."""
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        raise ValueError(f"{name} must be a 1-d array of at least two finite values")
    if (edges[0] < 0 if allow_zero else edges[0] <= 0) or np.any(np.diff(edges) <= 0):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind} and strictly increasing, got {edges}")
    if edges[-1] >= lbox / 2:
        raise ValueError(f"the largest edge of {name} ({edges[-1]:g}) must be smaller than half the box "
                         f"({lbox / 2:g})")
    return edges
