"""Exact gradients against the conventional way, in one process, on one posterior.

The gradient-based fit: BlackJAX NUTS as the spec sets it (the default mock,
``likelihoods/mock_default.toml``). The conventional baseline (``diffsham.baseline``): a
Monte Carlo mock per likelihood call, sampled by emcee, in two variants users run, each
for the same wall-time budget:

* ``fresh``: new random draws every call (a noisy likelihood);
* ``crn``: the same draws every call (common random numbers: smooth-looking, biased).

Walkers start in a ball of one posterior sd around the truth (the baseline's best case).
emcee's integrated autocorrelation time is estimated with ``tol=0``; where the chain is
shorter than 50 tau that estimate is a lower bound on tau, so the ESS and ESS per second
printed are upper bounds, and say so. Where walkers never moved (no estimate), tau is
the kept length: one sample per walker. The last half of each chain is kept.

    python -u benchmarks/bench_baseline.py [--budget-s 600] [--walkers 32]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, print_json_line  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "likelihoods", "mock_default.toml")


def run_emcee(like, start, sd, budget_s, n_walkers, seed):
    import emcee

    rng = np.random.default_rng(seed)
    ndim = start.size
    p0 = start + sd * rng.standard_normal((n_walkers, ndim))
    p0 = np.array([p if np.isfinite(like.log_prior(p)) else start for p in p0])
    sampler = emcee.EnsembleSampler(n_walkers, ndim, like)
    sampler.random_state = np.random.RandomState(seed)
    t0 = time.perf_counter()
    state = p0
    while time.perf_counter() - t0 < budget_s:
        state = sampler.run_mcmc(state, 1, progress=False)
    wall = time.perf_counter() - t0
    chain = sampler.get_chain()  # (steps, walkers, ndim)
    steps = chain.shape[0]
    kept = chain[steps // 2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.asarray(sampler.get_autocorr_time(tol=0, discard=steps // 2))
    # walkers that never moved have no autocorrelation estimate: count each as one sample
    tau = np.where(np.isfinite(tau), tau, kept.shape[0])
    n_kept = kept.shape[0] * n_walkers
    ess = n_kept / np.maximum(tau, 1.0)
    return dict(steps=steps, calls=like.n_calls, wall_s=wall, tau=tau.tolist(), reliable=bool(kept.shape[0] > 50 * tau.max()),
                min_ess=float(ess.min()), min_ess_per_s=float(ess.min() / wall),
                acceptance=float(np.mean(sampler.acceptance_fraction)),
                mean=kept.reshape(-1, ndim).mean(0).tolist(),
                q16=np.percentile(kept.reshape(-1, ndim), 16, axis=0).tolist(),
                q84=np.percentile(kept.reshape(-1, ndim), 84, axis=0).tolist())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget-s", type=float, default=600.0, help="wall time of each emcee variant")
    ap.add_argument("--walkers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nthreads", type=int, default=os.cpu_count() or 1, help="Corrfunc threads")
    args = ap.parse_args()

    from diffsham.baseline import MonteCarloLikelihood
    from diffsham.infer import build_posterior, fit, read_spec
    from diffsham.infer.posterior import load_spec_catalog

    spec = read_spec(SPEC)
    cat = load_spec_catalog(spec, progress=False)
    posterior = build_posterior(spec, progress=False, catalog=cat)
    names = list(posterior.free)
    truth = np.array([spec.truth[n] for n in names])

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        _, rows, run, _ = fit(spec, out=out, progress=False, posterior=posterior)
    nuts_wall = time.perf_counter() - t0
    exact = {r["parameter"]: r for r in rows}
    sd = np.array([exact[n]["sd"] for n in names])
    record = dict(benchmark="baseline", machine=machine(), spec=os.path.basename(SPEC), budget_s=args.budget_s,
                  walkers=args.walkers, parameters=names, truth=truth.tolist(),
                  nuts=dict(min_ess=run["min_ess_bulk"], min_ess_per_s=run["ess_per_second"],
                            sampling_s=run["sampling_seconds"], warmup_s=run["warmup_seconds"], wall_s=nuts_wall,
                            gradients=run["n_grad_sampling"] + run["n_grad_warmup"], divergences=run["divergences"],
                            mean=[exact[n]["mean"] for n in names], q16=[exact[n]["q16"] for n in names],
                            q84=[exact[n]["q84"] for n in names]))
    print(f"NUTS: min ESS {run['min_ess_bulk']:.0f} in {run['sampling_seconds']:.1f} s of sampling: "
          f"{run['ess_per_second']:.2f} ESS/s ({nuts_wall:.0f} s wall with warmup and compilation)", flush=True)
    for variant in ("fresh", "crn"):
        like = MonteCarloLikelihood(posterior, cat, seed=args.seed, common_random_numbers=variant == "crn",
                                    nthreads=args.nthreads)
        res = run_emcee(like, truth, sd, args.budget_s, args.walkers, args.seed)
        res["nuts_over_baseline_ess_per_s"] = run["ess_per_second"] / max(res["min_ess_per_s"], 1e-300)
        record[variant] = res
        bound = "" if res["reliable"] else " (upper bound: chain < 50 tau)"
        print(f"emcee {variant}: {res['calls']} calls, {res['steps']} steps in {res['wall_s']:.0f} s, acceptance "
              f"{res['acceptance']:.3f}, tau {np.round(res['tau'], 1).tolist()}, min ESS {res['min_ess']:.1f}, "
              f"{res['min_ess_per_s']:.2e} ESS/s{bound}; NUTS / baseline = "
              f"{res['nuts_over_baseline_ess_per_s']:.3g}{' (lower bound)' if not res['reliable'] else ''}", flush=True)
        for i, n in enumerate(names):
            print(f"  {n:>7}: truth {truth[i]:.4f}; NUTS {exact[n]['mean']:.4f} [{exact[n]['q16']:.4f}, "
                  f"{exact[n]['q84']:.4f}]; emcee {res['mean'][i]:.4f} [{res['q16'][i]:.4f}, {res['q84'][i]:.4f}]")
    print_json_line(record)


if __name__ == "__main__":
    main()
