"""Statistics: the exact per-halo path and the tabulated fast path against a conventional peer.

On synthetic catalogs in a 250 Mpc/h box (10^5 and 10^6 objects), 15 log rp bins
0.1-30 Mpc/h, pi_max 40, three stellar-mass bins:

* exact path: wp value, and value plus gradient of a scalar (reverse mode through the
  pair counts), for both pair-count backends, against the peer run in this process on
  the same points: Corrfunc's weighted DDrppi if it is importable (all cores),
  otherwise halotools' (unweighted) wp (one process). The numba backend is timed with
  the peer's number of threads and with all cores; the JAX backend with all cores. All
  run on uniform random points of the catalog's size (as DESIGN.md's reference figures);
* fast path: the full data vector (SMF, wp, DeltaSigma) plus its Jacobian in all five
  parameters, and the ratio to the conventional gradient (1 + 2 x 5 peer counts), with
  SHAMNet refined (the default) and with the network alone;
* tabulation time and peak memory (resident set) for each catalog.

Usage: python benchmarks/bench_stats.py [--sizes 1e5 1e6] [--exact-max 1e5] [--peer-max 1e5]
                                       [--jax-exact-max 1e5]
Last line: one JSON record of the figures.
"""
import argparse
import os
import resource
import sys
import time

import jax
import numba
import numpy as np
from jax import numpy as jnp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, median_time, print_json_line  # noqa: E402

from diffsham.catalog import SyntheticConfig, load_synthetic_catalog  # noqa: E402
from diffsham.model import make_forward_model  # noqa: E402
from diffsham.sham.params import DEFAULT_SHAM_PARAMS  # noqa: E402
from diffsham.sham.scatter import scatter_sigma  # noqa: E402
from diffsham.stats.tabulate import tabulate  # noqa: E402
from diffsham.stats.weights import bin_weights  # noqa: E402
from diffsham.stats.wprp import wp_exact, wp_setup  # noqa: E402

RP_EDGES = np.logspace(-1, np.log10(30.0), 16)
PI_MAX = 40.0
SM_BINS = np.array([[9.8, 10.3], [10.3, 10.8], [10.8, 11.3]])
SMF_BINS = np.stack([np.linspace(9.8, 11.5, 18), np.linspace(9.9, 11.6, 18)], axis=1)
# log Mpeak cuts giving ~1e5 and ~1e6 objects in (250 Mpc/h)^3
LOGM_MIN = {100_000: 11.9, 1_000_000: 11.0}


def peer_count(pos, weights):
    """One conventional weighted pair count; returns (name, seconds, threads)."""
    threads = os.cpu_count()
    try:
        from Corrfunc.theory.DDrppi import DDrppi

        t0 = time.perf_counter()
        DDrppi(1, threads, PI_MAX, RP_EDGES, *pos.T, weights1=weights, periodic=True, boxsize=250.0,
               weight_type="pair_product")
        return "Corrfunc DDrppi (weighted)", time.perf_counter() - t0, threads
    except ImportError:
        from halotools.mock_observables import wp

        t0 = time.perf_counter()
        # one process: halotools' multiprocessing pool forks, which JAX's threads do not survive
        wp(pos, RP_EDGES, PI_MAX, period=250.0, num_threads=1)
        return "halotools wp (unweighted; Corrfunc not installed)", time.perf_counter() - t0, 1


