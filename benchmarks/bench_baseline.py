"""Exact gradients against the conventional way, in one process, on one posterior.

The posterior: the default mock (``likelihoods/mock_default.toml``) with the SMHM of
``--smhm``: SHAMNet alone by default (the paper's method; the spec's refined SHAMNet is
~4x slower a gradient, 7.1 ms against 1.8 ms in bench_stats.py, and ``--smhm shamnet``
measures it). Both sides use that one SMHM:
the baseline differs only in estimating the statistics by Monte Carlo. The gradient-based
fit: BlackJAX NUTS as the spec sets it, its chains split over ``--nuts-devices`` CPU devices
(default 2: the two cores Corrfunc's ``--nthreads`` threads use on the baseline side) and run
for ``--nuts-samples`` draws a chain. The conventional baseline (``diffsham.baseline``): a
Monte Carlo mock per likelihood call, sampled by emcee, in two variants users run, each
for the same wall-time budget:

* ``fresh``: new random draws every call (a noisy likelihood);
* ``crn``: the same draws every call (common random numbers: smooth-looking, biased).

Walkers start in a ball of one posterior sd around the exact posterior's mean (the
baseline's best case).
``diffsham.baseline.run_emcee`` says how tau and the ESS are estimated, and when they are
bounds: where the chain is shorter than 50 tau the ESS printed is an upper bound, and the
ratio NUTS / baseline a lower bound.

    python -u benchmarks/bench_baseline.py [--budget-s 1200] [--walkers 32] [--smhm shamnet_alone]
        [--nuts-devices 2] [--nuts-samples 2000]
    python benchmarks/bench_baseline.py --plot-from LOG   # the figure again, from a run's JSON line

The figure (``benchmarks/figures/baseline_posteriors.png``): each parameter's mean and 68%
interval from NUTS and from both baseline variants, in units of the exact posterior's sd
around its mean.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, print_json_line  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "likelihoods", "mock_default.toml")
FIGURE = os.path.join(HERE, "figures", "baseline_posteriors.png")


def plot_record(record, path=FIGURE):
    """Means and 68% intervals of NUTS and the baseline, in exact-posterior sd from NUTS's mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = record["parameters"]
    nuts = record["nuts"]
    centre = np.array(nuts["mean"])
    # the sd itself where the record has it, else half the 68% interval
    sd = np.array(nuts["sd"]) if "sd" in nuts else (np.array(nuts["q84"]) - np.array(nuts["q16"])) / 2.0
    rows = [("NUTS (exact gradients)", nuts, "C0")] + [
        (f"emcee, {label}", record[key], color) for key, label, color in
        (("fresh", "fresh draws", "C3"), ("crn", "common random numbers", "C1")) if key in record]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.7 * len(names)))
    for k, (label, r, color) in enumerate(rows):
        y = np.arange(len(names)) + 0.22 * (k - 1)
        m, lo, hi = ((np.array(r[q]) - centre) / sd for q in ("mean", "q16", "q84"))
        ax.errorbar(m, y, xerr=[m - lo, hi - m], fmt="o", color=color, label=label, capsize=2)
    truth = (np.array(record["truth"]) - centre) / sd
    ax.plot(truth, np.arange(len(names)), "k|", ms=14, label="truth of the mock")
    ax.set_yticks(np.arange(len(names)), names)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("(value - exact posterior mean) / exact posterior sd")
    ax.set_title(f"{record['budget_s']:.0f} s per baseline variant, {record['walkers']} walkers", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget-s", type=float, default=1200.0, help="wall time of each emcee variant")
    ap.add_argument("--smhm", choices=("shamnet_alone", "shamnet"), default="shamnet_alone")
    ap.add_argument("--walkers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nuts-devices", type=int, default=2, help="CPU devices NUTS's chains are split over")
    ap.add_argument("--nuts-samples", type=int, default=2000,
                    help="draws a chain: the run's fixed costs (MAP, compilation, plots) weigh less in a longer run")
    ap.add_argument("--nthreads", type=int, default=os.cpu_count() or 1, help="Corrfunc threads")
    ap.add_argument("--plot-from", metavar="LOG", help="only remake the figure from a run's printed JSON line")
    args = ap.parse_args()
    if args.plot_from:
        with open(args.plot_from) as f:
            record = [json.loads(line) for line in f if line.startswith('{"')][-1]
        print(f"wrote {plot_record(record)}")
        return

    from diffsham.infer.devices import request_cpu_devices

    request_cpu_devices(args.nuts_devices)  # before JAX starts its backend
    from diffsham.baseline import MonteCarloLikelihood, run_emcee
    from diffsham.infer import build_posterior, fit, read_spec
    from diffsham.infer.posterior import load_spec_catalog

    spec = read_spec(SPEC)
    spec = dataclasses.replace(spec, model=spec.model.replace(smhm=args.smhm))
    cat = load_spec_catalog(spec, progress=False)
    posterior = build_posterior(spec, progress=False, catalog=cat)
    names = list(posterior.free)
    truth = np.array([spec.truth[n] for n in names])

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        _, rows, run, _ = fit(spec, out=out, progress=False, posterior=posterior,
                              overrides=dict(devices=args.nuts_devices, samples=args.nuts_samples))
    nuts_wall = time.perf_counter() - t0
    exact = {r["parameter"]: r for r in rows}
    sd = np.array([exact[n]["sd"] for n in names])
    centre = np.array([exact[n]["mean"] for n in names])
    whole_run_ess_per_s = run["min_ess_bulk"] / nuts_wall  # warmup and compilation included
    record = dict(benchmark="baseline", machine=machine(), spec=os.path.basename(SPEC), smhm=args.smhm,
                  budget_s=args.budget_s, nuts_devices=args.nuts_devices, nuts_samples=args.nuts_samples,
                  walkers=args.walkers, parameters=names, truth=truth.tolist(),
                  nuts=dict(min_ess=run["min_ess_bulk"], min_ess_per_s=run["ess_per_second"],
                            whole_run_ess_per_s=whole_run_ess_per_s, sampling_s=run["sampling_seconds"],
                            warmup_s=run["warmup_seconds"], wall_s=nuts_wall,
                            gradients=run["n_grad_sampling"] + run["n_grad_warmup"], divergences=run["divergences"],
                            mean=[exact[n]["mean"] for n in names], q16=[exact[n]["q16"] for n in names],
                            q84=[exact[n]["q84"] for n in names], sd=sd.tolist()))
    print(f"NUTS: min ESS {run['min_ess_bulk']:.0f} in {run['sampling_seconds']:.1f} s of sampling: "
          f"{run['ess_per_second']:.2f} ESS/s; {whole_run_ess_per_s:.2f} ESS/s over the {nuts_wall:.0f} s of the whole run "
          f"(warmup and compilation included); {run['divergences']} divergences", flush=True)
    noise_like = MonteCarloLikelihood(posterior, cat, seed=args.seed + 1, nthreads=args.nthreads)
    t0 = time.perf_counter()
    lps = np.array([noise_like(centre) for _ in range(20)])
    record["monte_carlo_log_posterior"] = dict(sd=float(lps.std(ddof=1)), seconds_per_call=(time.perf_counter() - t0) / 20)
    print(f"Monte Carlo log posterior at the exact mean, 20 calls: sd {lps.std(ddof=1):.3g}, "
          f"{record['monte_carlo_log_posterior']['seconds_per_call']:.3f} s a call", flush=True)
    for variant in ("fresh", "crn"):
        like = MonteCarloLikelihood(posterior, cat, seed=args.seed, common_random_numbers=variant == "crn",
                                    nthreads=args.nthreads)
        em = run_emcee(like, centre, sd, budget_s=args.budget_s, n_walkers=args.walkers, seed=args.seed)
        mean, q16, q84 = em.summary()
        res = dict(steps=em.steps, calls=em.calls, wall_s=em.wall_s, tau=em.tau.tolist(), reliable=em.reliable,
                   frozen_walkers=em.frozen_walkers,
                   min_ess=em.min_ess, min_ess_per_s=em.min_ess_per_s, acceptance=em.acceptance,
                   mean=mean.tolist(), q16=q16.tolist(), q84=q84.tolist())
        res["nuts_over_baseline_ess_per_s"] = run["ess_per_second"] / max(res["min_ess_per_s"], 1e-300)
        res["whole_run_nuts_over_baseline"] = whole_run_ess_per_s / max(res["min_ess_per_s"], 1e-300)
        res["mean_offset_in_exact_sd"] = ((mean - centre) / sd).tolist()
        record[variant] = res
        bound = "" if res["reliable"] else " (upper bound: chain < 50 tau)"
        print(f"emcee {variant}: {res['calls']} calls, {res['steps']} steps in {res['wall_s']:.0f} s, acceptance "
              f"{res['acceptance']:.3f}, {res['frozen_walkers']} walkers frozen in the kept half, "
              f"tau {np.round(res['tau'], 1).tolist()}, min ESS {res['min_ess']:.1f}, "
              f"{res['min_ess_per_s']:.2e} ESS/s{bound}; NUTS / baseline = "
              f"{res['nuts_over_baseline_ess_per_s']:.3g} (whole NUTS run: {res['whole_run_nuts_over_baseline']:.3g})"
              f"{' (lower bounds)' if not res['reliable'] else ''}", flush=True)
        for i, n in enumerate(names):
            print(f"  {n:>7}: truth {truth[i]:.4f}; NUTS {exact[n]['mean']:.4f} [{exact[n]['q16']:.4f}, "
                  f"{exact[n]['q84']:.4f}]; emcee {res['mean'][i]:.4f} [{res['q16'][i]:.4f}, {res['q84'][i]:.4f}] "
                  f"({res['mean_offset_in_exact_sd'][i]:+.2f} exact sd)")
    print_json_line(record)
    print(f"wrote {plot_record(record)}")


if __name__ == "__main__":
    main()
