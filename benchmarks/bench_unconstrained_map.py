"""Issue 12: the samplers' unconstrained map, soft clip against NumPyro's logistic
sigmoid, in one process on one posterior.

BlackJAX NUTS (the spec's sampler settings: dense mass matrix, target_accept 0.95) on
the same forward model and data with each map, for each seed: the minimum ESS bulk per
gradient evaluation (independent of the machine's load, unlike ESS per second), the
adapted step size and the divergences.

Usage: python benchmarks/bench_unconstrained_map.py [--spec likelihoods/mock_default.toml]
       [--seeds 0,1] [--chains 4] [--warmup 300] [--samples 500]
Last line: one JSON record.
"""
import argparse
import dataclasses
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, print_json_line  # noqa: E402
from bench_samplers import _diagnostics  # noqa: E402

from diffsham.infer import build_posterior, read_spec  # noqa: E402
from diffsham.infer.posterior import Posterior  # noqa: E402
from diffsham.infer.samplers import run_sampler  # noqa: E402

MAPS = {"sigmoid": False, "soft clip": True}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default="likelihoods/mock_default.toml")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args(argv)
    spec = read_spec(args.spec)
    base = build_posterior(spec)
    rows = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        sampler = dataclasses.replace(spec.sampler, method="nuts", chains=args.chains, warmup=args.warmup,
                                      samples=args.samples, seed=seed)
        for name, soft in MAPS.items():
            posterior = Posterior(spec, base.model, base.data, soft_clip=soft)
            result = run_sampler(posterior, sampler, progress=False)
            r = dict(_diagnostics(result), step_size=float(np.ravel(result.sample_stats["step_size"])[0]))
            rows[f"{name}, seed {seed}"] = r
            print(f"{name:9s} seed {seed}: step size {r['step_size']:.3f}  min ESS {r['min_ess_bulk']:6.0f} "
                  f"({r['worst']})  ESS/grad {r['ess_per_grad']:.4f}  R-hat {r['max_r_hat']:.4f}  "
                  f"div {r['divergences']}", flush=True)
    for seed in args.seeds.split(","):
        ratio = rows[f"soft clip, seed {seed}"]["ess_per_grad"] / rows[f"sigmoid, seed {seed}"]["ess_per_grad"]
        print(f"seed {seed}: soft clip / sigmoid ESS per gradient = {ratio:.2f}")
    print_json_line(dict(bench="unconstrained_map", spec=args.spec, target_accept=spec.sampler.target_accept,
                         chains=args.chains, warmup=args.warmup, samples=args.samples, runs=rows, machine=machine()))


if __name__ == "__main__":
    main()
