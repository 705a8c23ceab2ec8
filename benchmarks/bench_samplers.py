"""Issue 12: every sampler on one posterior, in one process: speed and efficiency.

For each sampler (BlackJAX NUTS with a dense and with a diagonal mass matrix, BlackJAX
HMC, Pathfinder-initialised BlackJAX NUTS, NumPyro NUTS): wall time of warmup and of
sampling (compilation apart, where the sampler allows), gradient evaluations, the
minimum ESS bulk over the parameters per second of sampling and per gradient, the
largest R-hat, divergences. Goal (issue 12): a minimum ESS bulk of 1000 for every
parameter within 60 s of sampling wall time after compilation.

Also: the cost of one log-density gradient, and how a vmapped batch of 1, 4 and 16
chains scales (per-chain cost of a batched gradient).

Usage: python benchmarks/bench_samplers.py [--spec likelihoods/mock_default.toml]
       [--samplers nuts,nuts-diag,hmc,pathfinder-nuts,numpyro-nuts] [--chains 4]
       [--warmup 300] [--samples 500]
Last line: one JSON record.
"""
import argparse
import dataclasses
import sys
import time

import jax
import numpy as np
from jax import numpy as jnp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, median_time, print_json_line  # noqa: E402

from diffsham.infer import build_posterior, read_spec  # noqa: E402
from diffsham.infer.samplers import run_sampler  # noqa: E402

SAMPLERS = {
    "nuts": dict(method="nuts", dense_mass=True),
    "nuts-diag": dict(method="nuts", dense_mass=False),
    "hmc": dict(method="hmc", dense_mass=True),
    "pathfinder-nuts": dict(method="pathfinder-nuts", dense_mass=True),
    "numpyro-nuts": dict(method="numpyro-nuts", dense_mass=True),
}


def _diagnostics(result):
    import arviz as az

    ds = az.convert_to_dataset({k: np.asarray(v) for k, v in result.posterior.items()})
    ess = az.ess(ds, method="bulk")
    rhat = az.rhat(ds)
    names = list(result.posterior)
    min_ess = min(float(ess[n]) for n in names)
    return dict(min_ess_bulk=min_ess, worst=min(names, key=lambda n: float(ess[n])),
                max_r_hat=max(float(rhat[n]) for n in names),
                divergences=int(np.sum(result.sample_stats["diverging"])),
                warmup_s=result.warmup_seconds, sampling_s=result.sampling_seconds,
                compile_s=result.compile_seconds, n_grad_warmup=result.n_grad_warmup,
                n_grad_sampling=result.n_grad_sampling, ess_per_s=min_ess / result.sampling_seconds,
                ess_per_grad=min_ess / max(result.n_grad_sampling, 1),
                seconds_to_1000_ess=1000.0 / (min_ess / result.sampling_seconds))


def _gradient_costs(posterior, batches):
    potential = posterior.potential
    truth = {n: jnp.asarray(posterior.spec.truth.get(n, posterior.fixed.get(n))) for n in posterior.free}
    u = posterior.to_unconstrained(truth)
    one = jax.jit(jax.value_and_grad(potential))
    costs = dict(single_ms=1e3 * median_time(one, u))
    batched = jax.jit(jax.vmap(jax.value_and_grad(potential)))
    for b in batches:
        ub = {k: jnp.broadcast_to(v, (b,)) for k, v in u.items()}
        costs[f"batch_{b}_ms_per_chain"] = 1e3 * median_time(batched, ub) / b
    return costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default="likelihoods/mock_default.toml")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", default="1,4,16")
    args = parser.parse_args(argv)
    names = args.samplers.split(",")
    unknown = sorted(set(names) - set(SAMPLERS))
    if unknown:
        parser.error(f"unknown samplers {unknown}; known: {sorted(SAMPLERS)}")

    spec = read_spec(args.spec)
    posterior = build_posterior(spec)
    costs = _gradient_costs(posterior, [int(b) for b in args.batches.split(",")])
    print(f"one log-density value+grad: {costs['single_ms']:.2f} ms; vmapped, per chain: "
          + ", ".join(f"{k.split('_')[1]} chains {v:.2f} ms" for k, v in costs.items() if k.startswith("batch")))
    rows = {}
    for name in names:
        sampler = dataclasses.replace(spec.sampler, chains=args.chains, warmup=args.warmup, samples=args.samples,
                                      seed=args.seed, **SAMPLERS[name])
        t0 = time.perf_counter()
        result = run_sampler(posterior, sampler, progress=False)
        rows[name] = dict(_diagnostics(result), total_s=time.perf_counter() - t0)
        r = rows[name]
        print(f"{name:16s} warmup {r['warmup_s']:7.1f} s  sampling {r['sampling_s']:7.1f} s  compile "
              f"{r['compile_s']:5.1f} s  grads {r['n_grad_sampling']:7d}  min ESS {r['min_ess_bulk']:7.0f} "
              f"({r['worst']})  ESS/s {r['ess_per_s']:6.2f}  ESS/grad {r['ess_per_grad']:.4f}  R-hat "
              f"{r['max_r_hat']:.4f}  div {r['divergences']}  1000 ESS in {r['seconds_to_1000_ess']:.0f} s",
              flush=True)
    best = max(rows, key=lambda n: rows[n]["ess_per_s"])
    print(f"best ESS per second: {best}; the 60-s goal for 1000 ESS: "
          f"{'met' if rows[best]['seconds_to_1000_ess'] <= 60 else 'missed'} "
          f"({rows[best]['seconds_to_1000_ess']:.0f} s)")
    print_json_line(dict(bench="samplers", spec=args.spec, chains=args.chains, warmup=args.warmup,
                         samples=args.samples, gradient=costs, samplers=rows, best=best, machine=machine()))


if __name__ == "__main__":
    main()
