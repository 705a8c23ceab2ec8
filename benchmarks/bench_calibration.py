"""Issue 12: are the posteriors calibrated? Coverage and simulation-based calibration.

For each of N realisations a truth is drawn from the spec's priors and a data vector
from the spec's covariance around the exact prediction at that truth. Every realisation
is then fitted by BlackJAX NUTS (dense mass matrix, Stan's windowed warmup, the chains of
a realisation pooling their tuning, started around its MAP). The data vector is an
argument of the log density, so one compiled kernel serves every realisation.

Reported per parameter:

* the fraction of truths inside the central 68% and 95% intervals, against nominal in
  units of the binomial sigma sqrt(p (1 - p) / N) (target: within 2);
* the rank of each truth among L = 99 thinned posterior draws (Talts et al. 2018), its
  histogram in 10 bins and a chi^2 uniformity test (p-value);
* divergences, and R-hat where more than one chain runs per realisation.

The default posterior is the default mock's (likelihoods/mock_default.toml) with
SHAMNet alone (``--smhm shamnet_alone``, ~4x cheaper gradients): calibration tests the
sampler and the likelihood, which do not depend on the SMHM backend.

Usage: python benchmarks/bench_calibration.py [--n-real 100] [--chains 1] [--warmup 300]
       [--samples 300] [--out out/bench_calibration]
Writes calibration.json and calibration_ranks.png into --out; last line: one JSON record.
An interrupted run, started again with the same arguments, resumes after the last
realisation it finished (progress.npz in --out); the seconds reported are this process's.
"""
import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import numpy as np
from jax import numpy as jnp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, print_json_line  # noqa: E402

from diffsham.cache import atomic_tmp_path  # noqa: E402
from diffsham.infer import build_posterior, read_spec  # noqa: E402
from diffsham.infer.adaptation import FROZEN, build_adaptive_kernel, scan_chunk, warmup_schedule  # noqa: E402

N_RANK_DRAWS = 99
N_RANK_BINS = 10


def _starts(posterior, obs, chains, key, n_adam=400):
    """Each realisation's MAP (optax Adam, vmapped over realisations), and chains
    dispersed around it by the Laplace covariance of the spec's own data vector, which is
    also every realisation's initial inverse mass matrix (as ``diffsham fit`` starts)."""
    import dataclasses

    import optax
    from jax.flatten_util import ravel_pytree

    from diffsham.infer.samplers import initial_positions

    k_laplace, k_disp = jax.random.split(key)
    sampler = dataclasses.replace(posterior.spec.sampler, chains=1)
    _, cov = initial_positions(posterior, sampler, k_laplace, posterior.potential)
    centre = posterior.to_unconstrained(posterior.draw_prior(k_laplace, 256))
    x0, unravel = ravel_pytree({k: jnp.median(v) for k, v in centre.items()})
    grad = jax.jit(jax.vmap(jax.grad(lambda x, o: posterior.potential(unravel(x), o))))
    opt = optax.adam(0.05)
    x = jnp.broadcast_to(x0, (obs.shape[0], x0.size))
    state = opt.init(x)
    for _ in range(n_adam):
        updates, state = opt.update(grad(x, obs), state)
        x = optax.apply_updates(x, updates)
    z = jax.random.normal(k_disp, (obs.shape[0], chains, x0.size))
    start = x[:, None, :] + 1.5 * z @ jnp.asarray(np.linalg.cholesky(cov)).T
    return jax.vmap(jax.vmap(unravel))(start), jnp.asarray(cov)


