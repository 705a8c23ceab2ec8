"""Correlated lognormal fields for halos of any bias, on cells of 1 Mpc/h or less.

A lognormal field realises a two-point function xi exactly where 1 + xi > 0 (Coles & Jones
1991): a Gaussian field G with xi_G = ln(1 + xi), and points drawn by Poisson sampling
of exp(G - sigma_G^2 / 2). One field per halo mass cannot be made to cross-correlate with
the others as halos do, so this module builds T fields ("nodes"), one per large-scale bias
b_1 < ... < b_T, with the joint spectrum of the target (Agrawal et al. 2017, JCAP 10, 003,
do the same for galaxy tracers):

    1 + xi_ij(r) = 1 + b_i b_j X(r),      X(r) = zeta(r) xi_mm^NL(r)   (``clustering.xi_halo_halo``)

Because the target is bilinear in the biases, a halo of bias b between nodes i and i+1
that is drawn from node i with probability p = (b_i+1 - b) / (b_i+1 - b_i), else from node
i+1, has in expectation b_a b_b X(r) with every other halo, as far as the nodes' joint
spectra hold: T nodes serve a continuum of masses without binning. They hold only in part
(below): neighbouring nodes' cross-spectra come out 0.5-3.6% low at k = 0.1-0.3 h/Mpc,
distant nodes' up to ~45% (biases 0.72 and 8).

Two details make it hold down to the cell scale:

* **Cells.** Points are placed uniformly inside their cell, so the points' xi at separation
  s is the lattice's xi interpolated (trilinearly: the triangle kernel of the difference of
  two uniform offsets is 1 at zero offset and 0 at the neighbouring lattice points). The
  lattice takes X at its separations |m| dx (and at m = 0, X averaged over the pairs of
  one cell), so the points carry X exactly at every lattice separation and its
  interpolant in between: measured, within 1% of X's shell averages beyond 1.5 cells,
  0.93 at 1-1.5 cells and 0.6-0.8 below one cell, where cells of dx cannot resolve it.
* **Positive definiteness.** At each k the matrix of Gaussian spectra S_ij(k) must be
  positive semi-definite, and it is not (ln(1 + b_i b_j X) is not bilinear): its
  correlation matrix is projected onto that cone and rescaled to a unit diagonal, so each
  node keeps its own spectrum and only the cross-spectra of distant nodes give way.

Velocities are linear theory for the matter (``psi``, the displacement of a field with the
linear spectrum that is perfectly correlated, mode by mode, with the lowest-bias node).
"""
from typing import NamedTuple

import numpy as np

__all__ = ("NodeFields", "make_node_fields", "node_mixture", "sample_cells")

_FLOOR = -0.999  # the lowest lattice correlation (ln(1 + xi) must stay finite)


class NodeFields(NamedTuple):
    """The fields of the bias nodes on a periodic grid of n^3 cells."""

    bias: np.ndarray  # (T, ) the nodes' large-scale biases, increasing
    log_density: np.ndarray  # (T, n, n, n) float32, G_i - var(G_i) / 2: the node's ln(1 + delta)
    psi: np.ndarray  # (3, n, n, n) float32, linear displacement [Mpc/h] for velocities
    lbox: float


def _grid_k(n, lbox):
    kf = 2.0 * np.pi / lbox
    kx = np.fft.fftfreq(n, d=1.0 / n) * kf
    kz = np.fft.rfftfreq(n, d=1.0 / n) * kf
    return kx, kz


def _lattice_target(xi_target, n, dx):
    """X at the lattice's separations, and its mean over the pairs of one cell at the zero offset.

    Points placed uniformly in cells have, at separation r, the lattice's correlation
    interpolated with the triangle kernel of the difference of two uniform offsets, which is
    1 at zero offset and 0 at the neighbouring lattice points: the points' xi equals the
    lattice's exactly at every lattice separation m dx. So the lattice takes X(|m| dx); the
    zero offset (pairs in one cell) takes X averaged over those pairs' separations.

    Returns
    -------
    x : ndarray of shape (n, n, n) float32
    """
    a = np.minimum(np.arange(n), n - np.arange(n)).astype(np.float64) * dx
    sep = np.sqrt(a[:, None, None] ** 2 + a[None, :, None] ** 2 + a[None, None, :] ** 2)
    r_table = np.geomspace(0.05 * dx, sep.max() * 1.001, 4000)
    x_table = xi_target(r_table)
    x = np.interp(np.log(np.maximum(sep, r_table[0])), np.log(r_table), x_table).astype(np.float32)
    # same-cell pairs: |offset| per axis has density 2 (1 - t) on [0, 1]
    t, w = np.polynomial.legendre.leggauss(12)
    t, w = 0.5 * (t + 1.0), 0.5 * w * 2.0 * (1.0 - 0.5 * (t + 1.0))
    grid = np.stack(np.meshgrid(t, t, t, indexing="ij"))
    weight = w[:, None, None] * w[None, :, None] * w[None, None, :]
    r_same = dx * np.sqrt(np.sum(grid**2, axis=0))
    x[0, 0, 0] = np.sum(weight * np.interp(np.log(np.maximum(r_same, r_table[0])), np.log(r_table), x_table))
    return x


