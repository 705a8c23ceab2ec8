"""Samplers on a Posterior: BlackJAX NUTS (window adaptation, dense mass matrix: the
default), BlackJAX HMC, Pathfinder-initialised BlackJAX NUTS, and NumPyro NUTS.

Chains run as a vmapped batch. BlackJAX runs are seeded and resumable:

* warmup is one compiled scan (BlackJAX 1.7.1's window adaptation cannot be driven in
  steps from outside), after which a checkpoint is written;
* sampling runs in chunks of a compiled ``lax.scan``; every ``checkpoint_every`` draws a
  checkpoint (npz, written to a temporary name and renamed, so no half-written file
  exists) holds the chain states, the adapted step size and mass matrix, the PRNG key,
  the step index, every draw so far and a digest of the spec and code version;
* the key of step ``i`` is ``fold_in(key, i)``, so a resumed run equals an
  uninterrupted one bit for bit.

Stall detection stops a run with a message naming the chain and its position: an
adapted step size below ``step_size_floor``, or a chunk whose iterations took more than
``max_seconds_per_iteration`` each (the slowest chain is the one with the most
integration steps).
"""
import os
import time
from typing import NamedTuple

import jax
import numpy as np
from jax import lax
from jax import numpy as jnp

from .. import __version__

__all__ = ("SamplerStalled", "RunResult", "run_sampler", "initial_positions", "CHECKPOINT_NAME")

CHECKPOINT_NAME = "checkpoint.npz"
_STATS = ("lp", "energy", "acceptance_rate", "diverging", "n_steps", "tree_depth")


class SamplerStalled(RuntimeError):
    """A chain stopped making progress (tiny step size, or iterations too slow)."""


class RunResult(NamedTuple):
    """Draws and statistics of a run; arrays of shape (chains, draws, ...).

    Attributes
    ----------
    posterior : dict
        The free parameters, constrained.
    sample_stats : dict
        lp, energy, acceptance_rate, diverging, n_steps, tree_depth, step_size.
    warmup_seconds, sampling_seconds : float
        Wall time after compilation is included (one run of each).
    n_grad_warmup, n_grad_sampling : int
        Gradient evaluations, all chains.
    method : str
    """

    posterior: dict
    sample_stats: dict
    warmup_seconds: float
    sampling_seconds: float
    n_grad_warmup: int
    n_grad_sampling: int
    method: str


def initial_positions(posterior, sampler, key, potential):
    """Unconstrained starting points for every chain, and an initial inverse mass matrix.

    ``init = "prior"``: draws from the priors (no mass matrix: identity). ``init = "map"``:
    the maximum a posteriori point (optax Adam, then Newton steps, in the unconstrained
    space) and its Laplace approximation, whose covariance is the initial dense inverse
    mass matrix; chains start at draws from that Gaussian widened by
    ``1 + init_dispersion`` (overdispersed, so that R-hat means something).

    Returns
    -------
    u : dict of arrays of shape (chains, )
    inverse_mass_matrix : ndarray of shape (d, d) or None
        In the order of ``jax.flatten_util.ravel_pytree`` (sorted names), as BlackJAX uses.
    """
    from jax.flatten_util import ravel_pytree

    k_prior, k_disp = jax.random.split(key)
    u = posterior.to_unconstrained(posterior.draw_prior(k_prior, sampler.chains))
    if sampler.init == "prior":
        return u, None
    import optax

    flat0, unravel = ravel_pytree({n: jnp.mean(v) for n, v in u.items()})

    def f(x):
        return potential(unravel(x))

    opt = optax.adam(0.05)

    @jax.jit
    def adam_steps(x, state):
        def body(carry, _):
            x, state = carry
            g = jax.grad(f)(x)
            updates, state = opt.update(g, state)
            return (optax.apply_updates(x, updates), state), None

        return lax.scan(body, (x, state), None, length=100)[0]

    x, state = flat0, opt.init(flat0)
    for _ in range(3):
        x, state = adam_steps(x, state)
    hess = jax.jit(jax.hessian(f))
    grad = jax.jit(jax.grad(f))
    f_jit = jax.jit(f)
    for _ in range(8):  # Newton from Adam's point: the MAP to high precision in a few steps
        h = np.asarray(hess(x))
        if not np.all(np.isfinite(h)):
            break
        w, v = np.linalg.eigh(0.5 * (h + h.T))
        if w[0] <= 0:
            break
        dx = v @ ((v.T @ np.asarray(grad(x))) / w)
        dx *= min(1.0, 1.0 / np.max(np.abs(dx)))  # at most 1 per coordinate (a sigmoid's width)
        trial = x - jnp.asarray(dx)
        if not np.isfinite(float(f_jit(trial))) or float(f_jit(trial)) > float(f_jit(x)):
            break
        x = trial
    h = np.asarray(hess(x))
    if not np.all(np.isfinite(h)):
        return u, None  # no Laplace approximation here: start from the prior draws
    w, v = np.linalg.eigh(0.5 * (h + h.T))
    if w[-1] <= 0:
        return u, None
    w = np.maximum(w, 1e-6 * w.max())
    cov = (v / w) @ v.T
    z = np.asarray(jax.random.normal(k_disp, (sampler.chains, x.size)))
    start = np.asarray(x) + (1.0 + sampler.init_dispersion) * z @ np.linalg.cholesky(cov).T
    u = jax.vmap(unravel)(jnp.asarray(start))
    return u, cov


