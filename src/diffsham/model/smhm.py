"""The SMHM backends of the forward model: theta and log Mpeak -> <log M*>, and how the
solve behind it went.

Each backend is a pure function ``smhm(theta, logm, halo_grid) -> (mu, SmhmInfo)`` for
the population ``halo_grid`` that SHAM is solved for. How SHAMNet is evaluated is chosen
explicitly: ``"direct"`` at each mass (a tabulation's few hundred bin centres), or
``"grid"`` on its 0.01-dex cells and interpolated (one mass per halo on the exact path:
never the network per halo).
"""
from typing import NamedTuple

from jax import numpy as jnp

from ..sham.params import TARGET_LOG_PHI, as_params, target_smf_params
from ..sham.scatter import scatter_sigma
from ..sham.solver import DEFAULT_SOLVER_CONFIG, log_ncum_at_cells, mean_log_sm_at_abundance, solve_smhm

__all__ = ("SmhmInfo", "make_smhm")


class SmhmInfo(NamedTuple):
    """How the SMHM was obtained at one parameter point.

    Attributes
    ----------
    n_iter : int array
        Levenberg-Marquardt steps of the solve (0 for the network alone).
    converged : bool array
        False where the solve stopped at its cap: there its implicit derivatives are
        wrong, and the point is outside the model's support.
    """

    n_iter: jnp.ndarray
    converged: jnp.ndarray


def make_smhm(backend, net, evaluate):
    """The pure SMHM function of a backend.

    Parameters
    ----------
    backend : {"shamnet", "shamnet_alone", "solver"}
    net : ShamNet or None
        Needed by the SHAMNet backends.
    evaluate : {"direct", "grid"}
        SHAMNet alone: at each mass, or on its grid and interpolated.

    Returns
    -------
    smhm : callable
        ``smhm(theta, logm, halo_grid) -> (mu of shape logm.shape, SmhmInfo)``.
    """
    from ..shamnet.network import (
        _bounds,
        _interp_uniform_grid,
        direct_mean_log_sm_and_solution,
        mean_log_sm_on_grid,
    )

    if evaluate not in ("direct", "grid"):
        raise ValueError(f"unknown SHAMNet evaluation {evaluate!r}; choose 'direct' or 'grid'")
    if backend == "shamnet":
        bounds = _bounds(net)

        def smhm(theta, logm, halo_grid):
            mu, sol = direct_mean_log_sm_and_solution(net.weights, bounds, theta, logm, True, halo_grid)
            return mu, SmhmInfo(sol.n_iter, sol.converged)

        return smhm
    if backend == "shamnet_alone":
        bounds = _bounds(net)

        def smhm(theta, logm, halo_grid):
            if evaluate == "direct":
                mu = direct_mean_log_sm_and_solution(net.weights, bounds, theta, logm, False, halo_grid)[0]
            else:
                mu = _interp_uniform_grid(logm, mean_log_sm_on_grid(net.weights, bounds, theta, halo_grid, False))
            return mu, SmhmInfo(jnp.asarray(0), jnp.asarray(True))

        return smhm
    if backend == "solver":

        def smhm(theta, logm, halo_grid):
            p = as_params(theta)
            smf_params = target_smf_params(p)
            sigma = scatter_sigma(halo_grid.logmh, p.s_lo, p.s_hi)
            sol = solve_smhm(TARGET_LOG_PHI, smf_params, sigma, DEFAULT_SOLVER_CONFIG, halo_grid)
            log_ncum = _interp_uniform_grid(logm, log_ncum_at_cells(halo_grid))
            mu = mean_log_sm_at_abundance(TARGET_LOG_PHI, smf_params, sol.coeffs, log_ncum, DEFAULT_SOLVER_CONFIG)
            return mu, SmhmInfo(sol.n_iter, sol.converged)

        return smhm
    raise ValueError(f"unknown SMHM backend {backend!r}; choose 'shamnet', 'shamnet_alone' or 'solver'")