def _run_all(posterior, obs, u0, imm0, *, warmup, samples, max_tree_depth, key, progress_path, tag, chunk=50):
    """Warmup and sampling of every realisation, one after another through one compiled
    chunk (the data vector is its argument). Not one vmapped batch: a vmapped NUTS step
    costs the longest tree in the batch, and with 100 truths across the prior some
    realisation always has a long one.

    After each realisation its draws go to ``progress_path`` (npz, written atomically);
    a rerun with the same settings (``tag``) starts after the last one saved, and gives
    the same numbers (realisation r's keys are ``fold_in(key, r)``).

    ``obs``: (R, n) data vectors; ``u0``: dict of (R, C) unconstrained starts; the chains
    of one realisation share their tuning (pooled adaptation), as in ``diffsham fit``.
    Returns (draws dict of (R, C, samples), divergences (R, C, samples), gradients, step sizes (R, )).
    """
    import blackjax
    from tqdm.auto import tqdm

    def logdensity(u, data):
        return -posterior.potential(u, data)

    init, step, finalize = build_adaptive_kernel(blackjax.nuts, logdensity, dense_mass=True,
                                                 target_accept=posterior.spec.sampler.target_accept,
                                                 max_num_doublings=max_tree_depth)
    n_real, chains = next(iter(u0.values())).shape
    init = jax.jit(init)
    run = scan_chunk(step, chains)
    finalize = jax.jit(finalize)
    schedule = warmup_schedule(warmup)
    frozen = np.tile(np.array([FROZEN, 0], dtype=np.int32), (chunk, 1))
    draws, diverging, step_sizes, n_grad = [], [], [], 0
    if os.path.isfile(progress_path):
        with np.load(progress_path) as saved:
            if str(saved["tag"]) == tag:
                n_done = int(saved["n_done"])
                draws = [{k[2:]: saved[k][i] for k in saved.files if k.startswith("u_")} for i in range(n_done)]
                diverging, step_sizes = list(saved["diverging"]), list(saved["step_size"])
                n_grad = int(saved["n_grad"])
                print(f"resuming after {n_done} realisations saved in {progress_path}")
    for r in tqdm(range(len(draws), n_real), desc=f"{n_real} realisations x {chains} chains"):
        k_warm, k_sample = jax.random.split(jax.random.fold_in(key, r))
        states = init({k: v[r] for k, v in u0.items()}, imm0, obs[r])
        for i in range(0, warmup, chunk):
            states, out = run(states, k_warm, i, jnp.asarray(schedule[i:i + chunk]), obs[r])
            n_grad += int(np.sum(out["n_steps"]))
        states = finalize(states)
        pos, div = [], []
        for i in range(0, samples, chunk):
            m = min(chunk, samples - i)
            states, out = run(states, k_sample, i, jnp.asarray(frozen[:m]), obs[r])
            pos.append(jax.tree_util.tree_map(np.asarray, out["position"]))
            div.append(np.asarray(out["diverging"]))
            n_grad += int(np.sum(out["n_steps"]))
        draws.append({k: np.concatenate([p[k] for p in pos], axis=0).T for k in pos[0]})  # (C, samples)
        diverging.append(np.concatenate(div, axis=0).T)
        step_sizes.append(float(states.step_size))
        tmp = atomic_tmp_path(progress_path)
        with open(tmp, "wb") as f:
            np.savez(f, tag=tag, n_done=len(draws), n_grad=n_grad, diverging=np.stack(diverging),
                     step_size=np.asarray(step_sizes), **{f"u_{k}": np.stack([d[k] for d in draws]) for k in draws[0]})
        os.replace(tmp, progress_path)
    u = {k: np.stack([d[k] for d in draws]) for k in draws[0]}
    return u, np.stack(diverging), n_grad, np.asarray(step_sizes)