def _algorithm(sampler):
    import blackjax

    if sampler.method in ("nuts", "pathfinder-nuts"):
        return blackjax.nuts, dict(max_num_doublings=sampler.max_tree_depth)
    if sampler.method == "hmc":
        return blackjax.hmc, dict(num_integration_steps=sampler.num_integration_steps)
    raise ValueError(f"not a BlackJAX method: {sampler.method!r}")


def _warmup(sampler, logdensity, keys, u0, imm0=None):
    import blackjax

    algorithm, extra = _algorithm(sampler)
    if sampler.method == "pathfinder-nuts":
        adapt = blackjax.pathfinder_adaptation(algorithm, logdensity, target_acceptance_rate=sampler.target_accept,
                                               **extra)
    else:
        if imm0 is not None:
            imm0 = jnp.asarray(imm0 if sampler.dense_mass else np.diag(imm0))
        adapt = blackjax.window_adaptation(algorithm, logdensity, is_mass_matrix_diagonal=not sampler.dense_mass,
                                           initial_inverse_mass_matrix=imm0,
                                           target_acceptance_rate=sampler.target_accept, **extra)
    run = jax.jit(jax.vmap(lambda k, x: adapt.run(k, x, num_steps=sampler.warmup)))
    (states, params), info = run(keys, u0)
    params = {k: params[k] for k in ("step_size", "inverse_mass_matrix")}  # the extras are passed separately
    n_grad = 0
    steps = getattr(getattr(info, "info", None), "num_integration_steps", None)
    if steps is not None:
        n_grad = int(np.sum(np.asarray(steps)))
    return states, params, n_grad


def _chunk_fn(sampler, logdensity):
    algorithm, extra = _algorithm(sampler)

    def one(state, params, key):
        return algorithm(logdensity, **params, **extra).step(key, state)

    step_all = jax.vmap(one)

    def run(states, params, base_key, start, n):
        def body(states, i):
            keys = jax.random.split(jax.random.fold_in(base_key, start + i), sampler.chains)
            states, info = step_all(states, params, keys)
            n_steps = getattr(info, "num_integration_steps", jnp.zeros(sampler.chains, int))
            depth = getattr(info, "num_trajectory_expansions", jnp.zeros(sampler.chains, int))
            out = dict(position=states.position, lp=states.logdensity, energy=info.energy,
                       acceptance_rate=info.acceptance_rate, diverging=info.is_divergent, n_steps=n_steps,
                       tree_depth=depth)
            return states, out

        return lax.scan(body, states, jnp.arange(n))

    return jax.jit(run, static_argnums=(4,))


def _save_checkpoint(path, **arrays):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _describe(u, chain, posterior):
    values = posterior.from_unconstrained({n: v[chain] for n, v in u.items()})
    return ", ".join(f"{n}={float(v):.4g}" for n, v in values.items())