def _symmetry_classes(n):
    """Index of each rfft-grid mode's class under the cube's symmetries (|k_x|, |k_y|, |k_z| sorted).

    The lattice spectra here are invariant under axis permutations and reflections, so
    the per-mode matrix work is done once per class (~n^3 / 48 classes instead of n^3 / 2 modes).
    """
    a = np.minimum(np.arange(n), n - np.arange(n))
    c = np.arange(n // 2 + 1)
    trip = np.stack(np.broadcast_arrays(a[:, None, None], a[None, :, None], c[None, None, :]), axis=-1)
    trip = np.sort(trip.reshape(-1, 3), axis=1)
    key = (trip[:, 0] * (n + 1) + trip[:, 1]) * (n + 1) + trip[:, 2]
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.reshape(n, n, n // 2 + 1)


def make_node_fields(rng, bias, xi_target, power_linear, lbox, n, dtype=np.float32):
    """Draw the T correlated lognormal node fields.

    Parameters
    ----------
    rng : numpy.random.Generator
    bias : ndarray of shape (T, ), increasing
    xi_target : callable, r [Mpc/h] -> X(r), the target correlation of bias 1
    power_linear : callable, k [h/Mpc] -> linear matter P(k) [(Mpc/h)^3], for the velocities
    lbox : float [Mpc/h]
    n : int, cells per side
    dtype : numpy dtype of the fields, optional (float32: T n^3 4 bytes for log_density)

    Returns
    -------
    NodeFields
    """
    from scipy import fft

    bias = np.asarray(bias, dtype=float)
    n_nodes = bias.size
    dx = lbox / n
    kx, kz = _grid_k(n, lbox)
    k = np.sqrt(kx[:, None, None] ** 2 + kx[None, :, None] ** 2 + kz[None, None, :] ** 2)
    k[0, 0, 0] = 1.0
    x_lattice = _lattice_target(xi_target, n, dx)
    first, inverse = _symmetry_classes(n)
    # Gaussian spectra S_ij(k) = DFT[ln(1 + b_i b_j X)] on one mode per symmetry class
    s = np.empty((first.size, n_nodes, n_nodes))
    for i in range(n_nodes):
        for j in range(i, n_nodes):
            xi = np.maximum(bias[i] * bias[j] * x_lattice, _FLOOR)
            s_ij = fft.rfftn(np.log1p(xi), workers=-1).real.ravel()[first]
            s[:, i, j] = s[:, j, i] = s_ij
    del x_lattice
    s[0] = 0.0  # the mean of each field is fixed by the normalisation below
    root = _psd_root_keeping_diagonal(s)
    noise = [fft.rfftn(rng.standard_normal((n, n, n)).astype(dtype), workers=-1) for _ in range(n_nodes)]
    log_density = np.empty((n_nodes, n, n, n), dtype=dtype)
    for i in range(n_nodes):
        gk = sum(root[:, i, j][inverse].astype(dtype) * noise[j] for j in range(n_nodes))
        if i == 0:
            # the linear field perfectly correlated with node 0, mode by mode
            s00 = (root[:, 0, :] ** 2).sum(axis=1)[inverse]
            amp = np.sqrt(np.divide(power_linear(k) / dx**3, s00, out=np.zeros_like(s00), where=s00 > 0))
            lin_k = gk * amp.astype(dtype)
            lin_k[0, 0, 0] = 0.0
            psi = np.stack([fft.irfftn(1j * kj / k**2 * lin_k, s=(n, n, n), workers=-1).astype(dtype)
                            for kj in np.broadcast_arrays(kx[:, None, None], kx[None, :, None], kz[None, None, :])])
            del lin_k, amp, s00
        g = fft.irfftn(gk, s=(n, n, n), workers=-1)
        # ln(1 + delta) of the node (sampling normalises by the total, so the shift is for its meaning)
        log_density[i] = g - 0.5 * np.var(g, dtype=np.float64)
    return NodeFields(bias, log_density, psi, float(lbox))


def _psd_root_keeping_diagonal(s):
    """A factor A with A A^T positive semi-definite and with S's diagonal, for each S.

    The nodes' Gaussian spectra need not form a positive semi-definite matrix (ln(1 + b_i b_j X)
    is not bilinear in the biases): the correlation matrix S_ij / sqrt(S_ii S_jj) has its
    negative eigenvalues set to zero and is rescaled to a unit diagonal (a projection, not
    Higham's nearest correlation matrix), so every node keeps its own spectrum and only the
    cross-spectra give way. Where S_ii(k) < 0 (27-28% of the modes, at k above ~2.5 h/Mpc for
    b = 1 and ~0.3 h/Mpc for b = 8) the node's power there is set to zero: within 0.5% of
    its xi beyond one cell. (Clipping S itself instead added power to every node: 45-70% at
    k < 0.3 h/Mpc for nodes spanning biases 0.75-8, measured.)

    Parameters
    ----------
    s : ndarray of shape (n_modes, T, T), symmetric

    Returns
    -------
    root : ndarray of shape (n_modes, T, T), with root @ root^T the projected S
    """
    diag = np.maximum(np.einsum("cii->ci", s), 0.0)
    scale = np.sqrt(diag)
    inv = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    corr = s * inv[:, :, None] * inv[:, None, :]
    eigval, eigvec = np.linalg.eigh(corr)
    eigval = np.maximum(eigval, 0.0)
    corr = np.einsum("cij,cj,ckj->cik", eigvec, eigval, eigvec)
    norm = np.sqrt(np.einsum("cii->ci", corr))
    renorm = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    # root of D^1/2 C D^1/2 is D^1/2 C^1/2 renormalised; build it from C's eigenpairs
    eigval, eigvec = np.linalg.eigh(corr * renorm[:, :, None] * renorm[:, None, :])
    root_corr = np.einsum("cij,cj,ckj->cik", eigvec, np.sqrt(np.maximum(eigval, 0.0)), eigvec)
    # A = D^1/2 C^1/2: A A^T = D^1/2 C D^1/2 (A is not symmetric; the fields only need A A^T)
    return scale[:, :, None] * root_corr


def node_mixture(rng, bias, node_bias):
    """The node each halo is drawn from: i or i+1 with weights linear in b (b clipped to the nodes).

    Parameters
    ----------
    rng : numpy.random.Generator
    bias : ndarray of shape (n, ), the halos' large-scale biases
    node_bias : ndarray of shape (T, ), increasing

    Returns
    -------
    node : ndarray of shape (n, ) int
    """
    b = np.clip(bias, node_bias[0], node_bias[-1])
    lo = np.clip(np.searchsorted(node_bias, b, side="right") - 1, 0, node_bias.size - 2)
    frac = (b - node_bias[lo]) / (node_bias[lo + 1] - node_bias[lo])
    return lo + (rng.random(b.size) < frac)


def sample_cells(rng, fields, node):
    """Positions of halos drawn from their nodes' fields: a cell with probability exp(log_density),
    then uniform inside it.

    Parameters
    ----------
    rng : numpy.random.Generator
    fields : NodeFields
    node : ndarray of shape (n, ) int, each halo's node (``node_mixture``)

    Returns
    -------
    pos : ndarray of shape (n, 3) [Mpc/h]
    """
    n = fields.log_density.shape[-1]
    pos = np.empty((node.size, 3))
    for i in np.unique(node):
        sel = np.nonzero(node == i)[0]
        cdf = np.cumsum(np.exp(fields.log_density[i].ravel().astype(np.float64)))
        cells = np.minimum(np.searchsorted(cdf, rng.random(sel.size) * cdf[-1]), cdf.size - 1)
        ijk = np.stack(np.unravel_index(cells, (n, n, n)), axis=1)
        pos[sel] = (ijk + rng.random((sel.size, 3))) * (fields.lbox / n)
    return pos
