"""Issue 16: where the refined SHAM solve converges, whether its gradients are right, and
what the network alone costs in parameter bias.

1. Step counts of the refined solve (SHAMNet's start, Levenberg-Marquardt) over 10^4
   random points of the supported domain plus its 32 corners and 80 edge mid-points, and
   over 2000 random points of SHAMNet's whole training domain for comparison.
2. The gradient of a chi^2 (SMF, wp, DeltaSigma of a 100 Mpc/h synthetic box, 5%
   errors, data at the default point) against central finite differences at random
   converged points: the worst component error in units of 1% + 0.5% of the norm.
3. The network alone (``smhm="shamnet_alone"``): the Fisher estimate of the parameter
   shift its prediction error causes, in units of the posterior sd, for SDSS-like
   diagonal errors (SMF 3%, wp 5%, DeltaSigma 15%), at random truths; and the cost of
   one log-density gradient with each backend.

Usage: python benchmarks/bench_convergence.py [--n-scan 10000] [--n-fd 300] [--n-fisher 30]
Last line: one JSON record.
"""
import argparse
import sys
import time

import jax
import numpy as np
from jax import numpy as jnp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, median_time, print_json_line  # noqa: E402

from diffsham.catalog import SyntheticConfig, load_synthetic_catalog  # noqa: E402
from diffsham.model import box_corners, box_edge_midpoints, make_forward_model  # noqa: E402
from diffsham.precision import enable_float64  # noqa: E402
from diffsham.sham.params import (  # noqa: E402
    DEFAULT_SHAM_PARAMS,
    SHAM_PBOUNDS_HI,
    SHAM_PBOUNDS_LO,
    SUPPORTED_HI,
    SUPPORTED_LO,
)
from diffsham.shamnet import load_shamnet  # noqa: E402
from diffsham.shamnet.network import REFINE_CONFIG, _bounds, refined_solution  # noqa: E402

SM_BINS = np.array([[9.8, 10.3], [10.3, 10.8], [10.8, 11.3]])
SMF_EDGES = np.round(np.arange(9.8, 11.61, 0.1), 6)


def box_points(lo, hi, n, seed):
    random = lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))
    return random, box_corners(lo, hi), box_edge_midpoints(lo, hi)


def scan(points, net):
    bounds = _bounds(net)
    f = jax.jit(jax.vmap(lambda t: (lambda s: (s.n_iter, s.converged, jnp.max(jnp.abs(s.log_resid[25:175]))))(
        refined_solution(net.weights, bounds, t))))
    out = [f(jnp.asarray(points[k:k + 100])) for k in range(0, len(points), 100)]
    return [np.concatenate([np.asarray(o[i]) for o in out]) for i in range(3)]