def run_sampler(posterior, sampler, out_dir=None, resume=False, progress=True):
    """Sample a Posterior with the method of ``sampler`` (a SamplerSpec).

    Parameters
    ----------
    posterior : Posterior
    sampler : SamplerSpec
    out_dir : str, optional
        Where checkpoints go (BlackJAX methods); none are written without it.
    resume : bool
        Continue from ``out_dir``'s checkpoint, if it was written by the same spec,
        method and code version.
    progress : bool

    Returns
    -------
    result : RunResult
    """
    if sampler.method == "numpyro-nuts":
        return _run_numpyro(posterior, sampler, progress)
    from tqdm.auto import tqdm

    potential, _, _ = posterior.potential()

    def logdensity(u):
        return -potential(u)

    key = jax.random.PRNGKey(sampler.seed)
    k_init, k_warm, k_sample = jax.random.split(key, 3)
    digest = f"{posterior.spec.digest()}-{posterior.model.config.digest()}-{__version__}-{sampler.method}"
    ckpt = None if out_dir is None else os.path.join(out_dir, CHECKPOINT_NAME)
    u0, imm0 = initial_positions(posterior, sampler, k_init, potential)
    names = sorted(u0)
    algorithm, extra = _algorithm(sampler)
    d = len(names)
    template = jax.vmap(algorithm(logdensity, step_size=1.0, inverse_mass_matrix=jnp.ones(d), **extra).init)(u0)
    treedef = jax.tree_util.tree_structure(template)
    saved = None
    if resume and ckpt and os.path.isfile(ckpt):
        with np.load(ckpt, allow_pickle=False) as f:
            saved = {k: f[k] for k in f.files}
        if str(saved["digest"]) != digest:
            raise ValueError(f"{ckpt} was written by another spec, method or code version ({saved['digest']} != "
                             f"{digest}); start afresh without --resume")
    if saved is None:
        t0 = time.perf_counter()
        if progress:
            print(f"warmup: {sampler.warmup} steps x {sampler.chains} chains ({sampler.method}; one compiled scan, "
                  "no progress until it ends)", flush=True)
        states, params, n_grad_warm = _warmup(sampler, logdensity, jax.random.split(k_warm, sampler.chains), u0, imm0)
        jax.block_until_ready(states)
        warm_s = time.perf_counter() - t0
        done, draws, sampling_s, n_grad_samp = 0, {}, 0.0, 0
    else:
        leaves = [jnp.asarray(saved[f"state_{i}"]) for i in range(treedef.num_leaves)]
        states = jax.tree_util.tree_unflatten(treedef, leaves)
        params = dict(step_size=jnp.asarray(saved["step_size"]), inverse_mass_matrix=jnp.asarray(saved["imm"]))
        done = int(saved["done"])
        draws = {k[6:]: saved[k] for k in saved if k.startswith("draws_")}
        warm_s, sampling_s = float(saved["warmup_seconds"]), float(saved["sampling_seconds"])
        n_grad_warm, n_grad_samp = int(saved["n_grad_warmup"]), int(saved["n_grad_sampling"])
    step_size = np.asarray(params["step_size"])
    low = np.flatnonzero(step_size < sampler.step_size_floor)
    if low.size:
        c = int(low[0])
        raise SamplerStalled(f"chain {c}: adapted step size {step_size[c]:.2e} is below the floor "
                             f"{sampler.step_size_floor:g}; it sat at {_describe(states.position, c, posterior)}")

    def checkpoint():
        if ckpt is None:
            return
        os.makedirs(out_dir, exist_ok=True)
        arrays = {f"state_{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree_util.tree_leaves(states))}
        arrays.update({f"draws_{k}": v for k, v in draws.items()})
        _save_checkpoint(ckpt, digest=np.array(digest), done=np.array(done), step_size=np.asarray(params["step_size"]),
                         imm=np.asarray(params["inverse_mass_matrix"]), key=np.asarray(jax.random.key_data(k_sample)),
                         warmup_seconds=np.array(warm_s), sampling_seconds=np.array(sampling_s),
                         n_grad_warmup=np.array(n_grad_warm), n_grad_sampling=np.array(n_grad_samp), **arrays)

    if saved is None:
        checkpoint()
    chunk = _chunk_fn(sampler, logdensity)
    size = max(1, min(sampler.checkpoint_every, 50))
    bar = tqdm(total=sampler.samples, initial=done, desc=f"sampling ({sampler.chains} chains)", disable=not progress)
    since_checkpoint = 0
    while done < sampler.samples:
        n = min(size, sampler.samples - done)
        t0 = time.perf_counter()
        states, out = chunk(states, params, k_sample, jnp.asarray(done), n)
        out = jax.tree_util.tree_map(np.asarray, out)
        elapsed = time.perf_counter() - t0
        sampling_s += elapsed
        n_grad_samp += int(out["n_steps"].sum())
        for name in names:
            out[f"u_{name}"] = out["position"][name]
        out.pop("position")
        for k, v in out.items():
            v = np.swapaxes(v, 0, 1)  # (chains, n)
            draws[k] = v if k not in draws else np.concatenate([draws[k], v], axis=1)
        done += n
        since_checkpoint += n
        bar.update(n)
        if since_checkpoint >= sampler.checkpoint_every or done == sampler.samples:
            checkpoint()
            since_checkpoint = 0
        if elapsed / n > sampler.max_seconds_per_iteration:
            checkpoint()
            c = int(np.argmax(out["n_steps"].sum(axis=0)))
            raise SamplerStalled(f"iterations took {elapsed / n:.1f} s each (limit {sampler.max_seconds_per_iteration:g}"
                                 f" s); the slowest is chain {c} ({int(out['n_steps'][:, c].mean())} integration "
                                 f"steps per iteration), at {_describe(states.position, c, posterior)}")
    bar.close()
    u = {n: jnp.asarray(draws[f"u_{n}"]) for n in names}
    post = {n: np.asarray(v) for n, v in posterior.from_unconstrained(u).items()}
    stats = {k: draws[k] for k in _STATS}
    stats["step_size"] = np.broadcast_to(step_size[:, None], stats["lp"].shape).copy()
    return RunResult(post, stats, warm_s, sampling_s, n_grad_warm, n_grad_samp, sampler.method)


def _run_numpyro(posterior, sampler, progress):
    from numpyro.infer import MCMC, NUTS

    potential, _, _ = posterior.potential()
    key = jax.random.PRNGKey(sampler.seed)
    k_init, k_run = jax.random.split(key)
    u0, _ = initial_positions(posterior, sampler, k_init, potential)
    kernel = NUTS(posterior.numpyro_model, dense_mass=sampler.dense_mass, target_accept_prob=sampler.target_accept,
                  max_tree_depth=sampler.max_tree_depth)
    mcmc = MCMC(kernel, num_warmup=sampler.warmup, num_samples=sampler.samples, num_chains=sampler.chains,
                chain_method="vectorized", progress_bar=progress)
    fields = ("diverging", "energy", "num_steps", "accept_prob", "potential_energy", "adapt_state.step_size")
    t0 = time.perf_counter()
    mcmc.warmup(k_run, init_params=u0, extra_fields=("num_steps",), collect_warmup=True)
    n_grad_warm = int(np.sum(np.asarray(mcmc.get_extra_fields()["num_steps"])))
    step_size = np.asarray(mcmc.post_warmup_state.adapt_state.step_size)
    warm_s = time.perf_counter() - t0
    low = np.flatnonzero(np.atleast_1d(step_size) < sampler.step_size_floor)
    if low.size:
        raise SamplerStalled(f"chain {int(low[0])}: adapted step size {np.atleast_1d(step_size)[low[0]]:.2e} is below "
                             f"the floor {sampler.step_size_floor:g}")
    t0 = time.perf_counter()
    mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=fields)
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    sampling_s = time.perf_counter() - t0
    ex = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    post = {n: np.asarray(samples[n]) for n in posterior.free}
    n_steps = ex["num_steps"]
    stats = dict(lp=-ex["potential_energy"], energy=ex["energy"], acceptance_rate=ex["accept_prob"],
                 diverging=ex["diverging"], n_steps=n_steps,
                 tree_depth=np.floor(np.log2(np.maximum(n_steps, 1))).astype(int) + 1,
                 step_size=ex["adapt_state.step_size"])
    return RunResult(post, stats, warm_s, sampling_s, n_grad_warm, int(n_steps.sum()), sampler.method)