def _rank_uniformity(ranks):
    """Histogram of ranks in N_RANK_BINS bins and the chi^2 p-value of uniformity."""
    from scipy import stats

    counts = np.bincount(ranks * N_RANK_BINS // (N_RANK_DRAWS + 1), minlength=N_RANK_BINS)
    expected = ranks.size / N_RANK_BINS
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    return counts, chi2, float(stats.chi2.sf(chi2, N_RANK_BINS - 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default="likelihoods/mock_default.toml")
    parser.add_argument("--smhm", default="shamnet_alone", help="model.smhm for the fits (default: %(default)s)")
    parser.add_argument("--n-real", type=int, default=100)
    parser.add_argument("--chains", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--max-tree-depth", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/bench_calibration")
    args = parser.parse_args(argv)
    if args.chains * args.samples < N_RANK_DRAWS:
        parser.error(f"chains x samples must be at least {N_RANK_DRAWS}")

    spec = read_spec(args.spec)
    spec = dataclasses.replace(spec, model=spec.model.replace(smhm=args.smhm))
    posterior = build_posterior(spec)
    free = posterior.free
    key = jax.random.PRNGKey(args.seed)
    k_truth, k_init, k_run = jax.random.split(key, 3)
    truths = {k: np.asarray(v) for k, v in posterior.draw_prior(k_truth, args.n_real).items()}
    prediction, info = jax.jit(jax.vmap(posterior.predict))(posterior.theta({k: jnp.asarray(v) for k, v in truths.items()}))
    if not bool(np.all(np.asarray(info.ok))):
        raise RuntimeError("the exact prediction failed at some drawn truths")
    chol = np.linalg.cholesky(posterior.data.covariance)
    rng = np.random.default_rng(args.seed)
    data = np.asarray(prediction) + rng.standard_normal(prediction.shape) @ chol.T
    obs = jnp.asarray(data)
    t0 = time.perf_counter()
    u0, imm0 = _starts(posterior, obs, args.chains, k_init)
    os.makedirs(args.out, exist_ok=True)
    tag = json.dumps(dict({k: v for k, v in vars(args).items() if k != "out"}, spec=spec.digest()), sort_keys=True)
    u, diverging, n_grad, step_size = _run_all(posterior, obs, u0, imm0, warmup=args.warmup, samples=args.samples,
                                                 max_tree_depth=args.max_tree_depth, key=k_run,
                                                 progress_path=os.path.join(args.out, "progress.npz"), tag=tag)
    seconds = time.perf_counter() - t0
    draws = {k: np.asarray(v) for k, v in posterior.from_unconstrained({k: jnp.asarray(v) for k, v in u.items()}).items()}

    import arviz as az

    keep = np.linspace(0, args.chains * args.samples - 1, N_RANK_DRAWS).round().astype(int)
    records = {}
    print(f"{args.n_real} realisations x {args.chains} chains, {args.warmup} + {args.samples} steps: "
          f"{seconds:.0f} s, {n_grad} gradients, {int(diverging.sum())} divergences")
    print(f"{'parameter':10s} {'in 68%':>8s} {'z':>6s} {'in 95%':>8s} {'z':>6s} {'rank chi2 p':>12s}  histogram")
    for name in free:
        x = draws[name]
        flat = x.reshape(args.n_real, -1)
        lo68, hi68, lo95, hi95 = np.quantile(flat, [0.16, 0.84, 0.025, 0.975], axis=1)
        t = truths[name]
        cover = {}
        for label, lo, hi, p in (("68", lo68, hi68, 0.68), ("95", lo95, hi95, 0.95)):
            frac = float(np.mean((t > lo) & (t < hi)))
            cover[label] = dict(fraction=frac, z=(frac - p) / np.sqrt(p * (1 - p) / args.n_real))
        ranks = np.sum(flat[:, keep] < t[:, None], axis=1)  # among L draws thinned evenly over the chains
        counts, chi2, p_value = _rank_uniformity(ranks)
        r_hat = [float(az.rhat(x[i])) for i in range(args.n_real)] if args.chains > 1 else None
        records[name] = dict(coverage=cover, rank_counts=counts.tolist(), rank_chi2=chi2, rank_p=p_value,
                             max_r_hat=None if r_hat is None else max(r_hat))
        print(f"{name:10s} {cover['68']['fraction']:8.2f} {cover['68']['z']:6.2f} {cover['95']['fraction']:8.2f} "
              f"{cover['95']['z']:6.2f} {p_value:12.3f}  {counts.tolist()}")
    worst = max(abs(r["coverage"][k]["z"]) for r in records.values() for k in ("68", "95"))
    record = dict(bench="calibration", spec=args.spec, smhm=args.smhm, n_real=args.n_real, chains=args.chains,
                  warmup=args.warmup, samples=args.samples, seconds=seconds, n_grad=n_grad,
                  divergences=int(diverging.sum()), min_step_size=float(step_size.min()),
                  worst_coverage_z=worst, min_rank_p=min(r["rank_p"] for r in records.values()),
                  parameters=records, machine=machine())
    print(f"worst coverage deviation {worst:.2f} binomial sigma (target <= 2); smallest rank-uniformity p "
          f"{record['min_rank_p']:.3f}")
    path = os.path.join(args.out, "calibration.json")
    tmp = atomic_tmp_path(path)
    with open(tmp, "w") as f:
        json.dump(dict(record, truths={k: v.tolist() for k, v in truths.items()}), f, indent=1)
    os.replace(tmp, path)
    _plot_ranks(records, os.path.join(args.out, "calibration_ranks.png"), args.n_real)
    print_json_line({k: v for k, v in record.items() if k != "parameters"})


def _plot_ranks(records, path, n_real):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(records), figsize=(3 * len(records), 2.6), sharey=True)
    expected = n_real / N_RANK_BINS
    band = 2 * np.sqrt(expected * (1 - 1 / N_RANK_BINS))
    for ax, (name, r) in zip(np.atleast_1d(axes), records.items()):
        ax.bar(np.arange(N_RANK_BINS), r["rank_counts"], width=1.0, color="0.6", edgecolor="k")
        ax.axhspan(expected - band, expected + band, color="C0", alpha=0.2)
        ax.axhline(expected, color="C0")
        ax.set_title(f"{name} (p={r['rank_p']:.2f})")
        ax.set_xlabel("rank bin")
    np.atleast_1d(axes)[0].set_ylabel("realisations")
    fig.tight_layout()
    tmp = atomic_tmp_path(path)
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