def summarise_scan(n_iter, converged, resid):
    counts = dict(zip(*[a.tolist() for a in np.unique(n_iter, return_counts=True)]))
    return dict(n=int(n_iter.size), n_iter_counts={int(k): int(v) for k, v in counts.items()},
                n_iter_median=float(np.median(n_iter)), n_iter_max=int(n_iter.max()),
                cap_hits=int(np.sum(n_iter >= REFINE_CONFIG.n_iter)), not_converged=int(np.sum(~converged)),
                smf_resid_max_dex=float(resid.max()), smf_resid_p99_dex=float(np.percentile(resid, 99)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-scan", type=int, default=10000)
    p.add_argument("--n-fd", type=int, default=300)
    p.add_argument("--n-fisher", type=int, default=30)
    args = p.parse_args()
    enable_float64()
    net = load_shamnet()
    record = dict(machine=machine(), benchmark="convergence")

    t0 = time.perf_counter()
    rand, corners, mids = box_points(SUPPORTED_LO, SUPPORTED_HI, args.n_scan, 0)
    for name, pts in (("supported_random", rand), ("supported_corners", corners), ("supported_edge_mids", mids)):
        record[name] = summarise_scan(*scan(pts, net))
        print(name, record[name], flush=True)
    training = box_points(SHAM_PBOUNDS_LO, SHAM_PBOUNDS_HI, 2000, 1)[0]
    record["training_domain_random"] = summarise_scan(*scan(training, net))
    print("training_domain_random", record["training_domain_random"], flush=True)
    record["scan_seconds"] = time.perf_counter() - t0

    cat = load_synthetic_catalog(SyntheticConfig(lbox=100.0, logmpeak_min=11.5), progress=False)
    smf_bins = np.stack([SMF_EDGES[:-1], SMF_EDGES[1:]], axis=1)
    models = {smhm: make_forward_model(cat, smf_bins, SM_BINS, SM_BINS, smhm=smhm, progress=False)
              for smhm in ("shamnet", "shamnet_alone")}
    model = models["shamnet"]
    data = np.asarray(model.predict(DEFAULT_SHAM_PARAMS))
    sigma = jnp.asarray(0.05 * np.abs(data) + 0.05 * np.median(np.abs(data)))

    def chi2(theta):
        vector, info = model.kernel(theta, model.tables)
        return jnp.sum(((vector - data) / sigma) ** 2), info

    f = jax.jit(lambda t: chi2(t)[0])
    vg = jax.jit(jax.vmap(jax.value_and_grad(chi2, has_aux=True)))
    pts = SUPPORTED_LO + (SUPPORTED_HI - SUPPORTED_LO) * np.random.default_rng(2).random((args.n_fd, 5))
    pts = np.concatenate([pts, corners])
    (_, info), grads = vg(jnp.asarray(pts))
    h = 1e-4 * (SUPPORTED_HI - SUPPORTED_LO)
    errs = []
    for theta, g in zip(pts, np.asarray(grads)):
        fd = np.array([(float(f(jnp.asarray(theta + h[i] * np.eye(5)[i]))) - float(f(jnp.asarray(theta - h[i] * np.eye(5)[i]))))
                       / (2 * h[i]) for i in range(5)])
        errs.append(np.max(np.abs(g - fd) / (0.01 * np.abs(fd) + 0.005 * np.linalg.norm(fd))))
        rel = np.abs(g - fd) / np.linalg.norm(fd)
        errs[-1] = (errs[-1], rel.max())
    errs = np.array(errs)
    record["fd_points"] = int(len(pts))
    record["fd_all_converged"] = bool(np.asarray(info.converged).all())
    record["fd_error_in_allowed_units_max"] = float(errs[:, 0].max())
    record["fd_error_in_allowed_units_p99"] = float(np.percentile(errs[:, 0], 99))
    record["fd_points_over_allowed"] = int(np.sum(errs[:, 0] > 1.0))
    record["fd_error_over_norm_median"] = float(np.median(errs[:, 1]))
    record["fd_error_over_norm_max"] = float(errs[:, 1].max())
    print({k: v for k, v in record.items() if k.startswith("fd_")}, flush=True)

    # the network alone: Fisher shift in units of the posterior sd
    frac = np.concatenate([np.full(smf_bins.shape[0], 0.03), np.full(SM_BINS.shape[0] * 15, 0.05),
                           np.full(SM_BINS.shape[0] * 15, 0.15)])
    shifts = []
    truths = SUPPORTED_LO + (SUPPORTED_HI - SUPPORTED_LO) * (0.1 + 0.8 * np.random.default_rng(3).random((args.n_fisher, 5)))
    truths = np.concatenate([np.asarray(DEFAULT_SHAM_PARAMS)[None], truths])
    for truth in truths:
        value, jac = (np.asarray(a) for a in model.jacobian(truth))
        alone = np.asarray(models["shamnet_alone"].predict(truth))
        err = frac * np.abs(value) + 0.01 * np.median(np.abs(value))
        fisher = (jac / err[:, None] ** 2).T @ jac
        cov = np.linalg.inv(fisher)
        shift = cov @ (jac.T @ ((alone - value) / err**2))
        shifts.append(shift / np.sqrt(np.diag(cov)))
    shifts = np.abs(np.array(shifts))
    record["network_alone_shift_over_sd_median"] = dict(zip(DEFAULT_SHAM_PARAMS._fields, np.median(shifts, 0).tolist()))
    record["network_alone_shift_over_sd_max"] = dict(zip(DEFAULT_SHAM_PARAMS._fields, shifts.max(0).tolist()))
    record["network_alone_shift_over_sd_at_default"] = dict(zip(DEFAULT_SHAM_PARAMS._fields, shifts[0].tolist()))
    theta = jnp.asarray(DEFAULT_SHAM_PARAMS)
    for smhm, m in models.items():
        g = jax.jit(jax.value_and_grad(lambda t, m=m: jnp.sum(m.kernel(t, m.tables)[0] ** 2)))
        record[f"grad_ms_{smhm}"] = 1e3 * median_time(g, theta, n_repeat=21)
    record["n_data"] = int(data.size)
    print_json_line(record)


if __name__ == "__main__":
    main()