def time_exact(pos, lbox, w, backend):
    """Median seconds of the exact wp value and of value plus gradient, one backend."""
    setup = wp_setup(pos, lbox, RP_EDGES, PI_MAX, backend=backend)
    wj = jnp.asarray(w)
    value = jax.jit(lambda w: wp_exact(w, setup))
    vg = jax.jit(jax.value_and_grad(lambda w: jnp.sum(wp_exact(w, setup))))
    n_repeat = 3 if backend == "numba" else 1
    return median_time(value, wj, n_repeat=n_repeat), median_time(vg, wj, n_repeat=n_repeat)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6])
    p.add_argument("--exact-max", type=float, default=1e5, help="largest catalog for the exact path")
    p.add_argument("--peer-max", type=float, default=1e5, help="largest catalog for the peer count")
    p.add_argument("--jax-exact-max", type=float, default=1e5, help="largest catalog for the JAX exact path")
    args = p.parse_args()
    record = dict(machine=machine(), benchmark="stats")
    theta = jnp.asarray(DEFAULT_SHAM_PARAMS)
    for size in (int(s) for s in args.sizes):
        config = SyntheticConfig(lbox=250.0, logmpeak_min=LOGM_MIN.get(size, 11.0))
        cat = load_synthetic_catalog(config, progress=False)
        tag = f"n{cat.n_halos:.0e}".replace("+0", "")
        print(f"catalog {cat.n_halos} objects", flush=True)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        t0 = time.perf_counter()
        tab = tabulate(cat, RP_EDGES, PI_MAX, progress=False)
        record[f"tabulation_s_{tag}"] = time.perf_counter() - t0
        record[f"tabulation_peak_rss_gb_{tag}"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        record[f"rss_before_tabulation_gb_{tag}"] = rss0
        # SHAMNet refined (the default: exact SHAM) and the network alone
        for prefix, smhm in (("fast", "shamnet"), ("fast_network_alone", "shamnet_alone")):
            model = make_forward_model(cat, SMF_BINS, SM_BINS, SM_BINS, rp_edges=RP_EDGES, pi_max=PI_MAX,
                                       tabulation=tab, progress=False, smhm=smhm)
            record[f"{prefix}_value_s_{tag}"] = median_time(model.predict, theta, n_repeat=21)
            record[f"{prefix}_value_and_jacobian_s_{tag}"] = median_time(model.jacobian, theta, n_repeat=21)
            grad = jax.jit(jax.value_and_grad(lambda t: jnp.sum(model.predict(t))))
            record[f"{prefix}_value_and_grad_s_{tag}"] = median_time(grad, theta, n_repeat=21)
        record[f"n_data_{tag}"] = int(model.predict(theta).shape[0])

        mu = jnp.asarray(np.interp(cat.logmpeak, *_smhm()))
        p = DEFAULT_SHAM_PARAMS
        w = np.asarray(bin_weights(mu, scatter_sigma(jnp.asarray(cat.logmpeak), p.s_lo, p.s_hi),
                                   jnp.asarray(SM_BINS)))
        # the exact path and its peer on uniform random points (as DESIGN.md's reference
        # figures): the padded cell lists of the JAX counter pay for clustering
        pos = np.random.default_rng(0).random((cat.n_halos, 3)) * cat.lbox
        if cat.n_halos <= args.peer_max * 1.2:
            peer_name, peer_s, peer_threads = peer_count(pos, w[:, 1].copy())
            record["peer"] = peer_name
            record[f"peer_count_s_{tag}"] = peer_s
            record[f"conventional_gradient_s_{tag}"] = 11 * peer_s
            for prefix in ("fast", "fast_network_alone"):
                record[f"{prefix}_jacobian_speedup_vs_conventional_{tag}"] = (
                    11 * peer_s / record[f"{prefix}_value_and_jacobian_s_{tag}"])
        if cat.n_halos <= min(args.exact_max, args.peer_max) * 1.2:
            all_threads = numba.get_num_threads()
            for threads in sorted({peer_threads, all_threads}):
                numba.set_num_threads(threads)
                v, vg = time_exact(pos, cat.lbox, w, "numba")
                record[f"exact_numba_{threads}threads_wp_value_s_{tag}"] = v
                record[f"exact_numba_{threads}threads_wp_value_and_grad_s_{tag}"] = vg
                if threads == peer_threads:
                    record[f"exact_numba_value_and_grad_over_peer_{tag}"] = vg / peer_s
            numba.set_num_threads(all_threads)
            if cat.n_halos <= args.jax_exact_max * 1.2:
                v, vg = time_exact(pos, cat.lbox, w, "jax")
                record[f"exact_jax_wp_value_s_{tag}"] = v
                record[f"exact_jax_wp_value_and_grad_s_{tag}"] = vg
                record[f"exact_jax_value_and_grad_over_peer_{tag}"] = vg / peer_s
        for k in sorted(kk for kk in record if kk.endswith(tag)):
            print(f"  {k}: {record[k]:.4g}" if isinstance(record[k], float) else f"  {k}: {record[k]}", flush=True)
    print_json_line(record)


def _smhm():
    from diffsham.sham.solver import solve_sham

    sol = solve_sham(DEFAULT_SHAM_PARAMS)
    return np.asarray(sol.logmh), np.asarray(sol.mean_log_sm)


if __name__ == "__main__":
    main()
